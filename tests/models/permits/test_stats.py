"""Same-day service by the local day, and the campaign figures of the passes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from config import Settings
from models.convoy.store import upsert_campaign
from models.db import session_scope
from models.permits.queries import get_application, get_permit
from models.permits.stats import same_day_stats
from models.views.reports import campaign_figures
from tests.conftest import SHANGHAI
from tests.models.permits.conftest import apply, through


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
