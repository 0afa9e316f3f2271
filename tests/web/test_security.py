"""SPEC §7 for the console: CSRF on every form, roles on the server, a strict CSP with no inline
script, the session cookie's flags and timeout, escaping, and the sign-in throttle."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import logging
import re
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from starlette.routing import Mount, Route

from pipeline.clock import Clock
from pipeline.store.models import AuditEvent, Case, WebSession
from pipeline.web.app import create_app
from pipeline.web.security import CSP
from pipeline.web.users import Role, add_local, remove
from tests.web.conftest import (
    ACCOUNTS,
    NOW,
    PASSWORD,
    Console,
    csrf_of,
    serve,
    sign_in,
    signed_in,
)

PAGES = ["/board", "/cases/MASP-2026-0001", "/mail", "/screening", "/packs", "/sign-in"]
# Routes anyone may reach: the sign-in forms (their POST checks its CSRF token itself).
PUBLIC = {"/sign-in", "/sign-in/entra", "/sign-in/entra/callback"}


def from_address(client: httpx.Client, address: str) -> httpx.Client:
    """Requests as if from `address`: the console trusts X-Forwarded-For from 127.0.0.1 (the
    reverse proxy's place), as `masp web` runs it."""
    client.headers["X-Forwarded-For"] = address
    return client


def test_every_route_is_role_checked_or_listed_as_public(console: Console) -> None:
    app = create_app(console.app)
    unguarded = []
    for route in app.routes:
        if isinstance(route, Mount):
            assert route.path == "/static"
            continue
        assert isinstance(route, Route)
        if not getattr(route.endpoint, "guarded", False) and route.path not in PUBLIC:
            unguarded.append(route.path)
    assert unguarded == []


@pytest.mark.parametrize("path", PAGES)
def test_each_page_has_a_strict_csp_and_no_inline_script_or_style(
    console: Console, path: str
) -> None:
    page = signed_in(console, Role.ADMINISTRATOR).get(path)
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert "default-src 'self'" in CSP and "unsafe-inline" not in CSP
    assert "frame-ancestors 'none'" in CSP
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    scripts = re.findall(r"<script\b[^>]*>", page.text)
    assert scripts and all(" src=" in tag for tag in scripts)
    # Every script element is empty: its code is in the file it names.
    assert re.search(r"<script\b[^>]*>(?!</script>)", page.text) is None
    assert "<style" not in page.text and " style=" not in page.text
    assert re.search(r" on[a-z]+=", page.text) is None


def test_every_form_carries_the_csrf_token(console: Console) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    for path in ("/board", "/mail", "/sign-in"):
        html = client.get(path).text
        forms = re.findall(r"<form\b.*?</form>", html, flags=re.S)
        assert forms
        for form in forms:
            assert 'method="post"' in form
            assert 'name="csrf_token"' in form


def test_a_form_posted_without_its_csrf_token_is_refused(console: Console) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    held = console.references["held"]
    for data in ({}, {"csrf_token": "forged"}):
        refused = client.post(f"/mail/held/{held}/dismiss", data=data)
        assert refused.status_code == 403
        assert "This form could not be accepted" in refused.text
    # Nor is another session's token good for this one.
    other = signed_in(console, Role.ADMINISTRATOR)
    token = csrf_of(other.get("/mail").text)
    assert client.post(f"/mail/held/{held}/dismiss", data={"csrf_token": token}).status_code == 403
    fresh = console.client()
    no_token = fresh.post(
        "/sign-in", data={"email": ACCOUNTS[Role.ADMINISTRATOR], "password": PASSWORD}
    )
    assert no_token.status_code == 403
    with console.app.store.session() as session:
        case = session.scalar(select(Case).where(Case.reference == held))
        assert case is not None and case.state == "held"


@pytest.mark.parametrize("path", ["/board", "/mail", "/screening", "/cases/MASP-2026-0001"])
def test_a_member_is_refused_administrator_routes(console: Console, path: str) -> None:
    refused = signed_in(console, Role.MEMBER).get(path)
    assert refused.status_code == 403
    assert "Your role does not let you open this page." in refused.text


def test_a_member_cannot_post_an_administrator_action(console: Console) -> None:
    client = signed_in(console, Role.MEMBER)
    token = csrf_of(client.get("/packs").text)
    held = console.references["incomplete"]
    assert client.post(f"/mail/held/{held}/dismiss", data={"csrf_token": token}).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in_and_back(console: Console) -> None:
    client = console.client()
    answer = client.get("/cases/MASP-2026-0002")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/sign-in?next=/cases/MASP-2026-0002"
    form = client.get(answer.headers["location"])
    back = client.post(
        "/sign-in?next=/cases/MASP-2026-0002",
        data={
            "email": ACCOUNTS[Role.CHAIR],
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
        },
    )
    assert back.headers["location"] == "/cases/MASP-2026-0002"


@pytest.mark.parametrize("target", ["//evil.example.net/", "https://evil.example.net/", "/\\evil"])
def test_sign_in_never_sends_a_person_to_another_site(console: Console, target: str) -> None:
    client = console.client()
    form = client.get("/sign-in")
    answer = client.post(
        "/sign-in",
        params={"next": target},
        data={
            "email": ACCOUNTS[Role.CHAIR],
            "password": PASSWORD,
            "csrf_token": csrf_of(form.text),
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/"


def test_the_session_cookie_is_strict_and_http_only(console: Console) -> None:
    client = console.client()
    form = client.get("/sign-in")
    # Over plain HTTP on loopback, no HSTS: it would lock a browser out of the console.
    assert "strict-transport-security" not in form.headers
    cookie = form.headers["set-cookie"]
    assert cookie.startswith("masp_session=")
    assert "samesite=strict" in cookie.lower() and "httponly" in cookie.lower()
    # Not behind TLS here (web.behind_tls is false): Secure would stop the cookie over http.
    assert "secure" not in cookie.lower().replace("samesite", "")


def test_behind_tls_the_cookie_is_secure_and_host_only(console: Console) -> None:
    web = console.app.config.web.model_copy(update={"behind_tls": True})
    config = console.app.config.model_copy(update={"web": web})
    server, thread, port = serve(dataclasses.replace(console.app, config=config))
    try:
        page = httpx.get(f"http://127.0.0.1:{port}/sign-in")
        cookie = page.headers["set-cookie"]
        assert page.headers["strict-transport-security"] == "max-age=31536000"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    # The __Host- prefix: browsers insist on Secure, path / and no Domain for it.
    assert cookie.startswith("__Host-masp=")
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags
    assert "path=/" in flags and not any(f.startswith("domain=") for f in flags)


def test_a_session_idle_too_long_must_sign_in_again(console: Console) -> None:
    client = signed_in(console, Role.CHAIR)
    assert client.get("/board").status_code == 200
    later = dataclasses.replace(console.app, clock=Clock.frozen_at(NOW + timedelta(minutes=31)))
    state = console.web.state
    state.masp = later
    try:
        answer = client.get("/board")
    finally:
        state.masp = console.app
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")
    page = client.get(answer.headers["location"])
    assert "You were signed out: the console was not used for a while" in page.text
    # The session stays ended when the clock is back: it was closed on the server.
    assert client.get("/board").status_code == 303


def test_ten_wrong_passwords_throttle_the_account(console: Console) -> None:
    # An account of its own: it stays throttled for the rest of the module (the clock is fixed).
    email = "guessed@example.org"
    with console.app.store.session() as session:
        add_local(session, email, Role.CHAIR, PASSWORD, "Guessed", NOW)
    for n in range(10):
        client = from_address(console.client(), f"203.0.113.{n + 1}")
        wrong = sign_in(client, email, "not the password")
        assert wrong.status_code == 400
        assert "The email address or the password is wrong." in wrong.text
    client = from_address(console.client(), "203.0.113.50")
    throttled = sign_in(client, email)
    assert throttled.status_code == 429
    # Fifteen minutes after the tenth wrong password (09:00 UTC is 09:00 in London in winter).
    assert "Try again after 09:15 on 29 November." in throttled.text
    # Other accounts are not held up.
    assert sign_in(client, ACCOUNTS[Role.MEMBER]).status_code == 303


def test_ten_wrong_passwords_from_one_address_throttle_that_address(console: Console) -> None:
    client = from_address(console.client(), "198.51.100.7")
    for n in range(10):
        assert sign_in(client, f"nobody{n}@example.org", "guess").status_code == 400
    throttled = sign_in(client, ACCOUNTS[Role.SERVICE_MANAGER])
    assert throttled.status_code == 429
    assert "Try again after" in throttled.text
    other = from_address(console.client(), "198.51.100.8")
    assert sign_in(other, ACCOUNTS[Role.SERVICE_MANAGER]).status_code == 303


def test_signing_in_and_out_is_audited_with_the_person(console: Console) -> None:
    client = signed_in(console, Role.SERVICE_MANAGER)
    token = csrf_of(client.get("/screening").text)
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    assert client.get("/screening").status_code == 303
    with console.app.store.session() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.in_(["signed-in", "signed-out"]))
        ).all()
        who = {(e.action, e.detail["by"]) for e in events}
    assert ("signed-in", "web:sm@example.org") in who
    assert ("signed-out", "web:sm@example.org") in who


def test_no_childs_name_reaches_a_url(console: Console) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    for path in ("/board", "/mail", "/screening", "/cases/MASP-2026-0001"):
        links = re.findall(r'(?:href|action)="([^"]+)"', client.get(path).text)
        for link in links:
            assert "Child" not in link and "Scriptkid" not in link and "@" not in link


def test_no_childs_name_reaches_the_log(console: Console, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = signed_in(console, Role.ADMINISTRATOR)
    for reference in (console.references["script"], "MASP-2026-0001", "MASP-2026-9999"):
        client.get(f"/cases/{reference}")
    for path in ("/board", "/mail", "/screening"):
        client.get(path)
    token = csrf_of(client.get("/mail").text)
    client.post(
        f"/mail/held/{console.references['incomplete']}/dismiss", data={"csrf_token": token}
    )
    assert caplog.records, "nothing was logged: the check would prove nothing"
    for name in ("Child W1", "Scriptkid", "Formonly", "2016-04-12"):
        assert name not in caplog.text


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(console: Console) -> None:
    client = signed_in(console, Role.CHAIR)
    copy = httpx.Client(base_url=console.url, cookies=dict(client.cookies))
    assert copy.get("/board").status_code == 200
    token = csrf_of(client.get("/board").text)
    assert client.post("/sign-out", data={"csrf_token": token}).status_code == 303
    answer = copy.get("/board")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_a_removed_account_is_signed_out_at_its_next_click(console: Console) -> None:
    with console.app.store.session() as session:
        add_local(session, "leaver@example.org", Role.CHAIR, PASSWORD, "Leaver", NOW)
    client = console.client()
    assert sign_in(client, "leaver@example.org").status_code == 303
    assert client.get("/board").status_code == 200
    with console.app.store.session() as session:
        remove(session, "leaver@example.org")
    assert client.get("/board").status_code == 303


def test_the_cookie_holds_a_token_not_the_account(console: Console) -> None:
    client = signed_in(console, Role.CHAIR)
    with console.app.store.reading() as session:
        stored = session.scalars(select(WebSession.token_sha256)).all()
    cookie = client.cookies["masp_session"]
    # Starlette's cookie is base64 JSON plus a signature: the token is in it, its hash is kept.
    payload = json.loads(base64.b64decode(cookie.split(".")[0] + "=="))
    assert "sid" in payload and set(payload) <= {"sid", "csrf_token"}
    assert hashlib.sha256(payload["sid"].encode()).hexdigest() in stored
    assert payload["sid"] not in stored
