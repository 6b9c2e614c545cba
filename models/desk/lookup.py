"""Finding what the desk works on: an enterprise by name (matched as employers are), an officer
by badge, and the campaign a new desk record belongs to."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlmodel import Session, col

from models.convoy.store import get_campaign, get_escort
from models.convoy.tables import Campaign, Enterprise, Escort
from models.errors import NotFoundError


def get_enterprise(session: Session, name: str) -> Enterprise:
    """The enterprise named ``name``: exactly, or by the employer-matching rules (width,
    punctuation, legal-form suffix), only when one enterprise fits."""
    from models.intake.enterprises import EnterpriseIndex

    found = EnterpriseIndex(session).match((name or "").strip())
    if found.id is None:
        raise NotFoundError(f"There is no enterprise named {name}: {found.reason}.")
    ent = session.get(Enterprise, found.id)
    assert ent is not None
    return ent


def get_officer(session: Session, badge: str) -> Escort:
    """An officer (an escort record: badge, name, unit, phone, notify URL) by badge or name."""
    return get_escort(session, (badge or "").strip())


def campaign_id(session: Session, campaign: str | None) -> int | None:
    """The campaign a desk record is counted in: the one named, else the newest campaign
    (None when there is none)."""
    if campaign:
        return get_campaign(session, campaign).id
    newest = session.execute(select(func.max(col(Campaign.id)))).scalar_one_or_none()
    return int(newest) if newest is not None else None
