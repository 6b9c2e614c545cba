"""The contact's phone is masked in every output."""

from __future__ import annotations

import json

import pytest

from config import Settings
from models.db import session_scope
from models.errors import ValidationError
from models.permits.queries import get_application
from models.permits.records import permit_record
from models.permits.stats import same_day_stats
from models.views.reports import campaign_figures
from tests.models.permits.conftest import PHONE, T0, apply, through


def test_phone_is_masked_in_every_output(settings: Settings) -> None:
    n = apply()
    through(n, "deliver")
    with session_scope() as s:
        app = get_application(s, n)
        out = json.dumps(
            [
                permit_record(s, app, events=True),
                same_day_stats(s, now=T0).as_dict(),
                campaign_figures(s),
            ],
            ensure_ascii=False,
            default=str,
        )
    assert PHONE not in out and "138****5678" in out
    with pytest.raises(ValidationError) as exc:
        apply("浙B40001", contact_phone="23812345678")
    assert "23812345678" not in str(exc.value)
