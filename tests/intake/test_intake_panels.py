"""R1 at intake: one mailbox, several panels. A referral goes to the panel its address means,
else the one its form names; one that came without a form moves when its first form arrives,
unless its address chose the panel."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.app import App
from pipeline.clock import Clock
from pipeline.intake.poll import poll
from pipeline.store.models import Case
from tests.helpers import config_tree, drop, open_service, sent_mail

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SOUTH = {
    "id": "masg-south",
    "name": "MASG South",
    "locality": "Southtown",
    "meetings": {"rrule": "FREQ=WEEKLY;INTERVAL=2;BYDAY=TH", "time": "14:00"},
    "deadline": {"days_before": 5, "time": "12:00"},
    "slot_notice_days": 2,
    "addresses": ["masg-south@example.org"],
}
CHILD = samples.Child(panel="Southtown locality")


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    service = open_service(tmp_path, NOW, panels=[config_tree()["panels"][0], SOUTH])
    yield service
    service.close()


def cases(app: App) -> list[Case]:
    with app.store.session() as session:
        found = list(session.scalars(select(Case).order_by(Case.id)))
        session.expunge_all()
        return found


def send(app: App, mail: samples.Mail, minutes: int) -> App:
    """The mail, received `minutes` after NOW and read a minute later."""
    drop(app, mail, NOW + timedelta(minutes=minutes))
    later = replace(app, clock=Clock.frozen_at(NOW + timedelta(minutes=minutes + 1)))
    poll(later)
    return later


def without_form(to: str = "panel@example.org") -> samples.Mail:
    files = [f for f in samples.full_referral(CHILD) if f.filename != "Referral form.docx"]
    return samples.Mail(f"Jo <{CHILD.referrer_email}>", "Referral", files=files, to=to)


def the_form(app: App, child: samples.Child = CHILD) -> samples.Mail:
    [ack] = [s for s in sent_mail(app) if "referral received" in s.subject]
    form = samples.File("Referral form.docx", samples.DOCX, samples.referral_form(child))
    return samples.Mail(
        f"Jo <{child.referrer_email}>",
        f"RE: {ack.subject}",
        files=[form],
        in_reply_to=ack.message_id,
    )


def test_a_referral_without_a_form_moves_to_the_panel_its_first_form_names(app: App) -> None:
    send(app, without_form(), 0)
    [case] = cases(app)
    assert (case.panel_id, case.reference) == ("masp", "MASP-2026-0001")
    send(app, the_form(app), 10)
    [case] = cases(app)
    # MASG South meets every other Thursday: on 26 November 2026 (its deadline, Saturday 21
    # November, had passed when the referral arrived) and next on 10 December.
    assert case.panel_id == "masg-south" and case.reference == "MASP-2026-0001"
    assert case.meeting == datetime(2026, 12, 10, 14, 0, tzinfo=UTC)
    [update] = [s for s in sent_mail(app) if "MASP-2026-0001" in s.subject][1:]
    assert "MASG South" in update.text() and "Thursday 10 December 2026, 14:00" in update.text()


def test_a_referral_the_address_routed_stays_whatever_its_form_says_later(app: App) -> None:
    send(app, without_form("panel+masp@example.org"), 0)
    send(app, the_form(app), 10)
    [case] = cases(app)
    assert case.panel_id == "masp"


def test_only_the_first_form_routes(app: App) -> None:
    send(app, without_form(), 0)
    send(app, the_form(app, replace(CHILD, panel="MASP")), 10)
    send(app, the_form(app), 20)
    [case] = cases(app)
    assert case.panel_id == "masp"


def test_the_alias_wins_over_the_form_and_the_case_is_flagged(app: App) -> None:
    mail = samples.Mail(
        f"Jo <{CHILD.referrer_email}>",
        "Referral",
        files=samples.full_referral(replace(CHILD, panel="MASP")),
        to="MASG South <masg-south@example.org>",
    )
    send(app, mail, 0)
    [case] = cases(app)
    assert case.panel_id == "masg-south" and case.reference.startswith("MASGSOUTH-")
    assert any("its form names panel masp" in flag for flag in case.flags)
    [ack] = sent_mail(app)
    assert "MASG South" in ack.text()
