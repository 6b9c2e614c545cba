"""A campaign makes its convoys' flow runs first and each convoy runs its own (real flows, real
Prefect server)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

from config import Settings
from models.convoy.store import get_convoy
from models.db import session_scope


def _runs_tagged(tag: str) -> list:  # type: ignore[type-arg]
    with get_client(sync_client=True) as client:
        return client.read_flow_runs(
            flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=[tag]))
        )


def test_each_convoy_of_a_campaign_runs_the_flow_run_made_for_it(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    from flows.campaign import campaign_flow

    codes = [make_convoy("BUS-AHEAD1", n=4), make_convoy("BUS-AHEAD2", n=4, seed=2)]
    results = campaign_flow("test campaign", codes, poll_seconds=0.05, max_wait_seconds=300,
                            concurrency=2, simulate_speed=0)  # fmt: skip
    assert [r["code"] for r in results] == codes
    runs = [r for r in _runs_tagged("campaign:test-campaign") if r.name.endswith(tuple(codes))]
    # One run per convoy (none made twice), named for it, with its parameters, run to the end.
    assert sorted(r.name for r in runs) == sorted(f"convoy-{c}" for c in codes)
    for run in runs:
        code = run.name.removeprefix("convoy-")
        assert run.parameters["code"] == code
        assert run.state is not None and run.state.is_completed(), run.state
        assert run.start_time is not None and run.end_time is not None
    with session_scope() as s:
        assert {get_convoy(s, c).stage for c in codes} == {"closed"}


def test_runs_made_but_never_started_are_cancelled_at_the_end(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    from flows.convoy import convoy_flow
    from flows.service.runs_ahead import RunsAhead

    codes = [make_convoy("BUS-AHEAD3", n=2), make_convoy("BUS-AHEAD4", n=2, seed=3)]
    tag = f"ahead-{uuid.uuid4().hex[:8]}"
    ahead = RunsAhead.create(  # a code given twice gets one run
        convoy_flow, [*codes, codes[0]], lambda code: {"code": code}, tags=[tag]
    )
    first = ahead.take(codes[0])
    assert first is not None and first.name == f"convoy-{codes[0]}"
    assert first.state is not None and first.state.is_pending()
    assert ahead.take(codes[0]) is None  # given once: a second taker makes its own
    assert ahead.close() == [codes[1]]
    runs = _runs_tagged(tag)
    assert len(runs) == 2
    states = {r.name: r.state for r in runs}
    assert states[f"convoy-{codes[0]}"].is_pending()  # taken: its convoy runs it
    never = states[f"convoy-{codes[1]}"]
    assert never.is_cancelled() and never.message == (
        "The campaign stopped before this convoy started."
    )
    assert ahead.take("NO-SUCH-CONVOY") is None  # not made: the convoy makes its own


def test_once_a_run_cannot_be_made_the_rest_make_their_own(settings: Settings) -> None:
    """The second run cannot be made (its parameters lack the code its name needs): no run is
    tried after it, so the convoys from there on make their own as Prefect does."""
    from flows.convoy import convoy_flow
    from flows.service.runs_ahead import RunsAhead

    tag = f"ahead-{uuid.uuid4().hex[:8]}"
    codes = ["AHEAD-A", "AHEAD-B", "AHEAD-C"]
    ahead = RunsAhead.create(
        convoy_flow, codes, lambda code: {} if code == "AHEAD-B" else {"code": code}, tags=[tag]
    )
    made = ahead.take("AHEAD-A")
    assert made is not None and made.name == "convoy-AHEAD-A"
    assert ahead.take("AHEAD-B") is None and ahead.take("AHEAD-C") is None
    assert [r.name for r in _runs_tagged(tag)] == ["convoy-AHEAD-A"]
    with get_client(sync_client=True) as client:
        client.delete_flow_run(made.id)


def test_run_each_keeps_one_prefect_client_per_worker_thread(settings: Settings) -> None:
    import threading

    from prefect.context import SyncClientContext

    from flows.service.runs_ahead import run_each

    seen: list[tuple[str, int]] = []

    def one(n: int) -> int:
        ctx = SyncClientContext.get()
        assert ctx is not None  # a flow run started here reuses it instead of making its own
        seen.append((threading.current_thread().name, id(ctx.client)))
        return n * n

    assert run_each(one, range(9), 3, name="w") == [n * n for n in range(9)]
    threads = {name for name, _ in seen}
    assert len(seen) == 9 and len(threads) <= 3 and all(t.startswith("w-") for t in threads)
    # Every item a thread ran used that thread's one client.
    for name in threads:
        assert len({client for t, client in seen if t == name}) == 1


def test_run_each_runs_every_item_and_raises_the_first_failure_in_order(
    settings: Settings,
) -> None:
    from flows.service.runs_ahead import run_each

    ran: list[int] = []

    def one(n: int) -> int:
        ran.append(n)
        if n in (2, 5):
            raise ValueError(f"item {n} failed")
        return n

    with pytest.raises(ValueError, match="item 2 failed"):
        run_each(one, range(7), 2)
    assert sorted(ran) == list(range(7))  # a failure stops no other item
    assert run_each(one, [], 4) == []


def test_run_each_runs_every_item_when_no_client_can_be_made(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from prefect.context import SyncClientContext

    from flows.service.runs_ahead import run_each

    def unreachable() -> None:  # what entering a client context raises with the server gone
        raise RuntimeError("Failed to reach API at http://127.0.0.1:9/api")

    # The worker threads start without a client; none of them dies with its items.
    monkeypatch.setattr(SyncClientContext, "get_or_create", unreachable)
    assert run_each(lambda n: n + 1, range(5), 2) == [1, 2, 3, 4, 5]
