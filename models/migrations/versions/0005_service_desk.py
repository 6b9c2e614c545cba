"""The enterprise service desk: liaison officers, requests and consultations, staff checks

Revision ID: 0005
Revises: 0004
Created: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.db

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "desk_liaison",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=False),
        sa.Column("deputy_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deputy_id"],
            ["escort.id"],
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["escort.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enterprise_id"),
    )
    op.create_index(
        op.f("ix_desk_liaison_officer_id"), "desk_liaison", ["officer_id"], unique=False
    )
    op.create_table(
        "desk_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("contact_phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("officer_id", sa.Integer(), nullable=True),
        sa.Column("answer", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("passed_to", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("raised_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("due_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("status_changed_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("closed_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
        ),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["escort.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_index(
        op.f("ix_desk_request_campaign_id"), "desk_request", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_desk_request_enterprise_id"), "desk_request", ["enterprise_id"], unique=False
    )
    op.create_index(op.f("ix_desk_request_kind"), "desk_request", ["kind"], unique=False)
    op.create_index(op.f("ix_desk_request_raised_at"), "desk_request", ["raised_at"], unique=False)
    op.create_index(op.f("ix_desk_request_status"), "desk_request", ["status"], unique=False)
    op.create_table(
        "desk_staff_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("channel", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("read", sa.Integer(), nullable=False),
        sa.Column("checked", sa.Integer(), nullable=False),
        sa.Column("cleared", sa.Integer(), nullable=False),
        sa.Column("attention", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("by_reason", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_desk_staff_check_campaign_id"), "desk_staff_check", ["campaign_id"], unique=False
    )
    op.create_index(
        op.f("ix_desk_staff_check_enterprise_id"),
        "desk_staff_check",
        ["enterprise_id"],
        unique=False,
    )
    op.create_table(
        "desk_staff_check_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("id_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["check_id"],
            ["desk_staff_check.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("check_id", "row"),
    )
    op.create_index(
        op.f("ix_desk_staff_check_row_check_id"), "desk_staff_check_row", ["check_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_desk_staff_check_row_check_id"), table_name="desk_staff_check_row")
    op.drop_table("desk_staff_check_row")
    op.drop_index(op.f("ix_desk_staff_check_enterprise_id"), table_name="desk_staff_check")
    op.drop_index(op.f("ix_desk_staff_check_campaign_id"), table_name="desk_staff_check")
    op.drop_table("desk_staff_check")
    op.drop_index(op.f("ix_desk_request_status"), table_name="desk_request")
    op.drop_index(op.f("ix_desk_request_raised_at"), table_name="desk_request")
    op.drop_index(op.f("ix_desk_request_kind"), table_name="desk_request")
    op.drop_index(op.f("ix_desk_request_enterprise_id"), table_name="desk_request")
    op.drop_index(op.f("ix_desk_request_campaign_id"), table_name="desk_request")
    op.drop_table("desk_request")
    op.drop_index(op.f("ix_desk_liaison_officer_id"), table_name="desk_liaison")
    op.drop_table("desk_liaison")
