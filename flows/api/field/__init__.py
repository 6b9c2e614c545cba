"""The escorts' phone page, served by ``convoy serve`` on the HTTP app of ``flows.api.tracker``.

An escort opens ``/field/<token>``, their personal signed link (``convoy escort link BADGE``,
and at the end of every task notice; ``models.access.escort_links``). The page shows their
convoys, the next task, the roster by seat (masked) and a form for each step, the one now due
open; forms are sent by a small script (``static/field.js``) that keeps every report in the
phone's storage with an id made on the phone until the server has it, so a check-in made
without signal is sent when the network returns, once (``checkin.client_id`` is unique). A
service worker (``static/sw.js``) keeps the page itself available offline.

* ``POST /field/<token>/checkins`` ``{"convoy", "kind", "payload", "at"?, "client_id"}``: the
  same path as the CLI and the device API (``models.tracking.field_checkins.report_checkin`` →
  ``record_checkin``), as the escort (audited, their convoys only); then the convoy's suspended
  flow run is resumed. 201 new, 200 a repeat; refusals 4xx ``{"error": "<sentence>"}``.
* ``POST /field/<token>/holds`` ``{"convoy", "seat", "reason", "location", "withdraw"}``: hold
  or withdraw one passenger (``models.convoy.operations.hold_or_withdraw``); a repeat of a
  passenger already in that state is 200.

Nothing here is fetched from another site: the script, the styles and the worker are files of
this package (no library, no CDN).
"""

from __future__ import annotations

from fastapi import FastAPI

from config import Settings


def mount(app: FastAPI, settings: Settings) -> None:
    """Serve the escorts' phone page on ``app`` (one line in ``flows.api.tracker.create_app``)."""
    from flows.api.field.routes import add_routes

    add_routes(app, settings)
