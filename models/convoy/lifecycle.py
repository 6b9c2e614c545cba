"""Convoy stages and passenger custody states, and the rules that connect them
(docs/architecture.md, "Stages and custody").

Plain functions, no database and no Prefect: the flow and the storage layer both call these.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from models.errors import ConservationError, TransitionError


class Stage(StrEnum):
    """Where a convoy is. Each value names the state reached when that step is complete."""

    PLANNED = "planned"
    MUSTERING = "mustering"
    VERIFIED = "verified"
    SCREENED = "screened"
    DEPARTED = "departed"
    IN_TRANSIT = "in_transit"
    ARRIVED = "arrived"
    ARRIVAL_SCREENED = "arrival_screened"
    HANDED_OFF = "handed_off"
    CLOSED = "closed"


STAGES: tuple[Stage, ...] = tuple(Stage)


class Mode(StrEnum):
    TRAIN = "train"
    FLIGHT = "flight"
    BUS = "bus"


class Custody(StrEnum):
    """Where a passenger is. ``held`` and ``withdrawn`` are exceptions and need a reason."""

    REGISTERED = "registered"
    VERIFIED = "verified"
    CLEARED = "cleared"
    BOARDED = "boarded"
    ARRIVED = "arrived"
    HANDED_OFF = "handed_off"
    HELD = "held"
    WITHDRAWN = "withdrawn"


CUSTODY_CHAIN: tuple[Custody, ...] = (
    Custody.REGISTERED,
    Custody.VERIFIED,
    Custody.CLEARED,
    Custody.BOARDED,
    Custody.ARRIVED,
    Custody.HANDED_OFF,
)
EXCEPTIONS: frozenset[Custody] = frozenset({Custody.HELD, Custody.WITHDRAWN})
TERMINAL: frozenset[Custody] = frozenset({Custody.HANDED_OFF, *EXCEPTIONS})
IN_CUSTODY: frozenset[Custody] = frozenset(set(CUSTODY_CHAIN) - {Custody.HANDED_OFF})

# The custody state that everyone still in custody has once a stage is complete.
STAGE_CUSTODY: dict[Stage, Custody | None] = {
    Stage.PLANNED: Custody.REGISTERED,
    Stage.MUSTERING: Custody.REGISTERED,
    Stage.VERIFIED: Custody.VERIFIED,
    Stage.SCREENED: Custody.CLEARED,
    Stage.DEPARTED: Custody.BOARDED,
    Stage.IN_TRANSIT: Custody.BOARDED,
    Stage.ARRIVED: Custody.ARRIVED,
    Stage.ARRIVAL_SCREENED: Custody.ARRIVED,
    Stage.HANDED_OFF: None,
    Stage.CLOSED: None,
}


def next_stage(stage: Stage) -> Stage:
    """The stage that follows ``stage``."""
    if stage is Stage.CLOSED:
        raise TransitionError("The convoy is closed; no stage follows it.")
    return STAGES[STAGES.index(stage) + 1]


def check_stage_transition(current: Stage, target: Stage) -> None:
    """Allow only the next stage in order."""
    if current is Stage.CLOSED:
        raise TransitionError(f"The convoy is closed and cannot move to {target.value}.")
    expected = next_stage(current)
    if target != expected:
        raise TransitionError(
            f"A convoy at stage {current.value} can only move to {expected.value}, "
            f"not to {target.value}."
        )


def check_custody_transition(current: Custody, target: Custody, reason: str | None = None) -> None:
    """Allow one step along the custody chain, or a move to held/withdrawn with a reason."""
    if current in TERMINAL:
        raise TransitionError(
            f"A passenger who is {current.value} cannot become {target.value}: "
            f"{current.value} is final."
        )
    if target in EXCEPTIONS:
        if not (reason and reason.strip()):
            raise TransitionError(f"Marking a passenger {target.value} needs a reason.")
        return
    if target is Custody.REGISTERED or target not in CUSTODY_CHAIN:
        raise TransitionError(f"A passenger cannot become {target.value} after {current.value}.")
    expected = CUSTODY_CHAIN[CUSTODY_CHAIN.index(current) + 1]
    if target != expected:
        raise TransitionError(
            f"A passenger who is {current.value} can next become {expected.value}, "
            f"held or withdrawn, not {target.value}."
        )


@dataclass(frozen=True)
class Census:
    """How many passengers are in each custody state."""

    total: int
    by_state: dict[Custody, int] = field(default_factory=dict)

    @classmethod
    def of(cls, states: Iterable[Custody | str], total: int | None = None) -> Census:
        counts = Counter(Custody(s) for s in states)
        n = sum(counts.values())
        return cls(total=n if total is None else total, by_state=dict(counts))

    def count(self, state: Custody) -> int:
        return self.by_state.get(state, 0)

    @property
    def handed_off(self) -> int:
        return self.count(Custody.HANDED_OFF)

    @property
    def held(self) -> int:
        return self.count(Custody.HELD)

    @property
    def withdrawn(self) -> int:
        return self.count(Custody.WITHDRAWN)

    @property
    def in_custody(self) -> int:
        return sum(self.count(s) for s in IN_CUSTODY)

    @property
    def accounted(self) -> int:
        return self.handed_off + self.held + self.withdrawn + self.in_custody


def check_conservation(census: Census, stage: Stage) -> None:
    """manifest = handed_off + held + withdrawn + in custody, and everyone in custody is where
    the stage says they should be. A closed convoy has nobody left in custody."""
    if census.accounted != census.total:
        raise ConservationError(
            f"{census.total - census.accounted} of {census.total} passengers are unaccounted "
            f"for at stage {stage.value}: {census.handed_off} handed off, {census.held} held, "
            f"{census.withdrawn} withdrawn and {census.in_custody} in custody."
        )
    expected = STAGE_CUSTODY[stage]
    stray = {
        s.value: n for s, n in census.by_state.items() if s in IN_CUSTODY and s != expected and n
    }
    if stray:
        where = ", ".join(f"{n} {s}" for s, n in sorted(stray.items()))
        want = f"{expected.value}" if expected else "handed off, held or withdrawn"
        raise ConservationError(
            f"At stage {stage.value} everyone still in custody should be {want}, but {where}."
        )
