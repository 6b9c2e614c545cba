"""People, rights and audit: users and their tokens, the append-only audit log, versions of
registrations

Revision ID: 0003
Revises: 0002
Created: 2026-12-02

The audit table's triggers (the database refuses to change or delete its rows) are the same as
``models.access.audit`` attaches to a database made new. Every registration already made
becomes its own version 1.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.db

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_REFUSAL = "The audit log is append-only: its rows are never changed or deleted."
_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
        "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event "
        f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger "
        f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$",
        "CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE OR TRUNCATE "
        "ON audit_event FOR EACH STATEMENT EXECUTE FUNCTION audit_event_append_only()",
    ],
}


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("actor_kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("via", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_event_action"), ["action"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_convoy_id"), ["convoy_id"], unique=False)
    for statement in _TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)

    op.create_table(
        "user_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("full_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("escort_id", sa.Integer(), nullable=True),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
        ),
        sa.ForeignKeyConstraint(
            ["escort_id"],
            ["escort.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_user_account_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_user_account_escort_id"), ["escort_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_user_account_name"), ["name"], unique=True)

    op.create_table(
        "user_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("expires_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["user_account.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("user_token", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_token_token_hash"), ["token_hash"], unique=True)
        batch_op.create_index(batch_op.f("ix_user_token_user_id"), ["user_id"], unique=False)

    op.create_table(
        "registration_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("health_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nat_result", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nat_time", models.db.UTCDateTime(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("submitted_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registration.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registration_id", "version"),
    )
    with op.batch_alter_table("registration_version", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_registration_version_registration_id"), ["registration_id"], unique=False
        )

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("updated_at", models.db.UTCDateTime(), nullable=True))
    op.execute(
        "INSERT INTO registration_version (registration_id, version, name, phone, origin, "
        "health_code, nat_result, nat_time, temperature, submitted_at) "
        "SELECT id, 1, name, phone, origin, health_code, nat_result, nat_time, temperature, "
        "created_at FROM registration"
    )


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("version")

    with op.batch_alter_table("registration_version", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_version_registration_id"))

    op.drop_table("registration_version")
    with op.batch_alter_table("user_token", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_token_user_id"))
        batch_op.drop_index(batch_op.f("ix_user_token_token_hash"))

    op.drop_table("user_token")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_account_name"))
        batch_op.drop_index(batch_op.f("ix_user_account_escort_id"))
        batch_op.drop_index(batch_op.f("ix_user_account_enterprise_id"))

    op.drop_table("user_account")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_event_convoy_id"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
        batch_op.drop_index(batch_op.f("ix_audit_event_actor"))
        batch_op.drop_index(batch_op.f("ix_audit_event_action"))

    op.drop_table("audit_event")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
