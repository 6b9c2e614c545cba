"""CLI commands for people and rights: ``convoy users add/list/revoke/token/roles`` and
``convoy audit``.

``flows.cli.main`` calls ``register(app)``. The CLI acts as the local operator (setting
``operator``, ``CONVOY_OPERATOR``); once users exist, that operator's role decides what it may do.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from flows.cli.common import JsonOpt, console, friendly, parse_time, print_json
from models.db import session_scope
from models.errors import ValidationError

users_app = typer.Typer(
    help="Users, their roles and API tokens (admins only, once the first admin exists).",
    no_args_is_help=True,
)


@users_app.command("add")
@friendly
def users_add(
    name: Annotated[str, typer.Argument(help="Login name (what CONVOY_OPERATOR is set to).")],
    role: Annotated[
        str,
        typer.Option(help="coordinator, escort, manager, permit_officer, enterprise or admin."),
    ],
    escort: Annotated[str | None, typer.Option(help="An escort user's badge.")] = None,
    enterprise: Annotated[str | None, typer.Option(help="An enterprise user's enterprise.")] = None,
    full_name: Annotated[str, typer.Option(help="The person's name, for people.")] = "",
) -> None:
    """Add a user with one role (the first user must be an admin)."""
    from models.access.users import add_user

    with session_scope() as session:
        user = add_user(
            session, name, role, escort=escort, enterprise=enterprise, full_name=full_name
        )
    console.print(
        f"User {user.name} added as {user.role}; give them a token with "
        f"'convoy users token {user.name}'."
    )


@users_app.command("list")
@friendly
def users_list(json_out: JsonOpt = False) -> None:
    """Users, their roles and their live tokens (ids and expiry; tokens are never shown)."""
    from models.access.users import list_users
    from models.labels import local_time as local

    with session_scope() as session:
        rows = list_users(session)
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print("No users yet: the first is an admin (convoy users add NAME --role admin).")
        return
    t = Table("name", "role", "for", "state", "live tokens (id: expires)")
    for r in rows:
        tokens = ", ".join(
            f"#{tok['id']}: {local(_when(tok['expires_at']))}" for tok in r["tokens"]
        )
        state = "active" if r["active"] else f"revoked {local(_when(r['revoked_at']))}"
        t.add_row(r["name"], r["role"], r["escort"] or r["enterprise"] or "", state, tokens or "—")
    console.print(t)


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


@users_app.command("token")
@friendly
def users_token(
    name: Annotated[str, typer.Argument(help="The user.")],
    days: Annotated[
        int | None, typer.Option(help="Days it stays valid (default: setting).")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Issue a new API token for a user; it is shown this once and stored only as a hash."""
    from models.access.users import issue_token

    with session_scope() as session:
        row, secret = issue_token(session, name, days=days)
    if json_out:
        print_json({"user": name, "id": row.id, "token": secret, "expires_at": row.expires_at})
        return
    console.print(f"Token #{row.id} for {name}, valid until {row.expires_at:%Y-%m-%d %H:%M} UTC:")
    console.print(secret, highlight=False, soft_wrap=True)
    console.print("It is shown only now; send it as 'Authorization: Bearer <token>'.")


@users_app.command("revoke")
@friendly
def users_revoke(
    name: Annotated[str, typer.Argument(help="The user.")],
    token: Annotated[
        int | None, typer.Option(help="Revoke only this token (its number), not the user.")
    ] = None,
) -> None:
    """Revoke a user (and all their tokens), or with --token one token."""
    from models.access.users import UserToken, get_user, revoke_token, revoke_user

    with session_scope() as session:
        if token is not None:
            user = get_user(session, name)
            found = session.get(UserToken, token)
            if found is None or found.user_id != user.id:
                raise ValidationError(f"{name} has no token #{token}; see 'convoy users list'.")
            revoke_token(session, token)
            console.print(f"Token #{token} of {name} revoked.")
            return
        revoke_user(session, name)
    console.print(f"User {name} revoked, with all their tokens.")


@users_app.command("roles")
@friendly
def users_roles(json_out: JsonOpt = False) -> None:
    """The role matrix: which role may take which action."""
    from models.access.roles import ACTIONS, CONVOY_SCOPED, ENTERPRISE_SCOPED, MATRIX, Role

    if json_out:
        print_json({r.value: sorted(MATRIX[r]) for r in Role})
        return
    t = Table("action", *[r.value for r in Role], "covers")
    for action, text in ACTIONS.items():
        marks = []
        for r in Role:
            if action not in MATRIX[r]:
                marks.append("")
            elif r is Role.ESCORT and action in CONVOY_SCOPED:
                marks.append("own convoys")
            elif r is Role.ENTERPRISE and action in ENTERPRISE_SCOPED:
                marks.append("own")
            else:
                marks.append("yes")
        t.add_row(action, *marks, text)
    console.print(t)


@friendly
def audit(
    convoy: Annotated[str | None, typer.Option(help="Only this convoy's records.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only from this time on, e.g. 2020-02-20 14:00.")
    ] = None,
    action: Annotated[
        str | None, typer.Option(help="Only actions starting so: checkin, alert.acknowledged …")
    ] = None,
    limit: Annotated[int, typer.Option(help="The newest this many records.")] = 200,
    json_out: JsonOpt = False,
) -> None:
    """The audit log: who did what, when, from where, before and after (personal data masked)."""
    from models.access.audit import audit_log
    from models.labels import local_time as local

    with session_scope() as session:
        rows = audit_log(
            session, convoy=convoy, since=parse_time(since), action=action, limit=limit
        )
    if json_out:
        print_json(rows)
        return
    if not rows:
        console.print("No audit records match.")
        return
    t = Table("#", "when", "who", "via", "action", "subject", "change")
    for r in rows:
        who = f"{r['actor']} ({r['role']})" if r["role"] else r["actor"]
        t.add_row(
            str(r["id"]), local(_when(r["at"])), who, r["via"], r["action"], r["subject"],
            _change(r["before"], r["after"]),
        )  # fmt: skip
    console.print(t)


_QUIET = {"id", "created_at", "recorded_at", "norm_name"}


def _change(before: dict[str, object] | None, after: dict[str, object] | None) -> str:
    """'stage planned → mustering; …' for changes, the new values for additions (short)."""
    before, after = before or {}, after or {}
    parts = [f"{k} {before[k]} → {v}" for k, v in after.items() if k in before]
    shown = {k: v for k, v in (after or before).items() if k not in before or not after}
    parts += [
        f"{k} {v}" for k, v in shown.items() if k not in _QUIET and v not in ("", None, {}, [])
    ]
    text = "; ".join(parts)
    return text if len(text) <= 120 else text[:119] + "…"


def register(app: typer.Typer) -> None:
    """Add the people-and-rights commands to the ``convoy`` app."""
    app.add_typer(users_app, name="users")
    app.command("audit")(audit)
