"""Registry lists stored for campaign-wide checks (``convoy registry check --all``)

Revision ID: 0002
Revises: 0001
Created: 2026-12-02 (registry_source, registry_entry)
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.db

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("loaded_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("repeated", sa.Integer(), nullable=False),
        sa.Column("conflicting", sa.Integer(), nullable=False),
        sa.Column("bad_rows", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )
    op.create_table(
        "registry_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("id_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["registry_source.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("registry_entry", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registry_entry_id_number"), ["id_number"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_registry_entry_source_id"), ["source_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("registry_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registry_entry_source_id"))
        batch_op.drop_index(batch_op.f("ix_registry_entry_id_number"))

    op.drop_table("registry_entry")
    op.drop_table("registry_source")
