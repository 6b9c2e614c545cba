"""Revision 0004 keeps the vehicle passes filed before it: each application's plate and type
become its vehicle 1, and its pass belongs to that vehicle."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import text

from config import Settings
from models.db import alembic_config, get_engine, import_table_modules, session_scope
from models.permits.queries import get_application
from models.permits.records import permit_record


def test_single_plate_applications_keep_their_data(settings: Settings) -> None:
    import_table_modules()
    engine = get_engine(settings)
    at = datetime(2020, 2, 20, 1, tzinfo=UTC).replace(tzinfo=None)
    with engine.connect() as conn:
        command.upgrade(alembic_config(conn), "0003")
        conn.execute(
            text(
                "INSERT INTO permit_application (id, number, enterprise, contact_name, "
                "contact_phone, plate, vehicle_type, site_name, site_address, site_lat, "
                "site_lon, waypoints, requested_from, requested_until, status, reason, "
                "applied_at, status_changed_at) VALUES (1, 'TX-20200220-0001', '宁波建工', "
                "'王经理', '13812345678', '浙BD12345', '渣土车', '北仑工地', '', 29.9, 121.8, "
                "'[]', '2020-02-20', '2020-03-31', 'issued', '', :at, :at), (2, "
                "'TX-20200220-0002', '宁波建工', '', '', '浙B54321', '搅拌车', '北仑工地', '', "
                "29.9, 121.8, '[]', '2020-02-20', '2020-03-31', 'applied', '', :at, :at)"
            ),
            {"at": at},
        )
        conn.execute(
            text(
                "INSERT INTO permit (application_id, number, issued_at, valid_from, valid_until, "
                "status, delivered_to) VALUES (1, 'TX-20200220-0001', :at, :at, :at, 'issued', '')"
            ),
            {"at": at},
        )
        conn.commit()
        command.upgrade(alembic_config(conn), "head")
        conn.commit()
    with session_scope() as s:
        issued = permit_record(s, get_application(s, "TX-20200220-0001"))
        filed = permit_record(s, get_application(s, 2))
    assert issued["plate"] == "浙BD12345" and issued["vehicle_type"] == "渣土车"
    assert [(p["number"], p["plate"]) for p in issued["passes"]] == [
        ("TX-20200220-0001", "浙BD12345")
    ]
    assert filed["vehicles"][0]["plate"] == "浙B54321" and filed["passes"] == []
    assert issued["project"] == ""
