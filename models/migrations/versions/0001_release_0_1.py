"""Release 0.1: the schema its create_all made

Revision ID: 0001
Revises:
Created: 2026-12-02 (the tables release 0.1 made with create_all)
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.db

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("city", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaign_name"), ["name"], unique=True)

    op.create_table(
        "enterprise",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("norm_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("contact_phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("address", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("district", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("notify_url", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enterprise_name"), ["name"], unique=True)
        batch_op.create_index(batch_op.f("ix_enterprise_norm_name"), ["norm_name"], unique=False)

    op.create_table(
        "escort",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("badge", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("unit", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("notify_url", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("escort", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_escort_badge"), ["badge"], unique=True)

    op.create_table(
        "monitor_lease",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("holder", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("started_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("heartbeat_at", models.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "tracking_cursor",
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("position_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "convoy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("mode", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("vehicle", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("origin_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("origin_lat", sa.Float(), nullable=False),
        sa.Column("origin_lon", sa.Float(), nullable=False),
        sa.Column("origin_adcode", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("destination_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("destination_lat", sa.Float(), nullable=False),
        sa.Column("destination_lon", sa.Float(), nullable=False),
        sa.Column("destination_adcode", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("waypoints", sa.JSON(), nullable=True),
        sa.Column("planned_departure", models.db.UTCDateTime(), nullable=False),
        sa.Column("planned_arrival", models.db.UTCDateTime(), nullable=False),
        sa.Column("actual_departure", models.db.UTCDateTime(), nullable=True),
        sa.Column("actual_arrival", models.db.UTCDateTime(), nullable=True),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("stage_changed_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("notes", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("convoy", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_convoy_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_convoy_code"), ["code"], unique=True)
        batch_op.create_index(batch_op.f("ix_convoy_stage"), ["stage"], unique=False)

    op.create_table(
        "permit_application",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=True),
        sa.Column("enterprise", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("contact_phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("plate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("vehicle_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("site_name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("site_address", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("site_lat", sa.Float(), nullable=False),
        sa.Column("site_lon", sa.Float(), nullable=False),
        sa.Column("waypoints", sa.JSON(), nullable=True),
        sa.Column("requested_from", sa.Date(), nullable=False),
        sa.Column("requested_until", sa.Date(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("applied_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("status_changed_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaign.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("permit_application", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_permit_application_applied_at"), ["applied_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_permit_application_campaign_id"), ["campaign_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_permit_application_plate"), ["plate"], unique=False)
        batch_op.create_index(batch_op.f("ix_permit_application_status"), ["status"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("active_key", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("opened_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("acknowledged_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("acknowledged_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("snoozed_until", models.db.UTCDateTime(), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("escalated_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("resolved_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("resolved_by", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("resolve_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("active_key"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_convoy_id"), ["convoy_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_state"), ["state"], unique=False)

    op.create_table(
        "announcement",
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.PrimaryKeyConstraint("convoy_id", "name"),
    )
    op.create_table(
        "assignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("escort_id", sa.Integer(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.ForeignKeyConstraint(
            ["escort_id"],
            ["escort.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("convoy_id", "escort_id"),
    )
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assignment_convoy_id"), ["convoy_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assignment_escort_id"), ["escort_id"], unique=False)

    op.create_table(
        "checkin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("escort_id", sa.Integer(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("recorded_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.ForeignKeyConstraint(
            ["escort_id"],
            ["escort.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkin_convoy_id"), ["convoy_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_checkin_kind"), ["kind"], unique=False)

    op.create_table(
        "device",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("escort_id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("battery", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.ForeignKeyConstraint(
            ["escort_id"],
            ["escort.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_convoy_id"), ["convoy_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_device_id"), ["device_id"], unique=True)
        batch_op.create_index(batch_op.f("ix_device_escort_id"), ["escort_id"], unique=False)

    op.create_table(
        "device_report",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("bearing", sa.Float(), nullable=True),
        sa.Column("altitude", sa.Float(), nullable=True),
        sa.Column("accuracy", sa.Float(), nullable=True),
        sa.Column("battery", sa.Float(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("received_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("device_report", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_report_convoy_id"), ["convoy_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_device_report_device_id"), ["device_id"], unique=False)

    op.create_table(
        "outbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dedupe_key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=True),
        sa.Column("escort_id", sa.Integer(), nullable=True),
        sa.Column("alert_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recipient_label", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("locale", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("body", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("lease_until", models.db.UTCDateTime(), nullable=True),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("sent_at", models.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.ForeignKeyConstraint(
            ["escort_id"],
            ["escort.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_message_alert_id"), ["alert_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_message_convoy_id"), ["convoy_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_message_dedupe_key"), ["dedupe_key"], unique=True
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_message_escort_id"), ["escort_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_message_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_outbox_message_kind"), ["kind"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_message_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_message_status"), ["status"], unique=False)

    op.create_table(
        "passenger",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("seat", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("id_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("employer", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=True),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("health_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nat_result", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nat_time", models.db.UTCDateTime(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("entry_applied", sa.Boolean(), nullable=False),
        sa.Column("custody", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("custody_reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("custody_location", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("custody_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("extra", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("convoy_id", "id_number"),
        sa.UniqueConstraint("convoy_id", "seat"),
    )
    with op.batch_alter_table("passenger", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_passenger_convoy_id"), ["convoy_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_passenger_custody"), ["custody"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_passenger_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_passenger_id_number"), ["id_number"], unique=False)

    op.create_table(
        "permit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("issued_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("valid_from", models.db.UTCDateTime(), nullable=False),
        sa.Column("valid_until", models.db.UTCDateTime(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("delivered_at", models.db.UTCDateTime(), nullable=True),
        sa.Column("delivered_to", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["permit_application.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("permit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_permit_valid_until"), ["valid_until"], unique=False)

    op.create_table(
        "permit_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("from_status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("to_status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["permit_application.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id", "seq"),
    )
    with op.batch_alter_table("permit_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_permit_event_application_id"), ["application_id"], unique=False
        )

    op.create_table(
        "position",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("recorded_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("convoy_id", "at", "source"),
    )
    with op.batch_alter_table("position", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_position_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_position_convoy_id"), ["convoy_id"], unique=False)

    op.create_table(
        "registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enterprise_id", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("id_number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("health_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nat_result", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nat_time", models.db.UTCDateTime(), nullable=True),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("created_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.ForeignKeyConstraint(
            ["enterprise_id"],
            ["enterprise.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("enterprise_id", "id_number"),
    )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_convoy_id"), ["convoy_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_registration_enterprise_id"), ["enterprise_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_registration_id_number"), ["id_number"], unique=False)

    op.create_table(
        "stage_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("recorded_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("flow_run_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("convoy_id", "stage"),
    )
    with op.batch_alter_table("stage_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_stage_run_convoy_id"), ["convoy_id"], unique=False)

    op.create_table(
        "track_state",
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("last_fix_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("speed_kmh", sa.Float(), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("along_km", sa.Float(), nullable=False),
        sa.Column("off_route_km", sa.Float(), nullable=False),
        sa.Column("remaining_km", sa.Float(), nullable=False),
        sa.Column("remaining_min", sa.Float(), nullable=False),
        sa.Column("eta", models.db.UTCDateTime(), nullable=False),
        sa.Column("still_since", models.db.UTCDateTime(), nullable=False),
        sa.Column("observed_kmh", sa.Float(), nullable=True),
        sa.Column("last_position_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", models.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.PrimaryKeyConstraint("convoy_id"),
    )
    op.create_table(
        "alert_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alert.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_event_alert_id"), ["alert_id"], unique=False)

    op.create_table(
        "custody_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("passenger_id", sa.Integer(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("stage", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("from_state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("to_state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.ForeignKeyConstraint(
            ["passenger_id"],
            ["passenger.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("passenger_id", "to_state"),
    )
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_custody_event_convoy_id"), ["convoy_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_custody_event_passenger_id"), ["passenger_id"], unique=False
        )

    op.create_table(
        "screening_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("passenger_id", sa.Integer(), nullable=False),
        sa.Column("checkpoint", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("location", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=True),
        sa.Column("retemperature", sa.Float(), nullable=True),
        sa.Column("nat_result", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("nat_time", models.db.UTCDateTime(), nullable=True),
        sa.Column("health_code", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.ForeignKeyConstraint(
            ["passenger_id"],
            ["passenger.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("passenger_id", "checkpoint"),
    )
    with op.batch_alter_table("screening_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_screening_result_convoy_id"), ["convoy_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_screening_result_passenger_id"), ["passenger_id"], unique=False
        )

    op.create_table(
        "verification_result",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("convoy_id", sa.Integer(), nullable=False),
        sa.Column("passenger_id", sa.Integer(), nullable=False),
        sa.Column("at", models.db.UTCDateTime(), nullable=False),
        sa.Column("outcome", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("category", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["convoy_id"],
            ["convoy.id"],
        ),
        sa.ForeignKeyConstraint(
            ["passenger_id"],
            ["passenger.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("passenger_id"),
    )
    with op.batch_alter_table("verification_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_verification_result_convoy_id"), ["convoy_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("verification_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_result_convoy_id"))

    op.drop_table("verification_result")
    with op.batch_alter_table("screening_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_screening_result_passenger_id"))
        batch_op.drop_index(batch_op.f("ix_screening_result_convoy_id"))

    op.drop_table("screening_result")
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_custody_event_passenger_id"))
        batch_op.drop_index(batch_op.f("ix_custody_event_convoy_id"))

    op.drop_table("custody_event")
    with op.batch_alter_table("alert_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_event_alert_id"))

    op.drop_table("alert_event")
    op.drop_table("track_state")
    with op.batch_alter_table("stage_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stage_run_convoy_id"))

    op.drop_table("stage_run")
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_registration_id_number"))
        batch_op.drop_index(batch_op.f("ix_registration_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_registration_convoy_id"))

    op.drop_table("registration")
    with op.batch_alter_table("position", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_position_convoy_id"))
        batch_op.drop_index(batch_op.f("ix_position_at"))

    op.drop_table("position")
    with op.batch_alter_table("permit_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_permit_event_application_id"))

    op.drop_table("permit_event")
    with op.batch_alter_table("permit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_permit_valid_until"))

    op.drop_table("permit")
    with op.batch_alter_table("passenger", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_passenger_id_number"))
        batch_op.drop_index(batch_op.f("ix_passenger_enterprise_id"))
        batch_op.drop_index(batch_op.f("ix_passenger_custody"))
        batch_op.drop_index(batch_op.f("ix_passenger_convoy_id"))

    op.drop_table("passenger")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_kind"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_key"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_escort_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_dedupe_key"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_convoy_id"))
        batch_op.drop_index(batch_op.f("ix_outbox_message_alert_id"))

    op.drop_table("outbox_message")
    with op.batch_alter_table("device_report", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_report_device_id"))
        batch_op.drop_index(batch_op.f("ix_device_report_convoy_id"))

    op.drop_table("device_report")
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_escort_id"))
        batch_op.drop_index(batch_op.f("ix_device_device_id"))
        batch_op.drop_index(batch_op.f("ix_device_convoy_id"))

    op.drop_table("device")
    with op.batch_alter_table("checkin", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkin_kind"))
        batch_op.drop_index(batch_op.f("ix_checkin_convoy_id"))

    op.drop_table("checkin")
    with op.batch_alter_table("assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assignment_escort_id"))
        batch_op.drop_index(batch_op.f("ix_assignment_convoy_id"))

    op.drop_table("assignment")
    op.drop_table("announcement")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_state"))
        batch_op.drop_index(batch_op.f("ix_alert_kind"))
        batch_op.drop_index(batch_op.f("ix_alert_convoy_id"))

    op.drop_table("alert")
    with op.batch_alter_table("permit_application", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_permit_application_status"))
        batch_op.drop_index(batch_op.f("ix_permit_application_plate"))
        batch_op.drop_index(batch_op.f("ix_permit_application_campaign_id"))
        batch_op.drop_index(batch_op.f("ix_permit_application_applied_at"))

    op.drop_table("permit_application")
    with op.batch_alter_table("convoy", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_convoy_stage"))
        batch_op.drop_index(batch_op.f("ix_convoy_code"))
        batch_op.drop_index(batch_op.f("ix_convoy_campaign_id"))

    op.drop_table("convoy")
    op.drop_table("tracking_cursor")
    op.drop_table("monitor_lease")
    with op.batch_alter_table("escort", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escort_badge"))

    op.drop_table("escort")
    with op.batch_alter_table("enterprise", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enterprise_norm_name"))
        batch_op.drop_index(batch_op.f("ix_enterprise_name"))

    op.drop_table("enterprise")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_campaign_name"))

    op.drop_table("campaign")
