"""Alembic migrations of the application database (SQLite and PostgreSQL)."""
