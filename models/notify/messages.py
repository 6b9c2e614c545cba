"""Messages for alerts and escort tasks, in zh-CN and en (templates: ``models.labels``).

Templates take only masked or non-personal values (convoy codes, places, counts, seat numbers,
masked names and phones). ``render`` refuses a template that lacks a value, so a message never
goes out with a hole in it.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import Any

from models.errors import ConfigurationError
from models.labels import LOCALES, MESSAGES, label


@dataclass(frozen=True)
class Message:
    subject: str
    body: str


def _locale(locale: str) -> str:
    return locale if locale in LOCALES else "en"


def kind_label(kind: str, locale: str) -> str:
    return label("alert_kinds", kind, locale)


def mode_label(mode: str, locale: str) -> str:
    return label("modes", mode, locale)


def render(key: str, locale: str, **params: Any) -> Message:
    """The message ``key`` in ``locale`` (falls back to en) with ``params`` filled in."""
    try:
        subject, body = MESSAGES[key][_locale(locale)]
    except KeyError:
        raise ConfigurationError(f"There is no message template {key!r}.") from None
    needed = {
        name for text in (subject, body) for _, name, _, _ in string.Formatter().parse(text) if name
    }
    missing = sorted(needed - params.keys())
    if missing:
        raise ConfigurationError(
            f"The message {key!r} needs {', '.join(missing)}; the caller did not give it."
        )
    return Message(subject.format(**params), body.format(**params))
