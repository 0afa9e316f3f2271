"""Members see the packs sent to them, and no other: packs made by the real pack job (R12) with
LibreOffice, version 1 before a second member joined, version 2 to both."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import run_due
from pipeline.outputs.convert import conversion_jobs
from pipeline.panel.distribute import pack_jobs
from pipeline.states import CaseState
from pipeline.store.models import Case, Pack
from pipeline.web.users import Role
from tests.helpers import drop, open_service
from tests.web.conftest import ACCOUNTS, OTHER_MEMBER, add_accounts, serve, sign_in

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# Slot notices go five days before the meeting of 8 December; the pack follows minutes later.
AFTER_NOTICE = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
FIRST_MEMBER = {"name": "Pat Police", "email": ACCOUNTS[Role.MEMBER], "agency": "Police"}
SECOND_MEMBER = {"name": "Hal Health", "email": OTHER_MEMBER, "agency": "Health"}


@dataclass
class Packs:
    url: str
    # Pack ids by version.
    versions: dict[int, int]


def approve(app: App, referrer: str) -> None:
    # As the pack tests do: screening by email is tested elsewhere (tests/panel).
    with app.store.session() as session:
        case = session.scalar(select(Case).where(Case.referrer_email == referrer))
        assert case is not None
        case.state = CaseState.APPROVED


def service(folder: Path, now: datetime, members: list[dict[str, Any]], **more: Any) -> App:
    return open_service(folder, now, people__members=members, **more)


@pytest.fixture(scope="module")
def packs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Packs]:
    folder = tmp_path_factory.mktemp("packs")
    app = service(folder, NOW, [FIRST_MEMBER])
    for n in (1, 2):
        child = samples.Child(name=f"Pack Child{n}", referrer_email=f"ref{n}@school.example.org")
        files = samples.full_referral(child)
        drop(app, samples.Mail(child.referrer_email, f"Referral {n}", files=files), NOW)
    poll(app)
    assert not run_due(app, [conversion_jobs]).failed
    approve(app, "ref1@school.example.org")
    add_accounts(app)
    app.close()
    app = service(folder, AFTER_NOTICE, [FIRST_MEMBER])
    assert len(run_due(app, [pack_jobs]).done) == 1
    deliver_configured(app)
    approve(app, "ref2@school.example.org")
    app.close()
    app = service(folder, AFTER_NOTICE + timedelta(hours=1), [FIRST_MEMBER, SECOND_MEMBER])
    assert len(run_due(app, [pack_jobs]).done) == 1
    deliver_configured(app)
    with app.store.session() as session:
        versions = {p.version: p.id for p in session.scalars(select(Pack))}
    assert sorted(versions) == [1, 2]
    server, thread, port = serve(app)
    try:
        yield Packs(f"http://127.0.0.1:{port}", versions)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        app.close()


def member(packs: Packs, email: str) -> httpx.Client:
    client = httpx.Client(base_url=packs.url)
    assert sign_in(client, email).status_code == 303
    return client


def words(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_a_member_lists_only_the_packs_sent_to_them(packs: Packs) -> None:
    second = member(packs, OTHER_MEMBER)
    listed = second.get("/packs")
    assert f'href="/packs/{packs.versions[2]}"' in listed.text
    assert f'href="/packs/{packs.versions[1]}"' not in listed.text
    first = member(packs, ACCOUNTS[Role.MEMBER])
    both = first.get("/packs").text
    assert all(f'href="/packs/{pack_id}"' in both for pack_id in packs.versions.values())


def test_a_member_cannot_open_another_members_pack(packs: Packs) -> None:
    second = member(packs, OTHER_MEMBER)
    refused = second.get(f"/packs/{packs.versions[1]}")
    assert refused.status_code == 403
    assert "You can open only the packs that were sent to you." in refused.text
    assert second.get("/packs/999999").status_code == 404


def test_a_member_sees_their_own_copy_and_not_who_else_received_it(packs: Packs) -> None:
    page = member(packs, OTHER_MEMBER).get(f"/packs/{packs.versions[2]}")
    assert page.status_code == 200
    text = words(page.text)
    assert "Pack for Tuesday 8 December 2026, version 2" in text
    assert OTHER_MEMBER in text and ACCOUNTS[Role.MEMBER] not in text
    assert "admin@example.org" not in text


def test_the_administrator_sees_every_recipient(packs: Packs) -> None:
    admin = member(packs, ACCOUNTS[Role.ADMINISTRATOR])
    text = words(admin.get(f"/packs/{packs.versions[2]}").text)
    for address in (OTHER_MEMBER, ACCOUNTS[Role.MEMBER], "admin@example.org"):
        assert address in text
