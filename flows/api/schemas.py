"""The request and response models of the HTTP API as its OpenAPI document shows them.

The handlers read some bodies themselves — to authenticate before looking at a body, to take
the OsmAnd protocol in the three shapes Traccar Client sends, and to answer with one sentence —
and validate them with the same pydantic models (``models.tracking.osmand``,
``models.tracking.field_checkins.CheckinRequest``). ``body_of`` and ``query_of`` put those
models into the route's OpenAPI entry so that ``/openapi.json`` describes the whole API.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

_MODELS: dict[str, type[BaseModel]] = {}


class ErrorBody(BaseModel):
    """Every refusal."""

    error: str = Field(description="What is wrong, in one full sentence.")


class Health(BaseModel):
    ok: bool = True


class OsmAndAnswer(BaseModel):
    status: str = Field(description="live, stale, out_of_order or duplicate.")
    eta: str | None = Field(None, description="Estimated arrival (ISO 8601), when known.")
    remaining_km: float | None = None


class CheckinAnswer(BaseModel):
    id: int
    kind: str
    convoy: str
    at: str = Field(description="The check-in's time in the display time zone (ISO 8601).")


class TasksAnswer(BaseModel):
    convoy: str
    tasks: list[dict[str, Any]]


def _ref(model: type[BaseModel]) -> dict[str, str]:
    _MODELS[model.__name__] = model
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def body_of(contents: dict[str, type[BaseModel]], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` declaring a request body read by the handler (content type → model)."""
    content = {kind: {"schema": _ref(m)} for kind, m in contents.items()}
    return {"requestBody": {"required": required, "content": content}}


def query_of(model: type[BaseModel]) -> list[dict[str, Any]]:
    """The fields of ``model`` as optional query parameters."""
    schema = model.model_json_schema()
    return [
        {"name": name, "in": "query", "required": False, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody, "description": text}
    for code, text in {
        401: "No credentials, or unknown, expired or revoked ones.",
        403: "Authenticated, but this role, device or convoy may not do this.",
        413: "The body is larger than the endpoint takes.",
        422: "The request breaks a rule.",
    }.items()
}


def install_openapi(app: FastAPI) -> None:
    """Publish ``/openapi.json`` with the models the handlers validate by hand included."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        for name, model in _MODELS.items():
            schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(schema.pop("$defs", {}))
            schemas[name] = schema
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
