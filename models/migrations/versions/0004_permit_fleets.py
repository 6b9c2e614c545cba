"""Vehicle passes at the model's scale: many vehicles per application, one pass per vehicle,
delivery trips by major project

Revision ID: 0004
Revises: 0003
Created: 2026-12-06

Every application's plate and vehicle type move into its vehicle 1 (``permit_vehicle``) and an
issued pass is tied to that vehicle; an application may now have many passes (one per vehicle).
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op

import models.db

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    op.create_table(
        "permit_vehicle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("plate", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("vehicle_type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("driver", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("driver_phone", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(["application_id"], ["permit_application.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("application_id", "plate"),
        sa.UniqueConstraint("application_id", "seq"),
    )
    with op.batch_alter_table("permit_vehicle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_permit_vehicle_plate"), ["plate"], unique=False)
    op.create_table(
        "permit_trip",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("planned_at", models.db.UTCDateTime(), nullable=False),
        sa.Column("officer", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    with op.batch_alter_table("permit_trip", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_permit_trip_project"), ["project"], unique=False)

    # Each application's truck becomes its vehicle 1.
    op.execute(
        "INSERT INTO permit_vehicle (application_id, seq, plate, vehicle_type, driver, "
        "driver_phone) SELECT id, 1, plate, vehicle_type, '', '' FROM permit_application"
    )
    # Native ALTERs: SQLite cannot copy permit_application while other tables refer to it.
    dialect = op.get_bind().dialect.name
    op.add_column(
        "permit_application",
        sa.Column("project", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""),
    )
    op.create_index(
        op.f("ix_permit_application_project"), "permit_application", ["project"], unique=False
    )
    op.drop_index("ix_permit_application_plate", table_name="permit_application")
    if dialect == "sqlite":  # ALTER TABLE … DROP COLUMN (SQLite ≥ 3.35)
        op.execute("ALTER TABLE permit_application DROP COLUMN plate")
        op.execute("ALTER TABLE permit_application DROP COLUMN vehicle_type")
    else:
        op.drop_column("permit_application", "plate")
        op.drop_column("permit_application", "vehicle_type")
        op.alter_column("permit_application", "project", server_default=None)

    # An application may now have many passes: its one-pass constraint goes (when it is there).
    one_pass = [
        u
        for u in sa.inspect(op.get_bind()).get_unique_constraints("permit")
        if u["column_names"] == ["application_id"]
    ]
    if dialect == "postgresql":
        for u in one_pass:
            op.drop_constraint(str(u["name"]), "permit", type_="unique")
    with op.batch_alter_table("permit", schema=None, naming_convention=_NAMES) as batch_op:
        if dialect != "postgresql" and one_pass:
            batch_op.drop_constraint("uq_permit_application_id", type_="unique")
        batch_op.add_column(sa.Column("vehicle_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("trip_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_permit_application_id"), ["application_id"])
        batch_op.create_index(batch_op.f("ix_permit_trip_id"), ["trip_id"], unique=False)
        batch_op.create_unique_constraint("uq_permit_vehicle_id", ["vehicle_id"])
        batch_op.create_foreign_key(
            "fk_permit_vehicle_id_permit_vehicle", "permit_vehicle", ["vehicle_id"], ["id"]
        )
        batch_op.create_foreign_key(
            "fk_permit_trip_id_permit_trip", "permit_trip", ["trip_id"], ["id"]
        )
    # Each issued pass belongs to the vehicle 1 of its application.
    op.execute(
        "UPDATE permit SET vehicle_id = (SELECT v.id FROM permit_vehicle v "
        "WHERE v.application_id = permit.application_id AND v.seq = 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("permit", schema=None) as batch_op:
        batch_op.drop_constraint("fk_permit_trip_id_permit_trip", type_="foreignkey")
        batch_op.drop_constraint("fk_permit_vehicle_id_permit_vehicle", type_="foreignkey")
        batch_op.drop_constraint("uq_permit_vehicle_id", type_="unique")
        batch_op.drop_index(batch_op.f("ix_permit_trip_id"))
        batch_op.drop_index(batch_op.f("ix_permit_application_id"))
        batch_op.drop_column("trip_id")
        batch_op.drop_column("vehicle_id")
    for name in ("plate", "vehicle_type"):
        op.add_column(
            "permit_application",
            sa.Column(name, sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""),
        )
    op.execute(
        "UPDATE permit_application SET plate = (SELECT v.plate FROM permit_vehicle v WHERE "
        "v.application_id = permit_application.id AND v.seq = 1), vehicle_type = (SELECT "
        "v.vehicle_type FROM permit_vehicle v WHERE v.application_id = permit_application.id "
        "AND v.seq = 1)"
    )
    op.drop_index(op.f("ix_permit_application_project"), table_name="permit_application")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE permit_application DROP COLUMN project")
    else:
        op.drop_column("permit_application", "project")
    op.create_index("ix_permit_application_plate", "permit_application", ["plate"], unique=False)
    op.drop_table("permit_trip")
    op.drop_table("permit_vehicle")
