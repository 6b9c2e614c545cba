"""Requests and consultations at the service desk, and their lifecycle.

An enterprise raises a request on its own page (channel ``page``); an officer logs one taken on
the phone or at the window. Lifecycle::

    open → in_hand → resolved (with the answer)
                   → passed_on (to whom)

Any other move is refused with one sentence (:class:`~models.errors.TransitionError`). Each
request has a same-day target (``due_at``, the rule ``[desk]``: the end of the local day it was
raised, or of the next day from ``cutoff_hour``); the liaison officer gets each new request
through the outbox, and the monitor warns before the target (``models.desk.at_risk``).
Contact phones are masked in every output; every write is audited.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from config import Settings, get_settings
from models.access.users import require
from models.convoy.tables import Enterprise, Escort
from models.desk.liaison import liaison_recipients, officers_of
from models.desk.lookup import campaign_id, get_enterprise, get_officer
from models.desk.tables import Channel, DeskRequest, RequestKind, RequestStatus
from models.errors import NotFoundError, TransitionError, ValidationError
from models.intake.identity import is_mobile, mask_name, mask_phone, normalise_phone, scrub
from models.labels import label, local_time
from models.notify.messages import render
from models.notify.outbox import enqueue, role_recipients
from models.permits.days import at_or_now, day_end, local_day

TEXT_LIMIT = 2000
CONTACT_LIMIT = 50
OPEN = frozenset({RequestStatus.OPEN, RequestStatus.IN_HAND})
# Which status each officer's step needs, and the status it reaches.
STEPS: dict[str, tuple[frozenset[RequestStatus], RequestStatus, str]] = {
    "take": (frozenset({RequestStatus.OPEN}), RequestStatus.IN_HAND, "taken in hand"),
    "resolve": (frozenset({RequestStatus.IN_HAND}), RequestStatus.RESOLVED, "resolved"),
    "pass": (frozenset({RequestStatus.IN_HAND}), RequestStatus.PASSED_ON, "passed on"),
}
_KIND_WORDS = {
    **{k.value: k for k in RequestKind},
    "staff": RequestKind.STAFF_RETURN, "return": RequestKind.STAFF_RETURN,
    "pass": RequestKind.VEHICLE_PASS, "vehicle": RequestKind.VEHICLE_PASS,
    "policy": RequestKind.POLICY_QUESTION, "question": RequestKind.POLICY_QUESTION,
    "员工返岗": RequestKind.STAFF_RETURN, "车辆通行": RequestKind.VEHICLE_PASS,
    "政策咨询": RequestKind.POLICY_QUESTION, "其他": RequestKind.OTHER,
}  # fmt: skip


def kind_of(text: str) -> RequestKind:
    """'staff-return', 'staff_return' or '员工返岗' → the kind; anything else is refused."""
    key = (text or "").strip().lower().replace("-", "_").replace(" ", "_")
    found = _KIND_WORDS.get(key)
    if found is None:
        kinds = ", ".join(k.value for k in RequestKind)
        raise ValidationError(f"{text!r} is not a kind of request; the kinds are {kinds}.")
    return found


def channel_of(text: str) -> Channel:
    try:
        return Channel((text or "").strip().lower())
    except ValueError:
        names = ", ".join(c.value for c in Channel)
        raise ValidationError(f"{text!r} is not a channel; the channels are {names}.") from None


def due_for(raised_at: datetime, settings: Settings | None = None) -> datetime:
    """The same-day target of a request raised at ``raised_at``."""
    settings = settings or get_settings()
    rules = settings.rule_set.desk
    day = local_day(raised_at, settings)
    if raised_at.astimezone(settings.tz).hour >= rules.cutoff_hour:
        day += timedelta(days=1)
    return day_end(day, settings)


def _text(value: str | None, what: str, limit: int, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise ValidationError(f"The {what} is required.")
    if "\x00" in text:
        raise ValidationError(f"The {what} holds a NUL character (0x00); type it again.")
    if len(text) > limit:
        raise ValidationError(f"The {what} is longer than {limit} characters; shorten it.")
    return text


def get_request(session: Session, number: str) -> DeskRequest:
    key = (number or "").strip().upper()
    found = session.execute(
        select(DeskRequest).where(col(DeskRequest.number) == key)
    ).scalar_one_or_none()
    if found is None and key.isdigit():
        found = session.get(DeskRequest, int(key))
    if found is None:
        raise NotFoundError(f"There is no service-desk request {number!r}.")
    return found


def raise_request(
    session: Session,
    enterprise_id: int,
    *,
    kind: str,
    text: str,
    contact_name: str = "",
    contact_phone: str = "",
    channel: str = Channel.PAGE.value,
    at: datetime | None = None,
    campaign: str | None = None,
    settings: Settings | None = None,
) -> DeskRequest:
    """Record a request of the enterprise (``page``: by its own link; ``phone``/``window``: by
    an officer) and queue it to the liaison officer (to the coordinators when none is
    assigned)."""
    settings = settings or get_settings()
    via = channel_of(channel)
    require(session, "desk.raise" if via is Channel.PAGE else "desk.write",
            enterprise_id=enterprise_id)  # fmt: skip
    ent = session.get(Enterprise, enterprise_id)
    if ent is None:
        raise NotFoundError(f"There is no enterprise #{enterprise_id}.")
    what = kind_of(kind)
    body = _text(text, "request text", TEXT_LIMIT)
    contact = _text(contact_name, "contact name", CONTACT_LIMIT, required=False)
    phone = normalise_phone(_text(contact_phone, "contact phone", 32, required=False))
    if phone and not is_mobile(phone):
        raise ValidationError(
            f"The contact phone {mask_phone(phone)} is not a mainland mobile number "
            "(11 digits starting 13–19)."
        )
    at = at_or_now(at)
    req = DeskRequest(
        campaign_id=campaign_id(session, campaign),
        enterprise_id=enterprise_id,
        kind=what.value,
        channel=via.value,
        text=body,
        contact_name=contact,
        contact_phone=phone,
        raised_at=at,
        due_at=due_for(at, settings),
        status_changed_at=at,
    )
    session.add(req)
    session.flush()
    req.number = f"FW-{local_day(at, settings):%Y%m%d}-{req.id:04d}"
    session.add(req)
    session.flush()
    _notify(session, req, ent, settings)
    return req


def _notify(session: Session, req: DeskRequest, ent: Enterprise, settings: Settings) -> None:
    loc = settings.locale
    message = render(
        "desk.request", loc, number=req.number, enterprise=ent.name,
        kind=label("desk", f"kind.{req.kind}", loc),
        channel=label("desk", f"channel.{req.channel}", loc),
        when=local_time(req.raised_at, settings, short=True),
        contact=mask_name(req.contact_name) or "—", phone=mask_phone(req.contact_phone),
        text=scrub(req.text[:500]), due=local_time(req.due_at, settings, short=True),
    )  # fmt: skip
    recipients = liaison_recipients(session, ent.id or 0) or role_recipients(
        ["coordinator"], settings
    )
    enqueue(session, f"desk:{req.number}:raised", message, recipients, kind="notice",
            locale=loc, now=req.raised_at)  # fmt: skip


def log_request(
    session: Session,
    enterprise: str,
    *,
    kind: str,
    text: str,
    channel: str = Channel.PHONE.value,
    contact_name: str = "",
    contact_phone: str = "",
    answer: str | None = None,
    officer: str | None = None,
    at: datetime | None = None,
    campaign: str | None = None,
    settings: Settings | None = None,
) -> DeskRequest:
    """An officer logs a request or consultation taken on the phone or at the window; with
    ``answer`` it was answered on the spot (taken and resolved at once)."""
    via = channel_of(channel)
    if via is Channel.PAGE:
        raise ValidationError("Requests logged by an officer come by phone or at the window.")
    ent = get_enterprise(session, enterprise)
    req = raise_request(
        session, ent.id or 0, kind=kind, text=text, contact_name=contact_name,
        contact_phone=contact_phone, channel=via.value, at=at, campaign=campaign,
        settings=settings,
    )  # fmt: skip
    if answer is not None:
        take_request(session, req.number, officer=officer, at=req.raised_at)
        resolve_request(session, req.number, answer, at=req.raised_at)
    return req


def _step(
    session: Session, number: str, step: str, at: datetime | None
) -> tuple[DeskRequest, datetime]:
    require(session, "desk.write")
    req = get_request(session, number)
    allowed, _to, doing = STEPS[step]
    status = RequestStatus(req.status)
    if status not in allowed:
        needed = " or ".join(label("desk", f"status.{s.value}", "en") for s in sorted(allowed))
        raise TransitionError(
            f"Request {req.number} is {label('desk', f'status.{status.value}', 'en')}; it can "
            f"only be {doing} when it is {needed}."
        )
    at = at_or_now(at)
    if at < req.status_changed_at:
        raise ValidationError(
            f"Request {req.number}: the time {local_time(at)} is before its last step "
            f"({local_time(req.status_changed_at)}); give a later time."
        )
    return req, at


def _move(session: Session, req: DeskRequest, step: str, at: datetime) -> DeskRequest:
    req.status = STEPS[step][1].value
    req.status_changed_at = at
    if step != "take":
        req.closed_at = at
    session.add(req)
    session.flush()
    return req


def take_request(
    session: Session, number: str, *, officer: str | None = None, at: datetime | None = None
) -> DeskRequest:
    """An officer takes the request in hand (by default the enterprise's liaison officer)."""
    req, at = _step(session, number, "take", at)
    who: Escort | None = get_officer(session, officer) if officer else None
    if who is None:
        who = officers_of(session, req.enterprise_id)[0]
    req.officer_id = who.id if who else None
    return _move(session, req, "take", at)


def resolve_request(
    session: Session, number: str, answer: str, *, at: datetime | None = None
) -> DeskRequest:
    """Resolve a request in hand with the answer given (required)."""
    text = _text(answer, "answer", TEXT_LIMIT)
    req, at = _step(session, number, "resolve", at)
    req.answer = text
    return _move(session, req, "resolve", at)


def pass_on_request(
    session: Session, number: str, to: str, *, note: str = "", at: datetime | None = None
) -> DeskRequest:
    """Pass a request in hand on to another office (``to``, required), with an optional note."""
    where = _text(to, "office the request is passed to", 200)
    extra = _text(note, "note", TEXT_LIMIT, required=False)
    req, at = _step(session, number, "pass", at)
    req.passed_to = where
    req.answer = extra
    return _move(session, req, "pass", at)


def request_row(
    req: DeskRequest, enterprise: str, officer: str | None, settings: Settings | None = None
) -> dict[str, Any]:
    """A request as listings show it: contact phone masked, times local."""
    return {
        "number": req.number,
        "enterprise": enterprise,
        "kind": req.kind,
        "channel": req.channel,
        "status": req.status,
        "text": req.text,
        "contact": req.contact_name,
        "phone": mask_phone(req.contact_phone),
        "officer": officer,
        "answer": req.answer,
        "passed_to": req.passed_to,
        "raised_at": local_time(req.raised_at, settings),
        "due_at": local_time(req.due_at, settings),
        "closed_at": local_time(req.closed_at, settings),
        "same_day": None if req.closed_at is None else req.closed_at <= req.due_at,
    }


def list_requests(
    session: Session,
    *,
    open_only: bool = False,
    enterprise: str | None = None,
    enterprise_id: int | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Requests, oldest first: all, the open ones (open or in hand), of one enterprise. An
    enterprise's link sees its own only."""
    if enterprise is not None:
        enterprise_id = get_enterprise(session, enterprise).id
    require(session, "desk.read", enterprise_id=enterprise_id)
    stmt = (
        select(DeskRequest, col(Enterprise.name), col(Escort.badge))
        .join(Enterprise, col(Enterprise.id) == DeskRequest.enterprise_id)
        .outerjoin(Escort, col(Escort.id) == DeskRequest.officer_id)
        .order_by(col(DeskRequest.raised_at), col(DeskRequest.id))
    )
    if enterprise_id is not None:
        stmt = stmt.where(col(DeskRequest.enterprise_id) == enterprise_id)
    if open_only:
        stmt = stmt.where(col(DeskRequest.status).in_([s.value for s in OPEN]))
    return [request_row(r, name, badge, settings) for r, name, badge in session.execute(stmt)]
