"""Per-convoy summaries: counts and times of each convoy, no personal data.

Plain SQL through ``models.dbapi.Rows``, so the same code serves the ORM's session (flows,
pages, ``convoy status``) and a bare driver connection (``convoy convoys`` starts without
SQLAlchemy). One query per figure for all the convoys asked for, never per convoy.
"""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from config import Settings, get_settings
from models.convoy.lifecycle import Census, Custody, Stage
from models.dbapi import Rows
from models.errors import unknown_convoy
from models.labels import labels as label_table
from models.labels import local_time

_CONVOY_COLUMNS = (
    "id", "code", "mode", "vehicle", "origin_name", "destination_name", "stage",
    "planned_departure", "actual_departure", "planned_arrival", "actual_arrival",
)  # fmt: skip


def _chosen(code: str | None, campaign: str | None) -> tuple[str, dict[str, Any]]:
    """The ``FROM … WHERE`` of the convoys asked for (``c`` is the convoy) and its parameters."""
    where, params = [], {}
    if code is not None:
        where.append("c.code = :code")
        params["code"] = code
    if campaign:
        where.append("c.campaign_id IN (SELECT id FROM campaign WHERE name = :campaign)")
        params["campaign"] = campaign
    return "FROM convoy c" + (" WHERE " + " AND ".join(where) if where else ""), params


def _utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware UTC datetime (SQLite's drivers give text, PostgreSQL's a
    datetime; both are stored in UTC)."""
    if value is None or value == "":
        return None
    at = datetime.fromisoformat(value) if isinstance(value, str) else value
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _counts(rows: Rows, table: str, chosen: str, params: dict[str, Any]) -> dict[int, int]:
    found = rows(
        f'SELECT t.convoy_id, COUNT(*) FROM "{table}" t '
        f"WHERE t.convoy_id IN (SELECT c.id {chosen}) GROUP BY t.convoy_id",
        params,
    )
    return {int(cid): int(n) for cid, n in found}


def stage_details(stage: dict[str, Any]) -> str:
    """What a completed stage of a summary counted, as text: ``present 988, absent 28``."""
    return ", ".join(f"{k} {v}" for k, v in stage.items() if k not in ("stage", "label", "at"))


def convoy_summaries(
    rows: Rows,
    *,
    code: str | None = None,
    campaign: str | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """The summary of every convoy (of ``campaign`` if given; only ``code`` if given), in order
    of planned departure then code. An unknown ``code`` is a ``NotFoundError`` naming close
    matches; an unknown campaign has no convoys."""
    settings = settings or get_settings()
    chosen, params = _chosen(code, campaign)
    convoys = rows(
        f"SELECT {', '.join('c.' + n for n in _CONVOY_COLUMNS)} {chosen} "
        "ORDER BY c.planned_departure, c.code",
        params,
    )
    if code is not None and not convoys:
        raise unknown_convoy(code, (r[0] for r in rows("SELECT code FROM convoy", {})))
    by_state: dict[int, dict[Custody, int]] = defaultdict(dict)
    for cid, state, n in rows(
        "SELECT p.convoy_id, p.custody, COUNT(*) FROM passenger p "
        f"WHERE p.convoy_id IN (SELECT c.id {chosen}) GROUP BY p.convoy_id, p.custody "
        "ORDER BY p.convoy_id, p.custody",
        params,
    ):
        by_state[int(cid)][Custody(state)] = int(n)
    runs: dict[int, list[tuple[str, Any, Any]]] = defaultdict(list)
    for cid, stage, at, summary in rows(
        "SELECT r.convoy_id, r.stage, r.at, r.summary FROM stage_run r "
        f"WHERE r.convoy_id IN (SELECT c.id {chosen}) ORDER BY r.id",
        params,
    ):
        runs[int(cid)].append((stage, at, summary))
    escorts = _counts(rows, "assignment", chosen, params)
    positions = _counts(rows, "position", chosen, params)
    labels = label_table("stages", settings.locale)

    def shown(at: datetime | None) -> str:
        return local_time(at, settings)

    out = []
    for values in convoys:
        convoy = dict(zip(_CONVOY_COLUMNS, values, strict=True))
        cid = int(convoy["id"])
        c = Census(total=sum(by_state[cid].values()), by_state=by_state[cid])
        stages = []
        for stage, at, summary in runs[cid]:
            details = json.loads(summary) if isinstance(summary, str) else (summary or {})
            stages.append(
                {
                    "stage": stage,
                    "label": labels[Stage(stage)],
                    "at": shown(_utc(at)),
                    **{k: v for k, v in details.items() if isinstance(v, int | float | str)},
                }
            )
        planned_arrival = _utc(convoy["planned_arrival"])
        actual_arrival = _utc(convoy["actual_arrival"])
        late = None
        if actual_arrival is not None and planned_arrival is not None:
            late = round((actual_arrival - planned_arrival).total_seconds() / 60)
        out.append(
            {
                "code": convoy["code"],
                "mode": convoy["mode"],
                "vehicle": convoy["vehicle"],
                "origin": convoy["origin_name"],
                "destination": convoy["destination_name"],
                "stage": convoy["stage"],
                "passengers": c.total,
                "in_custody": c.in_custody,
                "handed_off": c.handed_off,
                "held": c.held,
                "withdrawn": c.withdrawn,
                "by_state": {s.value: n for s, n in c.by_state.items()},
                "planned_departure": shown(_utc(convoy["planned_departure"])),
                "actual_departure": shown(_utc(convoy["actual_departure"])),
                "planned_arrival": shown(planned_arrival),
                "actual_arrival": shown(actual_arrival),
                "late_minutes": late,
                "escorts": escorts.get(cid, 0),
                "positions": positions.get(cid, 0),
                "stages": stages,
            }
        )
    return out
