"""Stage order, custody transitions and the conservation invariant (pure functions)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.convoy.lifecycle import (
    CUSTODY_CHAIN,
    IN_CUSTODY,
    STAGES,
    TERMINAL,
    Census,
    Custody,
    Stage,
    check_conservation,
    check_custody_transition,
    check_stage_transition,
    next_stage,
)
from models.errors import ConservationError, TransitionError


def test_stages_follow_design_order() -> None:
    assert [s.value for s in STAGES] == [
        "planned",
        "mustering",
        "verified",
        "screened",
        "departed",
        "in_transit",
        "arrived",
        "arrival_screened",
        "handed_off",
        "closed",
    ]


@pytest.mark.parametrize("i", range(len(STAGES) - 1))
def test_each_stage_moves_only_to_the_next(i: int) -> None:
    current = STAGES[i]
    check_stage_transition(current, STAGES[i + 1])
    for other in STAGES:
        if other != STAGES[i + 1]:
            with pytest.raises(TransitionError, match="can only move to"):
                check_stage_transition(current, other)


def test_closed_is_the_end() -> None:
    with pytest.raises(TransitionError, match="closed"):
        check_stage_transition(Stage.CLOSED, Stage.PLANNED)
    with pytest.raises(TransitionError):
        next_stage(Stage.CLOSED)


def test_custody_chain_steps_one_at_a_time() -> None:
    for a, b in itertools.pairwise(CUSTODY_CHAIN):
        check_custody_transition(a, b)
    with pytest.raises(TransitionError, match="can next become verified"):
        check_custody_transition(Custody.REGISTERED, Custody.BOARDED)
    with pytest.raises(TransitionError):
        check_custody_transition(Custody.BOARDED, Custody.REGISTERED)


@pytest.mark.parametrize("to", [Custody.HELD, Custody.WITHDRAWN])
def test_exceptions_need_a_reason(to: Custody) -> None:
    with pytest.raises(TransitionError, match="needs a reason"):
        check_custody_transition(Custody.BOARDED, to, "  ")
    check_custody_transition(Custody.BOARDED, to, "fever 38.2 °C")


@pytest.mark.parametrize("final", sorted(TERMINAL))
def test_terminal_states_are_final(final: Custody) -> None:
    for to in Custody:
        with pytest.raises(TransitionError, match="final"):
            check_custody_transition(final, to, "reason")


def test_closing_with_anyone_in_custody_is_refused() -> None:
    c = Census.of([Custody.HANDED_OFF] * 5 + [Custody.ARRIVED])
    with pytest.raises(ConservationError, match="1 arrived"):
        check_conservation(c, Stage.CLOSED)


def test_lost_passengers_are_detected() -> None:
    c = Census(total=10, by_state={Custody.HANDED_OFF: 9})
    with pytest.raises(ConservationError, match="1 of 10 passengers are unaccounted"):
        check_conservation(c, Stage.HANDED_OFF)


# -- property: any random sequence of attempted moves keeps everyone accounted for -------------

moves = st.lists(
    st.tuples(st.integers(0, 19), st.sampled_from(list(Custody)), st.booleans()),
    max_size=300,
)


@given(moves)
def test_conservation_under_random_event_sequences(seq: list[tuple[int, Custody, bool]]) -> None:
    state = [Custody.REGISTERED] * 20
    events: list[tuple[int, Custody]] = []
    for who, to, with_reason in seq:
        try:
            check_custody_transition(state[who], to, "reason" if with_reason else "")
        except TransitionError:
            continue
        state[who] = to
        events.append((who, to))
        c = Census.of(state)
        assert c.total == 20
        assert c.handed_off + c.held + c.withdrawn + c.in_custody == 20
    # The event log replays to the same states, and nobody enters a state twice.
    replay = [Custody.REGISTERED] * 20
    for who, to in events:
        replay[who] = to
    assert replay == state
    assert len(events) == len(set(events))
    assert all(s in IN_CUSTODY or s in TERMINAL for s in state)
