"""Users, their tokens, and the rights check every write and every protected read goes through.

A user has one role (``models.access.roles``); an escort user is tied to an escort record (their
convoys are the convoys that escort is assigned to), an enterprise user to an enterprise.
Tokens are random (``secrets``), shown once, stored as a SHA-256 hash, and end at their expiry
or when revoked; revoking a user ends all their tokens.

The CLI acts as the local operator (setting ``operator``). Until the first user exists the
operator may do everything (that is how the first admin is added); from then on the operator
must be an active user, whose role limits what the CLI may do.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Field, Session, SQLModel, col

from config import get_settings
from models.access import actors
from models.access.actors import Actor
from models.access.roles import (
    ACTIONS,
    CONVOY_SCOPED,
    ENTERPRISE_SCOPED,
    Role,
    allowed,
    role_of,
)
from models.convoy.tables import Assignment, Enterprise, Escort
from models.db import UTCDateTime, utcnow
from models.errors import (
    AuthenticationError,
    NotFoundError,
    PermissionDeniedError,
    ValidationError,
)

TOKEN_PREFIX = "cvo_"
_NAME = re.compile(r"[\w.@-]{1,64}")


class User(SQLModel, table=True):
    """A person who uses Convoy Ops, with one role."""

    __tablename__ = "user_account"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True, description="Login name (the CLI operator).")
    role: str
    full_name: str = ""
    escort_id: int | None = Field(default=None, foreign_key="escort.id", index=True)
    enterprise_id: int | None = Field(default=None, foreign_key="enterprise.id", index=True)
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class UserToken(SQLModel, table=True):
    """One API token of a user (only its hash is kept)."""

    __tablename__ = "user_token"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True)
    token_hash: str = Field(unique=True, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def hash_secret(secret: str) -> str:
    """The stored form of a token (SHA-256, hex; the tokens are random, so no slow hash)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def get_user(session: Session, name: str) -> User:
    found = session.execute(select(User).where(col(User.name) == name)).scalars().first()
    if found is None:
        raise NotFoundError(f"There is no user named {name!r}; see 'convoy users list'.")
    return found


def _active_admins(session: Session) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(User)
            .where(col(User.role) == Role.ADMIN.value, col(User.active).is_(True))
        ).scalar_one()
    )


def add_user(
    session: Session,
    name: str,
    role: str,
    *,
    escort: str | None = None,
    enterprise: str | None = None,
    full_name: str = "",
) -> User:
    """Add a user. An escort user names their escort record (badge), an enterprise user their
    enterprise; the first user of a database must be an admin (who then adds the others)."""
    from models.convoy.store import get_escort, match_enterprise

    require(session, "user.write")
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise ValidationError(
            "A user name is 1 to 64 letters, digits or . _ @ - (no spaces): the login name."
        )
    r = role_of(role)
    if session.execute(select(col(User.id)).where(col(User.name) == name)).first() is not None:
        raise ValidationError(f"There is already a user named {name}; see 'convoy users list'.")
    if r is not Role.ADMIN and _active_admins(session) == 0:
        raise ValidationError(
            "There is no admin yet: add an admin first (convoy users add NAME --role admin), "
            "who then adds the others."
        )
    if (r is Role.ESCORT) != bool(escort):
        raise ValidationError("An escort user needs --escort BADGE, and only an escort has one.")
    if (r is Role.ENTERPRISE) != bool(enterprise):
        raise ValidationError(
            "An enterprise user needs --enterprise NAME, and only an enterprise has one."
        )
    escort_row: Escort | None = get_escort(session, escort) if escort else None
    enterprise_row: Enterprise | None = None
    if enterprise:
        enterprise_row = match_enterprise(session, enterprise)
        if enterprise_row is None:
            raise NotFoundError(f"There is no enterprise named {enterprise}.")
    user = User(
        name=name,
        role=r.value,
        full_name=full_name.strip()[:100],
        escort_id=escort_row.id if escort_row else None,
        enterprise_id=enterprise_row.id if enterprise_row else None,
    )
    session.add(user)
    session.flush()
    return user


def issue_token(
    session: Session, name: str, *, days: int | None = None, now: datetime | None = None
) -> tuple[UserToken, str]:
    """A new token for an active user; returns the row and the token (shown this once)."""
    require(session, "user.write")
    user = get_user(session, name)
    if not user.active:
        raise ValidationError(f"User {name} is revoked; they get no new token.")
    days = days if days is not None else get_settings().user_token_days
    if not 1 <= days <= 3660:
        raise ValidationError("A token is valid for 1 to 3660 days.")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = now or utcnow()
    row = UserToken(
        user_id=user.id,  # type: ignore[arg-type]
        token_hash=hash_secret(secret),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    return row, secret


def revoke_user(session: Session, name: str, now: datetime | None = None) -> User:
    """Revoke a user and every token they hold (the record stays, for the audit)."""
    require(session, "user.write")
    user = get_user(session, name)
    if not user.active:
        return user
    if user.role == Role.ADMIN.value and _active_admins(session) == 1:
        raise ValidationError(f"{name} is the last admin; add another admin before revoking them.")
    now = now or utcnow()
    user.active = False
    user.revoked_at = now
    session.add(user)
    for token in session.execute(
        select(UserToken).where(
            col(UserToken.user_id) == user.id, col(UserToken.revoked_at).is_(None)
        )
    ).scalars():
        token.revoked_at = now
        session.add(token)
    session.flush()
    return user


def revoke_token(session: Session, token_id: int, now: datetime | None = None) -> UserToken:
    require(session, "user.write")
    token = session.get(UserToken, token_id)
    if token is None:
        raise NotFoundError(f"There is no token #{token_id}; see 'convoy users list'.")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        session.add(token)
        session.flush()
    return token


def authenticate(session: Session, token: str, now: datetime | None = None) -> User:
    """The active user holding ``token``; ``AuthenticationError`` (saying why) otherwise."""
    token = (token or "").strip()
    if not token.startswith(TOKEN_PREFIX) or len(token) > 128:
        raise AuthenticationError("That is not a Convoy Ops user token.")
    found = session.execute(
        select(UserToken, User)
        .join(User, col(User.id) == UserToken.user_id)
        .where(col(UserToken.token_hash) == hash_secret(token))
    ).first()
    if found is None or not hmac.compare_digest(found[0].token_hash, hash_secret(token)):
        raise AuthenticationError("The token is unknown; ask an admin for a new one.")
    row, user = found
    now = now or utcnow()
    if not user.active:
        raise AuthenticationError(f"User {user.name} is revoked.")
    if row.revoked_at is not None:
        raise AuthenticationError(f"The token was revoked on {row.revoked_at:%Y-%m-%d}.")
    if now >= row.expires_at:
        raise AuthenticationError(f"The token expired on {row.expires_at:%Y-%m-%d}.")
    return user


def actor_for(user: User, kind: actors.Kind = "user") -> Actor:
    return Actor(
        kind,
        user.name,
        role=user.role,
        user_id=user.id,
        escort_id=user.escort_id,
        enterprise_id=user.enterprise_id,
    )


def resolve(session: Session, actor: Actor) -> Actor:
    """The actor with the rights they have now: a local operator who is a user gets that
    user's role; once users exist, an operator who is none is refused."""
    if actor.kind != "operator" or actor.role is not None:
        return actor
    conn = session.connection()
    t = User.__table__  # type: ignore[attr-defined]
    row = conn.execute(select(t).where(t.c.name == actor.name)).first()
    if row is None:
        if conn.execute(select(func.count()).select_from(t)).scalar_one() == 0:
            return actor  # no users yet: the operator sets the system up
        raise PermissionDeniedError(
            f"The operator {actor.name!r} is not a Convoy Ops user; an admin adds them "
            f"('convoy users add {actor.name} --role …'), or set CONVOY_OPERATOR to your user."
        )
    if not row.active:
        raise PermissionDeniedError(f"The operator {actor.name!r} is a revoked user.")
    return replace(
        actor,
        role=row.role,
        user_id=row.id,
        escort_id=row.escort_id,
        enterprise_id=row.enterprise_id,
    )


def escort_convoys(session: Session, escort_id: int | None) -> set[int]:
    if escort_id is None:
        return set()
    t = Assignment.__table__  # type: ignore[attr-defined]
    rows = session.connection().execute(select(t.c.convoy_id).where(t.c.escort_id == escort_id))
    return {int(r[0]) for r in rows}


def check(
    session: Session,
    actor: Actor,
    action: str,
    *,
    convoy_id: int | None = None,
    enterprise_id: int | None = None,
) -> None:
    """Refuse (``PermissionDeniedError``) unless the resolved ``actor`` may take ``action``
    on that convoy or enterprise."""
    if actor.role is None:
        return
    who = f"{actor.label} ({actor.role})"
    if not allowed(actor.role, action):
        raise PermissionDeniedError(f"{who} may not {ACTIONS[action]}.")
    mine = actor.role == Role.ESCORT.value and action in CONVOY_SCOPED
    if mine and (convoy_id is None or convoy_id not in escort_convoys(session, actor.escort_id)):
        raise PermissionDeniedError(
            f"{who} may {ACTIONS[action]} only for the convoys they escort."
        )
    own = actor.role == Role.ENTERPRISE.value and action in ENTERPRISE_SCOPED
    if own and (enterprise_id is None or enterprise_id != actor.enterprise_id):
        raise PermissionDeniedError(f"{who} may {ACTIONS[action]} only for its own enterprise.")


def require(
    session: Session,
    action: str,
    *,
    convoy_id: int | None = None,
    enterprise_id: int | None = None,
) -> Actor:
    """Check the current actor (``models.access.actors.current``) for ``action``; returns them
    resolved. Every protected read calls it; every audited write is checked by the audit."""
    actor = resolve(session, actors.current()[0])
    check(session, actor, action, convoy_id=convoy_id, enterprise_id=enterprise_id)
    return actor


def list_users(session: Session, now: datetime | None = None) -> list[dict[str, Any]]:
    """Every user with their live tokens (id and expiry; never the token)."""
    require(session, "user.read")
    now = now or utcnow()
    users = list(session.execute(select(User).order_by(col(User.name))).scalars())
    tokens = session.execute(
        select(UserToken).where(col(UserToken.revoked_at).is_(None)).order_by(col(UserToken.id))
    ).scalars()
    live: dict[int, list[UserToken]] = {}
    for t in tokens:
        if t.expires_at > now:
            live.setdefault(t.user_id, []).append(t)
    escorts = {e.id: e.badge for e in session.execute(select(Escort)).scalars()}
    enterprises = {e.id: e.name for e in session.execute(select(Enterprise)).scalars()}
    return [
        {
            "name": u.name,
            "role": u.role,
            "full_name": u.full_name,
            "escort": escorts.get(u.escort_id) if u.escort_id else None,
            "enterprise": enterprises.get(u.enterprise_id) if u.enterprise_id else None,
            "active": u.active,
            "created_at": u.created_at.isoformat(),
            "revoked_at": u.revoked_at.isoformat() if u.revoked_at else None,
            "tokens": [
                {"id": t.id, "expires_at": t.expires_at.isoformat()}
                for t in live.get(u.id or 0, [])
            ],
        }
        for u in users
    ]
