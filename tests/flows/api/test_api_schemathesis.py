"""Schemathesis against the live ASGI app: requests generated from the published OpenAPI
document (valid and invalid ones) to every endpoint, with the token of each role, a device's,
a wrong one and none, never get a 5xx."""

from __future__ import annotations

from collections.abc import Callable

import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from config import Settings
from flows.api.tracker import create_app
from tests.flows.api.people import make_people


def test_generated_requests_never_get_a_server_error(
    make_convoy: Callable[..., str], settings: Settings
) -> None:
    people = make_people(make_convoy, "BUS-FUZZ")
    app = create_app(settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = {f"{op.method.upper()} {op.path}" for op in
                  (r.ok() for r in schema.get_all_operations())}  # fmt: skip
    assert {"GET /osmand", "POST /osmand", "GET /osmand/{token}", "POST /api/checkins",
            "GET /api/convoy", "GET /api/tasks", "GET /reports/campaign",
            "GET /reports/convoys/{code}", "GET /files/{path}",
            "GET /health"} <= operations  # fmt: skip
    tokens = [None, "wrong", people.device, *people.tokens.values()]
    cases = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE),
        schema.as_strategy(GenerationMode.NEGATIVE),
        schema.as_strategy(GenerationMode.POSITIVE, query={"convoy": people.code}),
    )
    seen: set[tuple[str, int]] = set()

    @hypothesis_settings(
        max_examples=400,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases, token=st.sampled_from(tokens))
    def check(case: schemathesis.Case, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {"Authorization": ""}
        response = case.call(headers=headers)
        label = f"{case.method} {case.operation.path}"
        assert response.status_code < 500, (label, case.as_curl_command(), response.text[:500])
        seen.add((label, response.status_code))

    check()
    # The run reached past the door: some requests were accepted, some refused for each reason.
    statuses = {status for _, status in seen}
    assert {200, 401, 403} <= statuses and statuses & {400, 422}, sorted(seen)
