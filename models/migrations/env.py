"""Alembic's environment: the connection comes from ``models.db.migrate`` (never a URL from a
file), the target is every table of the application."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from models.db import import_table_modules

import_table_modules()
config = context.config
connection = config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
