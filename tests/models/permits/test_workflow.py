"""Vehicle passes (通行证): lifecycle, plates, bulk extension, same-day service, masking."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from config import Settings
from models.convoy.store import upsert_campaign
from models.db import session_scope
from models.errors import NotFoundError, TransitionError, ValidationError
from models.geo.datums import gcj02_to_wgs84
from models.permits.workflow import (
    PermitEvent,
    PermitStatus,
    Via,
    apply_for_permit,
    deliver_permit,
    effective_status,
    extend_permits,
    get_application,
    get_permit,
    issue_permit,
    normalise_plate,
    permit_record,
    plan_route,
    plate_problem,
    reject_application,
    same_day_stats,
    step_state,
    survey_site,
    validate_plate,
)
from models.views.reports import campaign_figures
from tests.conftest import SHANGHAI

T0 = datetime(2020, 2, 20, 9, 0, tzinfo=SHANGHAI)
PHONE = "13812345678"


def apply(plate: str = "浙B12345", at: datetime = T0, **kw: Any) -> str:
    fields: dict[str, Any] = {
        "enterprise": "宁波建工集团有限公司",
        "contact_name": "王经理",
        "contact_phone": PHONE,
        "vehicle_type": "渣土车",
        "site_name": "北仑工地",
        "place": "北仑",
        "valid_until": date(2020, 3, 31),
        "at": at,
        **kw,
    }
    with session_scope() as s:
        return apply_for_permit(s, plate=plate, **fields).number


def through(number: str, last: str, at: datetime = T0, step: timedelta | None = None) -> None:
    """Take an application through the officer's steps up to ``last``."""
    step = step or timedelta(minutes=30)
    t = at
    with session_scope() as s:
        for name in ("survey", "route", "issue", "deliver"):
            t += step
            if name == "survey":
                survey_site(s, number, ok=True, at=t)
            elif name == "route":
                plan_route(s, number, ["宁波站", Via("北仑港区", 29.93, 121.85)], at=t)
            elif name == "issue":
                issue_permit(s, number, at=t)
            else:
                deliver_permit(s, number, to="王经理", at=t)
            if name == last:
                return


# --------------------------------------------------------------------------- plates

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
ALNUM = LETTERS + "0123456789"
DIGITS = "0123456789"


def chars(alphabet: str, n: int) -> st.SearchStrategy[str]:
    return st.text(alphabet=alphabet, min_size=n, max_size=n)


ordinary = st.builds(
    lambda p, c, body, last: p + c + body + last,
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    chars(ALNUM, 4),
    st.sampled_from([*ALNUM, "挂", "学"]),
)
small_nev = st.builds(
    lambda p, c, kind, x, digits: p + c + kind + x + digits,
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    st.sampled_from("DF"),
    st.sampled_from(ALNUM),
    chars(DIGITS, 4),
)
large_nev = st.builds(
    lambda p, c, digits, kind: p + c + digits + kind,
    st.sampled_from(PROVINCES),
    st.sampled_from(LETTERS),
    chars(DIGITS, 5),
    st.sampled_from("DF"),
)
valid_plates = st.one_of(ordinary, small_nev, large_nev)


@given(valid_plates, st.sampled_from(["", " ", "·", "-"]), st.booleans())
def test_valid_plates_are_accepted_however_written(plate: str, sep: str, lower: bool) -> None:
    written = plate[:2] + sep + plate[2:]
    written = written.lower() if lower else written
    assert validate_plate(written) == plate
    assert len(plate) in (7, 8)


@given(valid_plates, st.integers(min_value=2), st.sampled_from("IO"))
def test_plates_never_have_i_or_o(plate: str, pos: int, letter: str) -> None:
    i = 2 + pos % (len(plate) - 2)
    assert plate_problem(plate[:i] + letter + plate[i + 1 :]) is not None


@given(st.text(max_size=12))
def test_validator_is_total_and_agrees_with_itself(text: str) -> None:
    plate = normalise_plate(text)
    problem = plate_problem(plate)
    if problem is None:
        assert validate_plate(text) == plate
    else:
        with pytest.raises(
            ValidationError, match=r"^The plate number .* is not valid: .+\.$"
        ) as exc:
            validate_plate(text)
        assert len(str(exc.value).splitlines()) == 1  # one line on the terminal


@pytest.mark.parametrize(
    "plate",
    ["浙B1234", "浙B123456789", "B123456", "浙12345B", "浙BI2345", "浙B1234D5",
     "浙B12345G", "浙BDO1234", "A浙12345", ""],
)  # fmt: skip
def test_invalid_plates_are_refused(plate: str) -> None:
    with pytest.raises(ValidationError):
        validate_plate(plate)


def test_known_plates() -> None:
    assert validate_plate("浙B·D12345") == "浙BD12345"  # small new-energy
    assert validate_plate("粤B 12345F") == "粤B12345F"  # large new-energy
    assert validate_plate("浙ｂ1234挂") == "浙B1234挂"  # trailer, full-width letter


# --------------------------------------------------------------------------- lifecycle


def test_lifecycle_to_delivered_with_events(settings: Settings) -> None:
    n = apply(crs="wgs84")
    assert n == "TX-20200220-0001"
    with session_scope() as s:
        assert [step_state(get_application(s, n), k) for k in ("survey", "deliver")] == [
            "waiting",
            "waiting",
        ]
    through(n, "deliver")
    with session_scope() as s:
        app = get_application(s, n)
        permit = get_permit(s, app)
        assert app.status == PermitStatus.DELIVERED and permit is not None
        assert permit.number == n and permit.delivered_to == "王经理"
        assert permit.valid_from == datetime(2020, 2, 20, tzinfo=SHANGHAI)
        assert permit.valid_until.astimezone(SHANGHAI).date() == date(2020, 3, 31)
        assert permit.issued_at.tzinfo is not None and permit.valid_until.tzinfo is not None
        events = s.execute(select(PermitEvent).order_by(PermitEvent.seq)).scalars().all()
        assert [(e.from_status, e.to_status) for e in events] == [
            ("", "applied"),
            ("applied", "surveyed"),
            ("surveyed", "route_planned"),
            ("route_planned", "issued"),
            ("issued", "delivered"),
        ]
        assert all(step_state(app, k) == "done" for k in ("survey", "route", "issue", "deliver"))
        # the route: the waypoints, then the site
        assert app.route()[0] != app.route()[-1] == (app.site_lat, app.site_lon)
        assert effective_status(app, permit, T0) is PermitStatus.DELIVERED
        after = datetime(2020, 4, 1, 0, 0, tzinfo=SHANGHAI)
        assert effective_status(app, permit, after) is PermitStatus.EXPIRED
        assert effective_status(app, permit, after - timedelta(seconds=1)) == "delivered"


@pytest.mark.parametrize(
    ("done", "action", "message"),
    [
        ("", lambda s, n: issue_permit(s, n), "is applied; it can only be issued when it is"),
        ("", lambda s, n: deliver_permit(s, n, to="x"), "it can only be delivered when"),
        ("survey", lambda s, n: survey_site(s, n, ok=True), "can only be surveyed when"),
        ("issue", lambda s, n: reject_application(s, n, "too late"), "can only be rejected"),
        ("issue", lambda s, n: plan_route(s, n, ["宁波站"]), "can only be routed when"),
        ("deliver", lambda s, n: deliver_permit(s, n, to="x"), "is delivered; it can only"),
    ],
)
def test_steps_out_of_order_are_refused(
    settings: Settings, done: str, action: Any, message: str
) -> None:
    n = apply()
    if done:
        through(n, done)
    with session_scope() as s, pytest.raises(TransitionError, match=message) as exc:
        action(s, n)
    assert str(exc.value).endswith(".")


def test_rejection_needs_a_reason_and_ends_the_application(settings: Settings) -> None:
    n = apply()
    with session_scope() as s, pytest.raises(ValidationError, match="needs the reason"):
        survey_site(s, n, ok=False)
    with session_scope() as s:
        survey_site(s, n, ok=False, note="site entrance too narrow for the truck", at=T0)
    with session_scope() as s:
        app = get_application(s, n)
        assert app.status == "rejected" and app.reason.startswith("site entrance")
        assert step_state(app, "survey") == "rejected"
    with session_scope() as s, pytest.raises(TransitionError):
        survey_site(s, n, ok=True)
    # a rejected application no longer blocks a new one for the same truck
    assert apply(at=T0 + timedelta(hours=1)) != n


def test_route_can_be_planned_again_until_issued(settings: Settings) -> None:
    n = apply()
    through(n, "route")
    with session_scope() as s:
        app = plan_route(s, n, [Via("入口", 29.93, 121.85, "gcj02")], at=T0 + timedelta(hours=3))
        assert app.waypoints[0]["lat"] == pytest.approx(gcj02_to_wgs84(29.93, 121.85)[0])
        assert len(app.waypoints) == 1


def test_application_input_rules(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="not a mainland mobile"):
        apply(contact_phone="12345")
    with pytest.raises(ValidationError, match="before it starts"):
        apply(valid_from=date(2020, 3, 5), valid_until=date(2020, 3, 1))
    with pytest.raises(ValidationError, match="has no time zone"):
        apply(at=datetime(2020, 2, 20, 9, 0))
    with pytest.raises(ValidationError, match=r"place .* or its latitude"):
        apply(place=None)
    with pytest.raises(NotFoundError, match="no campaign"):
        apply(campaign="nope")
    # a point in GCJ-02 is stored in WGS-84
    n = apply(place=None, lat=29.90, lon=121.84, crs="gcj02")
    with session_scope() as s:
        app = get_application(s, n)
        assert (app.site_lat, app.site_lon) == pytest.approx(gcj02_to_wgs84(29.90, 121.84))
    with pytest.raises(ValidationError, match="already has an open application"):
        apply()
    with session_scope() as s, pytest.raises(NotFoundError, match="no vehicle-pass application"):
        get_application(s, "TX-20200220-0099")
    with session_scope() as s, pytest.raises(ValidationError, match="before its last recorded"):
        survey_site(s, n, ok=True, at=T0 - timedelta(minutes=1))


# --------------------------------------------------------------------------- bulk extension


def test_bulk_extension_is_one_idempotent_change(settings: Settings) -> None:
    now = datetime(2020, 3, 25, 10, 0, tzinfo=SHANGHAI)
    soon = apply("浙B10001", valid_until=date(2020, 3, 27))
    later = apply("浙B10002", valid_until=date(2020, 4, 30))
    gone = apply("浙B10003", valid_until=date(2020, 3, 20))
    pending = apply("浙B10004", valid_until=date(2020, 3, 26))
    for n in (soon, later, gone):
        through(n, "deliver")
    through(pending, "route")
    with session_scope() as s:
        changed = extend_permits(s, date(2020, 4, 15), expiring_within_days=3, now=now)
    assert changed == [
        {"number": soon, "plate": "浙B10001", "from": "2020-03-27", "to": "2020-04-15"}
    ]
    with session_scope() as s:
        assert extend_permits(s, date(2020, 4, 15), expiring_within_days=3, now=now) == []
        assert extend_permits(s, date(2020, 4, 15), numbers=[soon, later], now=now) == []
        events = s.execute(select(func.count()).where(PermitEvent.kind == "extended")).scalar_one()
        assert events == 1
        app = get_application(s, soon)
        assert permit_record(s, app, now=now)["valid_until"] == "2020-04-15"
    # all or nothing: one unknown number leaves every pass as it was
    with session_scope() as s, pytest.raises(NotFoundError):
        extend_permits(s, date(2020, 5, 1), numbers=[later, "TX-NOPE"], now=now)
    with session_scope() as s:
        assert permit_record(s, get_application(s, later))["valid_until"] == "2020-04-30"
    with session_scope() as s, pytest.raises(TransitionError, match="only an issued pass"):
        extend_permits(s, date(2020, 5, 1), numbers=[pending], now=now)
    with session_scope() as s, pytest.raises(ValidationError, match="either"):
        extend_permits(s, date(2020, 5, 1), now=now)
    with session_scope() as s, pytest.raises(ValidationError, match="already passed"):
        extend_permits(s, date(2020, 3, 1), expiring_within_days=3, now=now)


# --------------------------------------------------------------------------- same-day service


def test_same_day_is_the_local_day_across_midnight(settings: Settings) -> None:
    # 23:30 → 00:10 Shanghai: the same UTC day, but not the same local day.
    late = datetime(2020, 2, 20, 23, 30, tzinfo=SHANGHAI)
    a = apply("浙B20001", at=late)
    through(a, "deliver", at=late, step=timedelta(minutes=10))  # delivered 00:10 on the 21st
    # 00:10 → 23:50 Shanghai: different UTC days (16:10 and 15:50 UTC), the same local day.
    early = datetime(2020, 2, 21, 0, 10, tzinfo=SHANGHAI)
    b = apply("浙B20002", at=early)
    through(b, "deliver", at=early, step=timedelta(hours=5, minutes=55))
    with session_scope() as s:
        pa = get_permit(s, get_application(s, a))
        pb = get_permit(s, get_application(s, b))
        assert pa and pa.delivered_at and pb and pb.delivered_at
        assert pa.delivered_at.astimezone(UTC).date() == late.astimezone(UTC).date()
        assert pb.delivered_at.astimezone(UTC).date() != early.astimezone(UTC).date()
    # open applications: one filed today (at risk), one filed yesterday (overdue)
    now = datetime(2020, 2, 22, 20, 0, tzinfo=SHANGHAI)
    apply("浙B20003", at=datetime(2020, 2, 22, 8, 0, tzinfo=SHANGHAI))
    apply("浙B20004", at=datetime(2020, 2, 21, 23, 59, tzinfo=SHANGHAI))
    with session_scope() as s:
        stats = same_day_stats(s, now=now)
    assert (stats.delivered, stats.same_day, stats.rate) == (2, 1, 0.5)
    assert [r["plate"] for r in stats.at_risk] == ["浙B20003"]
    assert stats.at_risk[0]["hours_left"] == 4.0
    assert [r["plate"] for r in stats.overdue] == ["浙B20004"]
    assert stats.day == date(2020, 2, 22)


def test_campaign_figures_count_passes(settings: Settings) -> None:
    with session_scope() as s:
        before = campaign_figures(s)
        upsert_campaign(s, "宁波2020复工返岗")
    assert (before["passes_issued"], before["passes_same_day_rate"]) == (0, None)
    n = apply(campaign="宁波2020复工返岗")
    through(n, "deliver")
    other = apply("浙B30001")
    through(other, "issue")
    with session_scope() as s:
        mine = campaign_figures(s, "宁波2020复工返岗")
        everything = campaign_figures(s)
    assert (mine["passes_issued"], mine["passes_delivered"]) == (1, 1)
    assert mine["passes_same_day_rate"] == 1.0
    assert everything["passes_issued"] == 2
    for key in ("campaign", "trips", "officers_sent", "workers_escorted", "in_custody"):
        assert key in mine


# --------------------------------------------------------------------------- masking


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
