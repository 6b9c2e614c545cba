"""The console over HTTP against a real uvicorn: sign-in and sign-out, the session cookie's
flags, expiry and tampering, CSRF, a manager refused on every POST route, uploads and their
reports, and no unmasked ID number or phone on any page."""

from __future__ import annotations

import csv
import io
import random
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlmodel import col
from starlette.routing import Mount

from flows.api.console import sessions
from models.access.audit import AuditEvent
from models.access.users import issue_token, revoke_token
from models.db import session_scope
from models.intake.identity import mask_id, synthetic_id, synthetic_mobile
from tests.flows.api.console.site import BUS, Site, csrf_of, sign_in, site


@pytest.fixture(scope="module")
def op(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with site(tmp_path_factory.mktemp("console-http")) as s:
        yield s


@pytest.fixture
def coordinator(op: Site) -> Iterator[tuple[httpx.Client, str]]:
    with op.client() as c:
        yield c, sign_in(c, op.tokens["coordinator"])


@pytest.fixture
def manager(op: Site) -> Iterator[tuple[httpx.Client, str]]:
    with op.client() as c:
        yield c, sign_in(c, op.tokens["manager"])


def post_routes(op: Site) -> list[str]:
    from flows.api.tracker import create_app

    app = create_app(op.settings)
    (console,) = [r for r in app.routes if isinstance(r, Mount) and r.path == "/console"]
    paths = []
    for route in console.routes:
        if "POST" in getattr(route, "methods", set()):
            path = "/console" + str(getattr(route, "path", "")).replace("{code}", BUS)
            path = path.replace("{number}", "TX-20200220-0001").replace("{step}", "survey")
            for verb in ("ack", "snooze", "resolve") if "{verb}" in path else ("",):
                paths.append(path.replace("{alert_id}", "1").replace("{verb}", verb))
    return paths


def test_sign_in_sets_a_strict_httponly_expiring_cookie_and_sign_out_ends_it(op: Site) -> None:
    with op.client() as c:
        first = c.get("/console/convoys/" + BUS)
        assert first.status_code == 303
        assert first.headers["location"].startswith("/console/login?next=/console/convoys/")
        page = c.get("/console/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]  # type: ignore[index]
        done = c.post(
            "/console/login",
            data={"csrf": csrf, "token": op.tokens["coordinator"], "next": "/console/alerts"},
        )
        assert done.status_code == 303 and done.headers["location"] == "/console/alerts"
        cookie = done.headers["set-cookie"].lower()
        for flag in ("httponly", "samesite=strict", "path=/console", "expires="):
            assert flag in cookie, cookie
        home = c.get("/console/")
        assert home.status_code == 200 and "王协调" in home.text
        for header in ("content-security-policy", "x-frame-options", "x-content-type-options"):
            assert header in home.headers
        out = c.post("/console/logout", data={"csrf": csrf_of(c)})
        assert out.status_code == 303 and out.headers["location"].endswith("why=signedout")
        assert c.get("/console/").headers["location"].startswith("/console/login")


def test_sign_in_refuses_bad_tokens_roles_without_pages_and_a_missing_form_token(
    op: Site,
) -> None:
    def form_token(page: httpx.Response) -> str:
        return re.search(r'name="csrf" value="([^"]+)"', page.text)[1]  # type: ignore[index]

    with op.client() as c:
        csrf = form_token(c.get("/console/login"))
        bad = c.post("/console/login", data={"csrf": csrf, "token": "cvo_nope"})
        assert bad.status_code == 401 and "unknown" in bad.text
        escort = c.post(
            "/console/login", data={"csrf": form_token(bad), "token": op.tokens["escort"]}
        )
        assert escort.status_code == 401 and "signed links" in escort.text
        assert sessions.COOKIE not in c.cookies
    with op.client() as c:  # no sign-in form cookie: a forged cross-site sign-in
        forged = c.post("/console/login", data={"csrf": csrf, "token": op.tokens["manager"]})
        assert forged.status_code == 403 and sessions.COOKIE not in c.cookies


def test_expired_tampered_and_revoked_sessions_send_you_to_sign_in(op: Site) -> None:
    with session_scope() as s:
        row, token = issue_token(s, "wang", days=1)
    with op.client() as c:
        sign_in(c, token)
        value = c.cookies[sessions.COOKIE]
        signed = sessions.read_cookie(value, op.settings)
        past = sessions.Signed(signed.user_id, signed.token_id, int(time.time()) - 5, signed.nonce)
        cases = {
            "expired": sessions.make_cookie(past, op.settings),
            "invalid": value.replace(f"{signed.user_id}.", f"{signed.user_id + 1}.", 1),
        }
    with op.client() as raw:
        for why, cookie in cases.items():
            jar = {"Cookie": f"{sessions.COOKIE}={cookie}"}
            r = raw.get("/console/alerts", headers=jar)
            assert r.status_code == 303 and r.headers["location"].endswith(f"why={why}"), why
            posted = raw.post("/console/alerts/1/ack", data={"csrf": "x"}, headers=jar)
            assert posted.status_code == 401
            # The board refreshing itself sends the whole page to sign-in, not into the table.
            part = raw.get(
                "/console/board",
                headers={**jar, "HX-Request": "true", "HX-Current-URL": f"{op.base}/console/"},
            )
            assert part.headers["hx-redirect"] == f"/console/login?next=/console/&why={why}"
    with op.client() as c:
        c.cookies.set(sessions.COOKIE, value)
        assert c.get("/console/alerts").status_code == 200
        with session_scope() as s:
            revoke_token(s, row.id or 0)
        r = c.get("/console/alerts")
        assert r.status_code == 303 and r.headers["location"].endswith("why=revoked")


def test_every_post_needs_the_sessions_csrf_token_and_the_same_origin(
    op: Site, coordinator: tuple[httpx.Client, str]
) -> None:
    c, csrf = coordinator
    for data in ({}, {"csrf": "0" * 64}):
        r = c.post("/console/alerts/1/snooze", data=data)
        assert r.status_code == 403 and "stale" in r.text
    foreign = c.post(
        "/console/alerts/1/snooze", data={"csrf": csrf}, headers={"Origin": "http://evil.test"}
    )
    assert foreign.status_code == 403
    with op.client() as other:  # another session's token does not fit this one
        other_csrf = sign_in(other, op.tokens["coordinator"])
    assert other_csrf != csrf
    assert c.post("/console/alerts/1/snooze", data={"csrf": other_csrf}).status_code == 403


def test_a_manager_is_refused_on_every_post_route(
    op: Site, manager: tuple[httpx.Client, str]
) -> None:
    c, csrf = manager
    routes = post_routes(op)
    assert len(routes) >= 6, routes
    for path in routes:
        if path in ("/console/login", "/console/logout"):
            continue
        r = c.post(path, data={"csrf": csrf, "convoy": "TRAIN-XY-01"})
        assert r.status_code == 403, (path, r.status_code, r.text[:300])
        assert "manager" in r.text
    for path in ("/console/intake", f"/console/intake/files/{BUS}/x.for-fixing.csv"):
        assert c.get(path).status_code == 403, path
    for path in ("/console/overview", "/console/alerts", f"/console/convoys/{BUS}"):
        page = c.get(path)
        assert page.status_code == 200, path
        forms = re.findall(r'<form method="post" action="([^"]+)"', page.text)
        assert forms == ["/console/logout"], (path, forms)
    with session_scope() as s:  # nothing a manager tried left a trace
        acts = s.execute(select(AuditEvent).where(col(AuditEvent.actor) == "li")).all()
    assert acts == []


def test_acknowledging_is_audited_as_the_signed_in_user(
    op: Site, coordinator: tuple[httpx.Client, str]
) -> None:
    c, csrf = coordinator
    alerts = c.get("/console/alerts").text
    open_ids = re.findall(r'data-ack="(\d+)"', alerts)
    assert open_ids
    r = c.post(f"/console/alerts/{open_ids[0]}/ack", data={"csrf": csrf, "back": "/console/"})
    assert r.status_code == 303 and r.headers["location"] == "/console/?done=alert-ack"
    assert f'data-alert="{open_ids[0]}" data-state="acknowledged"' in c.get("/console/alerts").text
    with session_scope() as s:
        event = s.execute(
            select(AuditEvent).where(col(AuditEvent.action) == "alert.acknowledged")
        ).scalar_one()
    assert (event.actor, event.role, event.via) == ("wang", "coordinator", "api")
    assert c.post("/console/alerts/999/ack", data={"csrf": csrf}).status_code == 404
    bad = c.post(f"/console/alerts/{open_ids[0]}/snooze", data={"csrf": csrf, "minutes": "x"})
    assert bad.status_code == 422


def test_starting_a_flow_without_a_served_deployment_says_what_to_do(
    coordinator: tuple[httpx.Client, str],
) -> None:
    c, csrf = coordinator
    r = c.post(f"/console/convoys/{BUS}/run", data={"csrf": csrf})
    assert r.status_code == 409 and "convoy serve" in r.text
    assert c.post("/console/convoys/NOPE/run", data={"csrf": csrf}).status_code == 404


def _manifest(rng: random.Random) -> tuple[bytes, str, str]:
    good, bad = synthetic_id(rng, "411502"), "41150219900101123X"
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["序号", "姓名", "身份证号", "手机号", "用工企业"])
    w.writerow([301, "测试甲", good, synthetic_mobile(rng), "宁波鄞州甬丰模具有限公司"])
    w.writerow([302, "测试乙", bad, synthetic_mobile(rng), "宁波鄞州甬丰模具有限公司"])
    w.writerow([303, "测试丙", synthetic_id(rng, "411502"), "12345", "宁波鄞州甬丰模具有限公司"])
    return out.getvalue().encode("utf-8"), good, bad


def test_a_manifest_upload_shows_its_report_masked_and_offers_the_file_for_fixing(
    op: Site, coordinator: tuple[httpx.Client, str], manager: tuple[httpx.Client, str]
) -> None:
    c, csrf = coordinator
    body, good, bad = _manifest(random.Random(7))
    files = {"file": ("新名单.csv", body, "text/csv")}
    r = c.post(
        "/console/intake/manifest", data={"csrf": csrf, "convoy": "TRAIN-XY-01"}, files=files
    )
    assert r.status_code == 200, r.text[:500]
    assert "id_invalid" in r.text and "phone_invalid" in r.text
    assert bad not in r.text and good not in r.text and mask_id(bad) in r.text
    links = dict(re.findall(r'href="([^"]+)" data-file="(\w+)"', r.text))
    fixing = next(href for href, key in links.items() if key == "for_fixing")
    got = c.get(fixing)
    assert got.status_code == 200 and bad in got.text  # full data, for fixing, by design
    assert manager[0].get(fixing).status_code == 403
    again = c.post(
        "/console/intake/manifest", data={"csrf": csrf, "convoy": BUS}, files=files
    )  # BUS has departed: a manifest is refused with its reason
    assert again.status_code == 422 and "planned" in again.text
    wrong = c.post(
        "/console/intake/manifest",
        data={"csrf": csrf, "convoy": "TRAIN-XY-01"},
        files={"file": ("x.exe", b"MZ", "application/octet-stream")},
    )
    assert wrong.status_code == 422 and "CSV or XLSX" in wrong.text
    assert c.get(fixing.replace("for-fixing", "..%2Fx")).status_code == 404
    # The upload itself is not kept anywhere under the var folder.
    assert not list(Path(op.settings.var_dir).rglob("新名单.csv"))


def test_an_enterprise_list_upload_reports_its_rows(coordinator: tuple[httpx.Client, str]) -> None:
    c, csrf = coordinator
    body = (
        "企业名称,所在区县,地址,联系人,联系电话\n"
        "宁波测试新材料有限公司,宁波市江北区,路1号,张三,13800001111\n"
        ",宁波市江北区,,,\n"
    )
    r = c.post(
        "/console/intake/enterprises",
        data={"csrf": csrf},
        files={"file": ("企业.csv", body.encode(), "text/csv")},
    )
    assert r.status_code == 200, r.text[:500]
    assert 'id="enterprise-result"' in r.text and "13800001111" not in r.text


@pytest.mark.parametrize("role", ["coordinator", "manager", "permit_officer"])
def test_no_page_shows_an_unmasked_id_number_or_phone(op: Site, role: str) -> None:
    with op.client() as c:
        sign_in(c, op.tokens[role])
        numbers = re.findall(r'data-permit="([^"]+)"', c.get("/console/permits").text)
        assert len(numbers) >= 2
        paths = ["/console/", "/console/permits"] + [f"/console/permits/{n}" for n in numbers]
        if role != "permit_officer":
            paths += ["/console/board?show=all", "/console/alerts?all=1", "/console/overview"]
            paths += [f"/console/convoys/{code}" for code in (BUS, "TRAIN-XY-01", "FLIGHT-KWE-01")]
        if role == "coordinator":
            paths.append("/console/intake")
        seen = 0
        for path in paths:
            r = c.get(path, follow_redirects=True)
            assert r.status_code == 200, path
            leaked = [v for v in op.full["ids"] + op.full["phones"] if v in r.text]
            assert not leaked, (path, leaked[:3])
            seen += len(re.findall(r"\d{4}\*{10}[\dX]{4}", r.text))
        if role != "permit_officer":
            assert seen >= 45 + 300 + 150  # the rosters are there, masked


def test_a_coordinator_starts_the_convoys_one_flow_run_as_convoy_run_does(
    coordinator: tuple[httpx.Client, str], prefect_api: str
) -> None:
    """With the convoy deployment known to the Prefect server, the button creates the convoy's
    deployment run (tagged with the convoy and who asked); a second press gets the same run."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    from flows.service.deployments import deployments

    c, csrf = coordinator
    deployment_id = deployments()[0].apply()
    try:
        for _ in range(2):
            r = c.post("/console/convoys/TRAIN-XY-01/run", data={"csrf": csrf})
            assert r.status_code == 303, r.text[:400]
            assert r.headers["location"] == "/console/convoys/TRAIN-XY-01?done=run-started"
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(tags=FlowRunFilterTags(all_=["convoy:TRAIN-XY-01"]))
            )
            assert len(runs) == 1
            assert runs[0].parameters == {"code": "TRAIN-XY-01"} and "by:wang" in runs[0].tags
            for run in runs:
                client.delete_flow_run(run.id)
    finally:
        with get_client(sync_client=True) as client:
            client.delete_deployment(deployment_id)


def test_a_permit_officer_takes_an_application_from_survey_to_delivery(op: Site) -> None:
    with op.client() as c:
        csrf = sign_in(c, op.tokens["permit_officer"])
        home = c.get("/console/")
        assert home.headers["location"] == "/console/permits"
        assert c.get("/console/board").status_code == 403  # no convoys for this role
        listing = c.get("/console/permits").text
        rows = dict(re.findall(r'data-permit="([^"]+)" data-status="(\w+)"', listing))
        (today,) = [n for n, status in rows.items() if status == "applied"]
        assert "距午夜" in listing and "未能当日办结" in listing and "139****5678" in listing
        step = f"/console/permits/{today}"
        assert c.post(f"{step}/issue", data={"csrf": csrf}).status_code == 409  # out of order
        assert c.post(f"{step}/fly", data={"csrf": csrf}).status_code == 404
        assert c.post(f"{step}/route", data={"csrf": csrf, "vias": ""}).status_code == 422
        for name, data in (
            ("survey", {"verdict": "ok", "note": "gate fine"}),
            ("route", {"vias": "宁波站; 29.93,121.85"}),
            ("issue", {}),
            ("deliver", {"to": "王经理", "back": "list"}),
        ):
            r = c.post(f"{step}/{name}", data={"csrf": csrf, **data})
            assert r.status_code == 303, (name, r.text[:300])
        assert r.headers["location"] == "/console/permits?done=permit-deliver"
        page = c.get(step).text
        assert "已送达" in page and page.count("sun") >= 4 and "宁波站" in page
        drawn = c.get(f"{step}/map")
        assert drawn.status_code == 303 and drawn.headers["location"].startswith("/files/permits/")
        assert c.get(drawn.headers["location"]).status_code == 200
    with session_scope() as s:
        mine = s.execute(select(AuditEvent).where(col(AuditEvent.actor) == "sun")).scalars().all()
    assert len(mine) >= 5 and {e.via for e in mine} == {"api"}
