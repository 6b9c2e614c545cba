"""Plain domain logic and SQLModel tables, one package per domain; no Prefect here."""
