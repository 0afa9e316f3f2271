"""R5: a case reference in the subject joins its case only from the case's referrer; anyone
else's email is held for the administrator, and its sender learns nothing about the case."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from pipeline import samples
from pipeline.app import App
from pipeline.cli import app as cli
from pipeline.errors import ConfigError
from pipeline.intake.poll import poll
from pipeline.service import run_due_jobs
from pipeline.store.models import AuditEvent, ScreeningRequest, Slot
from tests.helpers import (
    Sent,
    config_tree,
    drop,
    everything_said,
    open_service,
    sent_mail,
    sent_to,
    status_of,
    status_rows,
)

# Two days before the December 2026 deadline (Tuesday 1 December, noon); the meeting is the 8th.
NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
SCHOOL = samples.Child()
REFERRER = f"{SCHOOL.referrer_name} <{SCHOOL.referrer_email}>"
FIRST = "MASP-2026-0001"
HELD = "MASP-2026-0002"
STRANGER = "mal@elsewhere.example.net"
# A form for another child that also claims a Section 20 emergency.
OTHER = samples.Child(
    name="Kit Otherchild",
    dob=date(2015, 2, 3),
    referrer_name="Mal Stranger",
    referrer_email=STRANGER,
    section20=True,
)
SCHOOL_FILES = [f.filename for f in samples.full_referral(SCHOOL)]


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    app = open_service(tmp_path, NOW)
    yield app
    app.close()


def refer(service: App, child: samples.Child = SCHOOL) -> None:
    sender = f"{child.referrer_name} <{child.referrer_email}>"
    files = samples.full_referral(child)
    drop(service, samples.Mail(sender, "Referral for panel", files=files), NOW - timedelta(hours=1))
    poll(service)


def quoting(sender: str, files: list[samples.File], **kwargs: object) -> samples.Mail:
    return samples.Mail(sender, f"{FIRST} updated referral", files=files, **kwargs)  # type: ignore[arg-type]


def chronology_v2() -> list[samples.File]:
    return [samples.File("Chronology v2.docx", samples.DOCX, samples.chronology(20))]


def masp(folder: Path, *args: str, now: datetime = NOW) -> Result:
    config = str(folder / "config.yaml")
    return CliRunner().invoke(cli, ["--config", config, "--now", now.isoformat(), *args])


def audited_by(service: App, action: str) -> list[object]:
    """Who the audit trail says did `action` (R17: the person, not just "administrator")."""
    with service.store.session() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.action == action))
        return [r.detail.get("by") for r in rows]


def assert_untouched(service: App) -> None:
    first = status_of(service, FIRST)
    assert sorted(d["filename"] for d in first["documents"]) == sorted(SCHOOL_FILES)
    assert not any(d["superseded"] for d in first["documents"])
    assert first["fields"]["child_name"] == SCHOOL.name
    assert first["section20"] is False


def assert_told_nothing(sent: list[Sent]) -> None:
    """One short notice, which names neither the case nor anything on it."""
    [notice] = sent
    said = everything_said(notice)
    for secret in (FIRST, SCHOOL.name, "Robin", "December", "8 Dec", *SCHOOL_FILES):
        assert secret not in said
    assert "administrator" in notice.text()


def test_a_stranger_quoting_a_reference_changes_nothing_and_learns_nothing(service: App) -> None:
    refer(service)
    drop(service, quoting(f"Mal Stranger <{STRANGER}>", samples.full_referral(OTHER)), NOW)
    poll(service)
    assert_untouched(service)
    held = status_of(service, HELD)
    assert held["state"] == "held" and held["meeting"] is None
    assert held["referrer"] == STRANGER
    assert any(FIRST in flag and "not its referrer" in flag for flag in held["flags"])
    assert_told_nothing(sent_to(service, STRANGER))
    # The form's Section 20 claim alerts nobody: the chair hears of nothing.
    assert sent_to(service, "chair@example.org") == []
    [alert] = [s for s in sent_to(service, "admin@example.org") if HELD in s.subject]
    body = alert.text()
    assert FIRST in body and STRANGER in body and "Section 20" in body
    assert f"masp case attach {HELD} --to {FIRST}" in body
    assert f"masp case release {HELD}" in body and f"masp case dismiss {HELD}" in body


def test_a_reply_to_header_elsewhere_is_a_stranger_too(service: App) -> None:
    refer(service)
    spoof = quoting(REFERRER, chronology_v2(), headers={"Reply-To": STRANGER})
    drop(service, spoof, NOW)
    poll(service)
    assert_untouched(service)
    assert status_of(service, HELD)["state"] == "held"
    assert_told_nothing(sent_to(service, STRANGER))


def test_a_stranger_without_attachments_is_held_too(service: App) -> None:
    refer(service)
    drop(service, samples.Mail(STRANGER, f"Progress on {FIRST}?", body="Any news?"), NOW)
    poll(service)
    assert status_of(service, HELD)["state"] == "held"
    assert_told_nothing(sent_to(service, STRANGER))


def test_the_referrer_quoting_the_reference_still_adds_to_the_case(service: App) -> None:
    refer(service)
    drop(service, quoting(REFERRER, chronology_v2()), NOW)
    poll(service)
    [case] = status_rows(service)
    versions = [
        (d["version"], d["superseded"]) for d in case["documents"] if d["kind"] == "chronology"
    ]
    assert versions == [(1, True), (2, False)]


def test_the_referrers_organisation_counts_only_when_configured(tmp_path: Path) -> None:
    colleague = "Head Teacher <head@school.example.org>"
    app = open_service(tmp_path, NOW)
    refer(app)
    drop(app, quoting(colleague, chronology_v2()), NOW)
    poll(app)
    assert [c["state"] for c in status_rows(app)] == ["complete", "held"]
    app.close()
    app = open_service(tmp_path, NOW, intake__reference_from_referrer_domain=True)
    drop(app, quoting(colleague, chronology_v2()), NOW + timedelta(minutes=5))
    poll(app)
    first = status_of(app, FIRST)
    assert [d["version"] for d in first["documents"] if d["kind"] == "chronology"] == [1, 2]
    assert len(status_rows(app)) == 2
    app.close()


def test_a_shared_webmail_domain_is_not_an_organisation(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW, intake__reference_from_referrer_domain=True)
    refer(app, samples.Child(referrer_email="jo.example@gmail.com"))
    drop(app, quoting("someone.else@gmail.com", chronology_v2()), NOW)
    poll(app)
    assert [c["state"] for c in status_rows(app)] == ["complete", "held"]
    assert_told_nothing(sent_to(app, "someone.else@gmail.com"))
    app.close()


def test_a_configured_shared_domain_is_not_an_organisation(tmp_path: Path) -> None:
    app = open_service(
        tmp_path,
        NOW,
        intake__reference_from_referrer_domain=True,
        intake__shared_mail_domains=["school.example.org"],
    )
    refer(app)
    drop(app, quoting("head@school.example.org", chronology_v2()), NOW)
    poll(app)
    assert [c["state"] for c in status_rows(app)] == ["complete", "held"]
    app.close()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("intake__reference_from_referrer_domain", "sometimes"),
        ("intake__shared_mail_domains", ["not a domain"]),
    ],
)
def test_the_intake_keys_are_validated(tmp_path: Path, key: str, value: object) -> None:
    from pipeline.config import parse_config

    with pytest.raises(ConfigError) as raised:
        parse_config(config_tree(**{key: value}), tmp_path, env={})
    assert key.replace("__", ".") in str(raised.value)


# --- What the rest of the cycle does with a held case: nothing until the administrator acts ---


def test_a_held_case_gets_no_reminders_screening_or_slot(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    refer(app)
    incomplete = [f for f in samples.full_referral(OTHER) if f.filename != "Chronology.docx"]
    drop(app, quoting(STRANGER, incomplete), NOW)
    drop(app, quoting("pat@elsewhere.example.net", samples.full_referral(OTHER)), NOW)
    poll(app)
    app.close()
    moments = [
        datetime(2026, 11, 30, 12, 5, tzinfo=UTC),  # the 24-hour reminder
        datetime(2026, 12, 1, 9, 5, tzinfo=UTC),  # the deadline-day reminder
        datetime(2026, 12, 1, 12, 5, tzinfo=UTC),  # the cut-off
        datetime(2026, 12, 3, 10, 30, tzinfo=UTC),  # timeslots and the pack
    ]
    for moment in moments:
        app = open_service(tmp_path, moment)
        run_due_jobs(app)
        app.close()
    app = open_service(tmp_path, moments[-1])
    assert [c["state"] for c in status_rows(app)][1:] == ["held", "held"]
    assert all(c["meeting"] is None for c in status_rows(app)[1:])
    assert len(sent_to(app, STRANGER)) == 1 and len(sent_to(app, "pat@elsewhere.example.net")) == 1
    with app.store.session() as session:
        held_ids = [2, 3]
        requests = session.scalars(
            select(ScreeningRequest).where(ScreeningRequest.case_id.in_(held_ids))
        ).all()
        slots = session.scalars(select(Slot).where(Slot.case_id.in_(held_ids))).all()
        assert requests == [] and slots == []
    app.close()


# --- The administrator acts on a held case --------------------------------------------------


def test_status_shows_a_held_case_and_why(tmp_path: Path, service: App) -> None:
    refer(service)
    drop(service, quoting(STRANGER, chronology_v2()), NOW)
    poll(service)
    table = masp(tmp_path, "status")
    assert table.exit_code == 0, table.output
    assert "held" in table.output and "masp case" in " ".join(table.output.split())
    listed = json.loads(masp(tmp_path, "status", "--json").output)
    assert [c["state"] for c in listed] == ["complete", "held"]
    detail = masp(tmp_path, "status", HELD)
    assert "not its referrer" in " ".join(detail.output.split())


def test_attach_adds_a_held_email_to_the_case_it_quoted(tmp_path: Path, service: App) -> None:
    refer(service)
    drop(service, quoting("head@school.example.org", chronology_v2()), NOW)
    poll(service)
    before = len(sent_to(service, SCHOOL.referrer_email))
    done = masp(tmp_path, "case", "attach", HELD, "--to", FIRST)
    assert done.exit_code == 0, done.output
    first = status_of(service, FIRST)
    chronologies = [d for d in first["documents"] if d["kind"] == "chronology"]
    assert [(d["version"], d["superseded"]) for d in chronologies] == [(1, True), (2, False)]
    assert status_of(service, HELD)["state"] == "closed"
    assert audited_by(service, "attached") == [f"cli:{getpass.getuser()}"]
    update = sent_to(service, SCHOOL.referrer_email)[before:]
    assert len(update) == 1 and FIRST in update[0].subject
    assert "Chronology v2.docx" in update[0].text()


def test_attach_takes_a_corrected_form_for_the_same_child(tmp_path: Path, service: App) -> None:
    refer(service)
    form = samples.File("Referral form v2.docx", samples.DOCX, samples.referral_form(SCHOOL))
    drop(service, quoting("head@school.example.org", [form]), NOW)
    poll(service)
    done = masp(tmp_path, "case", "attach", HELD)
    assert done.exit_code == 0, done.output
    first = status_of(service, FIRST)
    forms = [d for d in first["documents"] if d["kind"] == "referral_form"]
    assert [(d["filename"], d["superseded"]) for d in forms] == [
        ("Referral form.docx", True),
        ("Referral form v2.docx", False),
    ]
    assert not any(HELD in flag for flag in first["flags"])
    assert status_of(service, HELD)["documents"] == []


def test_attach_refuses_another_childs_form(tmp_path: Path, service: App) -> None:
    refer(service)
    drop(service, quoting(STRANGER, samples.full_referral(OTHER)), NOW)
    poll(service)
    refused = masp(tmp_path, "case", "attach", HELD, "--to", FIRST)
    assert refused.exit_code == 1
    assert "different child" in str(refused.exception)
    assert_untouched(service)
    assert status_of(service, HELD)["state"] == "held"


def test_release_makes_a_held_email_its_own_referral(tmp_path: Path, service: App) -> None:
    refer(service)
    other = samples.Child(name="Kit Otherchild", dob=date(2015, 2, 3), referrer_email=STRANGER)
    drop(service, quoting(STRANGER, samples.full_referral(other)), NOW)
    poll(service)
    done = masp(tmp_path, "case", "release", HELD)
    assert done.exit_code == 0, done.output
    held = status_of(service, HELD)
    assert held["state"] == "complete" and held["meeting"] == "2026-12-08"
    notice, ack = sent_to(service, STRANGER)
    assert "administrator" in notice.text()
    assert HELD in ack.subject and "referral received" in ack.subject
    assert FIRST not in everything_said(ack)
    assert_untouched(service)
    assert audited_by(service, "released") == [f"cli:{getpass.getuser()}"]
    again = masp(tmp_path, "case", "release", HELD)
    assert again.exit_code == 1 and "not held" in str(again.exception)


def test_dismiss_closes_a_held_case_and_sends_nothing(tmp_path: Path, service: App) -> None:
    refer(service)
    drop(service, quoting(STRANGER, chronology_v2()), NOW)
    poll(service)
    before = len(sent_mail(service))
    done = masp(tmp_path, "case", "dismiss", HELD)
    assert done.exit_code == 0, done.output
    assert status_of(service, HELD)["state"] == "closed"
    assert len(sent_mail(service)) == before
    assert audited_by(service, "dismissed") == [f"cli:{getpass.getuser()}"]
