"""What the HTTP API puts around its handlers so that bad input is a 4xx with its reason, never
a 500: a body limit on every endpoint (413, whether or not the length was declared), a JSON
reader that refuses what ``json.loads`` would take or choke on (NaN, Infinity, 1e400, deep
nesting), and one error body, ``{"error": "<a full sentence>"}``, for every refusal.

Status codes: 400 a bad tracker report (the OsmAnd endpoint keeps the code trackers know), 401
credentials that do not authenticate (none, unknown, expired or revoked: a token, a user or a
device), 403 a caller who authenticated but may not do this (their role, another convoy), 404
nothing there, 409 a check-in the convoy's state refuses or a convoy kept busy too long by
another transaction, 413 a body over the limit, 422 a request that breaks a rule.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flows.api.hardening import BodyTooLarge
from models.errors import (
    AuthenticationError,
    BusyError,
    ConvoyOpsError,
    NotFoundError,
    PermissionDeniedError,
    RunBusyError,
    TransitionError,
    ValidationError,
)
from models.tracking.fixes import shown

MAX_DEPTH = 32  # nesting of a JSON body (a screening result is 4 deep)
# Secrets in request lines: the access log keeps the first group and drops the rest.
SECRET_PATHS = (
    r"(/osmand/)[^\s?\"/]+",
    r"([?&](?:token|sig|access_token)=)[^\s&\"]+",
)


class BodyLimit:
    """ASGI middleware: a request body longer than ``limit_for(path)`` bytes is refused with
    413, at once when its declared length says so, else as soon as the bytes passed the limit
    (the handler reading it gets ``BodyTooLarge``, answered 413 by ``install_error_handlers``)."""

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app, self.limit_for = app, limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await too_large(limit)(scope, receive, send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, limited, send)


def too_large(limit: int) -> JSONResponse:
    return JSONResponse(
        {"error": f"The request body is larger than this endpoint takes ({limit} bytes)."},
        status_code=413,
    )


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("a number too large")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def load_json(raw: bytes) -> Any:
    """A JSON request body; ``ValidationError`` (one sentence) for anything that is not plain,
    finite JSON nested at most ``MAX_DEPTH`` deep."""
    if not raw.strip():
        raise ValidationError(
            'The request has no body; send a JSON object like {"kind": "depart"}.'
        )
    try:
        doc = json.loads(raw, parse_float=_finite, parse_constant=_no_constant)
    except RecursionError:
        raise ValidationError(
            f"The JSON body is nested too deeply (at most {MAX_DEPTH} levels)."
        ) from None
    except ValueError:  # bad syntax, not UTF-8, NaN/Infinity, 1e400, a 5,000-digit integer
        raise ValidationError(
            "The request body is not valid JSON (UTF-8, with finite numbers only)."
        ) from None
    if _depth(doc) > MAX_DEPTH:
        raise ValidationError(f"The JSON body is nested too deeply (at most {MAX_DEPTH} levels).")
    return doc


def _depth(doc: Any) -> int:
    deepest, stack = 0, [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if depth > MAX_DEPTH:
                return depth
            items = value.values() if isinstance(value, dict) else value
            stack.extend((v, depth + 1) for v in items)
    return deepest


def status_of(exc: ConvoyOpsError, tracker: bool) -> int:
    """The HTTP status of one of our errors (see the module docstring)."""
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ValidationError):
        return 400 if tracker else 422
    if isinstance(exc, TransitionError | RunBusyError | BusyError):
        return 409
    return 400


def error(status: int, message: str) -> JSONResponse:
    """The one error body; ID and phone numbers in the message masked, its length bounded."""
    from models.intake.identity import scrub

    text = scrub(message)
    text = text[:1].upper() + text[1:]  # a sentence, also when it starts with a name
    text = text if len(text) <= 600 else text[:600] + "…"
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"error": text}, status_code=status, headers=headers)


def _param_problem(exc: RequestValidationError) -> str:
    err = exc.errors()[0] if exc.errors() else {}
    loc = [str(p) for p in err.get("loc", ())]
    where = f"The {loc[0]} parameter {'.'.join(loc[1:])}" if len(loc) > 1 else "The request"
    kind, ctx = err.get("type", ""), err.get("ctx") or {}
    if kind == "string_too_long":
        return f"{where} is longer than {ctx.get('max_length')} characters."
    if kind == "missing":
        return f"{where} is missing."
    value = err.get("input")
    echo = f" {shown(value)}" if isinstance(value, str | int | float) else ""
    return f"{where}{echo} is not valid."


def install_error_handlers(app: FastAPI, tracker_paths: tuple[str, ...]) -> None:
    """Every refusal as ``{"error": sentence}`` with its status; values echoed cut and masked."""

    def is_tracker(request: Request) -> bool:
        path = request.url.path
        return path == "/" or any(path.startswith(p) for p in tracker_paths)

    @app.exception_handler(ConvoyOpsError)
    async def _ours(request: Request, exc: ConvoyOpsError) -> JSONResponse:
        return error(status_of(exc, is_tracker(request)), str(exc))

    @app.exception_handler(BodyTooLarge)
    async def _large(request: Request, _exc: BodyTooLarge) -> JSONResponse:
        return error(413, "The request body is larger than this endpoint takes.")

    @app.exception_handler(RequestValidationError)
    async def _params(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error(400 if is_tracker(request) else 422, _param_problem(exc))

    @app.exception_handler(IntegrityError)
    async def _twice(request: Request, _exc: IntegrityError) -> JSONResponse:
        return error(409, "The same report was sent twice at the same moment; send it again.")

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        messages = {
            404: "There is no such endpoint; /openapi.json lists them.",
            405: f"This endpoint does not take {request.method[:10]} requests.",
        }
        text = messages.get(exc.status_code, "The request was refused.")
        response = error(exc.status_code, text)
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response
