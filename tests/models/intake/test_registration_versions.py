"""Registrations keep every version: a known ID number with new details is a new version, the
same details again change nothing, and registrations made by release 0.1 become version 1."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import text

from config import Settings
from models.convoy.store import match_enterprise
from models.db import (
    alembic_config,
    dispose_engines,
    get_engine,
    import_table_modules,
    init_db,
    session_scope,
    utcnow,
)
from models.intake.identity import synthetic_id
from models.intake.registration import make_token, register_worker, signing_key, versions
from tests.conftest import ENTERPRISES


def test_resubmissions_make_versions(make_convoy: Callable[..., str], settings: Settings) -> None:
    make_convoy("BUS-V1", n=0)
    idn = synthetic_id(random.Random(4), "610526")
    with session_scope() as s:
        ent = match_enterprise(s, ENTERPRISES[0])
        assert ent is not None and ent.id is not None
        token = make_token(ent.id, utcnow() + timedelta(days=1), signing_key(settings))
        form = {"name": "王伟", "id_number": idn, "phone": "13812345678"}
        assert register_worker(s, token, form)[1] == "created"
        assert register_worker(s, token, form)[1] == "unchanged"
        reg, outcome = register_worker(s, token, {**form, "phone": "13912345678"})
        assert outcome == "new version" and reg.version == 2 and reg.phone == "13912345678"
        ((current, kept),) = versions(s, ent.id)
        assert current.id == reg.id
        assert [(v.version, v.phone) for v in kept] == [(1, "13812345678"), (2, "13912345678")]


def test_a_release_0_1_registration_becomes_version_1(settings: Settings) -> None:
    import_table_modules()
    with get_engine(settings).connect() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(
            text(
                "INSERT INTO enterprise (name, norm_name, contact_name, contact_phone, address, "
                "district, notify_url) VALUES ('老企业', '老企业', '', '', '', '', '')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO registration (enterprise_id, name, id_number, phone, origin, "
                "health_code, nat_result, created_at) VALUES (1, '李娜', :idn, '13612345678', "
                "'', '', '', :at)"
            ),
            {"idn": synthetic_id(random.Random(8), "610526"), "at": datetime(2020, 2, 1)},
        )
        conn.commit()
    dispose_engines()
    init_db(settings)
    with session_scope() as s:
        ((reg, kept),) = versions(s, 1)
    assert reg.version == 1 and [(v.version, v.name, v.phone) for v in kept] == [
        (1, "李娜", "13612345678")
    ]
    assert kept[0].submitted_at == datetime(2020, 2, 1, tzinfo=UTC)
