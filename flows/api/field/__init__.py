"""The escorts' phone page (``/field/<signed link>``), served on the tracker app of convoy serve."""

from __future__ import annotations

from fastapi import FastAPI

from config import Settings


def mount(app: FastAPI, settings: Settings) -> None:
    """Serve the escorts' phone page on ``app`` (one line in ``flows.api.tracker.create_app``)."""
    from flows.api.field.routes import add_routes

    add_routes(app, settings)
