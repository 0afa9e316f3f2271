"""A running console over a store filled by the real intake of synthetic referrals.

`console` (one per test module: the intake and the server take seconds) serves `masp web`'s
Starlette app with uvicorn in a thread on 127.0.0.1; on the PostgreSQL pass its store is a
database of its own. `signed_in(console, role)` gives an httpx client already signed in.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from starlette.applications import Starlette

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import run_due
from pipeline.panel.screening.jobs import screening_jobs
from pipeline.store.models import Case
from pipeline.web.app import create_app
from pipeline.web.users import Role, add_local
from tests.helpers import drop, numbered_referral, open_service
from tests.postgres import Postgres, on_postgres

# Two days before the December 2026 deadline (Tuesday 1 December, noon); the meeting is the 8th.
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
# One account per role, and a second member (whose packs the first must not open).
ACCOUNTS = {
    Role.ADMINISTRATOR: "admin@example.org",
    Role.CHAIR: "chair@example.org",
    Role.SERVICE_MANAGER: "sm@example.org",
    Role.MEMBER: "m1@example.org",
}
OTHER_MEMBER = "m2@example.org"
# A child's name a hostile referrer wrote: it must show as text, never run.
SCRIPT_NAME = '<script>document.title="pwned"</script> Scriptkid'
STRANGER = "mal@elsewhere.example.net"
FIRST = "MASP-2026-0001"


@dataclass
class Console:
    url: str
    app: App
    # The Starlette application the server runs (a test may swap its state's App).
    web: Starlette
    server: uvicorn.Server
    folder: Path
    # Case references by what the test made them for.
    references: dict[str, str] = field(default_factory=dict)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False, timeout=30)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF token"
    return found.group(1)


def sign_in(client: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    form = client.get("/sign-in")
    return client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
    )


def signed_in(console: Console, role: Role) -> httpx.Client:
    client = console.client()
    answer = sign_in(client, ACCOUNTS[role])
    assert answer.status_code == 303, answer.text
    return client


def fill(service: App) -> dict[str, str]:
    """Referrals through the real intake, then the due jobs (screening requests go out):
    three whole ones, one for a child whose name holds markup, one with only its form
    (incomplete: nobody is asked to screen it), two strangers' emails quoting a reference
    (held), and one too large (quarantined). Returns the references by what they are for."""
    at = iter(NOW - timedelta(minutes=m) for m in range(60, 0, -5))
    for n in (1, 2, 3):
        drop(service, numbered_referral("W", n), next(at))
    child = samples.Child(name=SCRIPT_NAME, referrer_email="ref9@school.example.org")
    sender = f"Referrer 9 <{child.referrer_email}>"
    drop(service, samples.Mail(sender, "Referral 9", files=samples.full_referral(child)), next(at))
    form_only = samples.Child(name="Formonly Child", referrer_email="ref8@school.example.org")
    files = samples.full_referral(form_only)[:1]
    drop(service, samples.Mail(form_only.referrer_email, "Referral 8", files=files), next(at))
    for n in (1, 2):
        mail = samples.Mail(STRANGER, f"Progress {n} on {FIRST}?", body="Any news?")
        drop(service, mail, next(at))
    big = samples.File("scan.pdf", samples.PDF, b"%PDF-1.4\n" + b"0" * 2_100_000)
    drop(service, samples.Mail("big@school.example.org", "Big referral", files=[big]), next(at))
    poll(service)
    run_due(service, [screening_jobs])
    deliver_configured(service)
    with service.store.session() as session:
        by_referrer = [(c.referrer_email, c.reference) for c in session.scalars(select(Case))]
    found = {email: ref for email, ref in by_referrer if email != STRANGER}
    held = sorted(ref for email, ref in by_referrer if email == STRANGER)
    assert found["ref1@school.example.org"] == FIRST
    return {
        "script": found[child.referrer_email],
        "incomplete": found[form_only.referrer_email],
        "held": held[0],
        "held2": held[1],
    }


def add_accounts(service: App) -> None:
    with service.store.session() as session:
        for role, email in ACCOUNTS.items():
            add_local(session, email, role, PASSWORD, f"Test {role.value}", NOW)
        add_local(session, OTHER_MEMBER, Role.MEMBER, PASSWORD, "Second member", NOW)


def serve(app: App) -> tuple[uvicorn.Server, threading.Thread, int]:
    """The console on a free loopback port, as `masp web` runs it, in a thread."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(app), log_level="warning", lifespan="off", server_header=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    return server, thread, port


@pytest.fixture(scope="module")
def console(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("console")
    with ExitStack() as stack:
        overrides: dict[str, object] = {"limits__max_email_bytes": 2_000_000}
        # A test module may configure more (CONSOLE_CONFIG, e.g. a second panel).
        overrides |= getattr(request.module, "CONSOLE_CONFIG", {})
        if on_postgres():
            postgres: Postgres = request.getfixturevalue("postgres")
            overrides["database"] = stack.enter_context(postgres.database())
        service = open_service(folder, NOW, **overrides)
        stack.callback(service.close)
        references = fill(service)
        add_accounts(service)
        server, thread, port = serve(service)
        web = server.config.app
        assert isinstance(web, Starlette)
        yield Console(f"http://127.0.0.1:{port}", service, web, server, folder, references)
        server.should_exit = True
        thread.join(timeout=10)
