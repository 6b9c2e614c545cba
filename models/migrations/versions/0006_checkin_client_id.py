"""Check-ins carry the id the reporting phone made, unique: an offline queue sends each once

Revision ID: 0006
Revises: 0005
Created: 2026-12-06 (checkin.client_id)
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("client_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True)
        )
        batch_op.create_unique_constraint(batch_op.f("uq_checkin_client_id"), ["client_id"])


def downgrade() -> None:
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_checkin_client_id"), type_="unique")
        batch_op.drop_column("client_id")
