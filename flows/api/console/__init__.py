"""The coordinators' console and the managers' view: signed-in web pages mounted at /console."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from config import Settings


def mount(app: FastAPI, settings: Settings) -> None:
    """Serve the console at ``/console`` on ``app`` (the app of ``convoy serve``)."""
    from flows.api.console.app import create_console_app

    app.mount("/console", create_console_app(settings))
