"""What every part of the ``convoy`` command shares: consoles, JSON output and the rule that our
errors become one clear line and a non-zero exit code, never a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from config import get_settings
from models.access.actors import acting_as, operator
from models.errors import ConvoyOpsError, ValidationError

if TYPE_CHECKING:
    from rich.console import Console


class _OnFirstUse:
    """A rich ``Console`` made when first printed to: a command that prints JSON (what
    scripts run, often) never imports rich."""

    def __init__(self, make: Callable[[], Console]) -> None:
        self._make = make
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            self._console = self._make()
        return getattr(self._console, name)


def _stdout_console() -> Console:
    from rich.console import Console

    made = Console()
    if not made.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
        made = Console(width=160)
    return made


def _stderr_console() -> Console:
    from rich.console import Console

    return Console(stderr=True, soft_wrap=True)  # one line, however long


console: Console = _OnFirstUse(_stdout_console)  # type: ignore[assignment]
err: Console = _OnFirstUse(_stderr_console)  # type: ignore[assignment]

F = TypeVar("F", bound=Callable[..., Any])
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def friendly(fn: F) -> F:
    """Run a command as the local operator (setting ``operator``, recorded in the audit) and
    turn our errors (and file and database errors) into one red line and exit code 1."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with acting_as(operator(get_settings().operator), "cli"):
                return fn(*args, **kwargs)
        except ConvoyOpsError as exc:
            err.print(f"[red]Error:[/red] {exc}", highlight=False)
            raise typer.Exit(1) from None
        except OSError as exc:
            err.print(f"[red]Error:[/red] {exc.strerror or exc}: {exc.filename or ''}")
            raise typer.Exit(1) from None
        except Exception as exc:
            if not _refused_by_database(exc):
                raise
            err.print(f"[red]Error:[/red] {database_problem(exc)}", highlight=False)
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def _refused_by_database(exc: Exception) -> bool:
    """Whether the database is unreachable, refuses us or is no database at all (SQLAlchemy's
    ``OperationalError`` or a bare ``DatabaseError``; looked up only when SQLAlchemy is loaded:
    commands that read without it start quicker)."""
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is None:
        return False
    return isinstance(exc, sa_exc.OperationalError) or type(exc) is sa_exc.DatabaseError


def database_problem(exc: Any) -> str:
    """One line on a database error (SQLAlchemy's), with the URL's password hidden and no
    SQL."""
    from models.dbapi import error_line, shown_url

    url = get_settings().db_url
    first = error_line(url, exc.orig if exc.orig is not None else exc)
    return f"The database {shown_url(url)} cannot be used: {first}"


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def parse_time(value: str | None) -> datetime | None:
    """A time typed on the command line; without an offset it is in the display time zone."""
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not a time like 2020-02-20 14:00.") from None
    return t if t.tzinfo else t.replace(tzinfo=get_settings().tz)
