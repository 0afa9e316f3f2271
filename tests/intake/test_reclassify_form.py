"""R17: a document made into, or out of, the referral form (`masp case reclassify`). Into: the
stored file is read again as a form by the isolated reader and the case takes its answers; out:
the case's answers fall back to the newest form left, or stay, flagged, when none is. Seen in
`masp status`, the mail the referrer gets and the audit trail."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from pipeline import samples
from pipeline.app import App
from pipeline.cli import app as cli
from pipeline.intake.poll import poll
from pipeline.intake.reread import NO_FORM_LEFT
from pipeline.store.models import AuditEvent
from tests.helpers import drop, open_service, sent_to, status_of

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
CHILD = samples.Child()
REFERRER = f"{CHILD.referrer_name} <{CHILD.referrer_email}>"
REF = "MASP-2026-0001"
FORM = "Referral form.docx"
ME = f"cli:{getpass.getuser()}"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[App]:
    app = open_service(tmp_path, NOW)
    drop(app, samples.Mail(REFERRER, "Referral", files=samples.full_referral(CHILD)), NOW)
    poll(app)
    yield app
    app.close()


def masp(folder: Path, *args: str) -> Result:
    config = str(folder / "config.yaml")
    return CliRunner().invoke(cli, ["--config", config, "--now", NOW.isoformat(), *args])


def reclassified(app: App) -> list[dict[str, Any]]:
    with app.store.session() as session:
        query = select(AuditEvent.detail).where(AuditEvent.action == "reclassified")
        return list(session.scalars(query.order_by(AuditEvent.id)))


def kinds(app: App) -> dict[str, str]:
    return {d["filename"]: d["kind"] for d in status_of(app, REF)["documents"]}


def test_the_only_form_out_and_back_in(tmp_path: Path, service: App) -> None:
    assert status_of(service, REF)["state"] == "complete"
    out = masp(tmp_path, "case", "reclassify", REF, FORM, "other")
    assert out.exit_code == 0, out.output
    assert "No other referral form is left" in out.output
    case = status_of(service, REF)
    assert (case["state"], case["missing"]) == ("incomplete", ["referral_form"])
    # Its answers stay (nothing else says who the child is), flagged for the administrator.
    assert case["fields"]["child_name"] == CHILD.name
    assert NO_FORM_LEFT in case["flags"]
    told = sent_to(service, CHILD.referrer_email)[-1]
    assert "documents still needed" in told.subject and "Referral form" in told.text()

    back = masp(tmp_path, "case", "reclassify", REF, FORM, "referral_form")
    assert back.exit_code == 0, back.output
    assert "answers (child, request, consent) are read from it" in back.output
    case = status_of(service, REF)
    assert (case["state"], case["missing"]) == ("complete", [])
    assert NO_FORM_LEFT not in case["flags"]
    assert case["fields"]["child_name"] == CHILD.name
    assert case["fields"]["child_dob"] == CHILD.dob.isoformat()
    assert kinds(service)[FORM] == "referral_form"
    told = sent_to(service, CHILD.referrer_email)[-1]
    assert told.subject == f"{REF}: documents checked again — referral complete"
    assert [(e["was"], e["now"], e["by"]) for e in reclassified(service)] == [
        ("referral_form", "other", ME),
        ("other", "referral_form", ME),
    ]


def test_taking_away_the_newest_form_falls_back_to_the_one_before(
    tmp_path: Path, service: App
) -> None:
    corrected = samples.Child(referrer_name="Jo Corrected", agency="Health")
    form = samples.File("Corrected form.docx", samples.DOCX, samples.referral_form(corrected))
    mail = samples.Mail(REFERRER, f"{REF} corrected form", files=[form])
    drop(service, mail, NOW + timedelta(minutes=5))
    poll(service)
    assert status_of(service, REF)["fields"]["referrer_name"] == "Jo Corrected"

    done = masp(tmp_path, "case", "reclassify", REF, "Corrected form.docx", "other")
    assert done.exit_code == 0, done.output
    assert "read again from the form left" in done.output
    case = status_of(service, REF)
    assert case["fields"]["referrer_name"] == CHILD.referrer_name
    assert case["fields"]["child_name"] == CHILD.name
    assert (case["state"], NO_FORM_LEFT in case["flags"]) == ("complete", False)
    forms = [d for d in case["documents"] if d["kind"] == "referral_form"]
    assert [(d["filename"], d["superseded"]) for d in forms] == [(FORM, False)]

    # Made a form again, it is the newest: the case reads from it once more.
    again = masp(tmp_path, "case", "reclassify", REF, "Corrected form.docx", "referral_form")
    assert again.exit_code == 0, again.output
    assert status_of(service, REF)["fields"]["referrer_name"] == "Jo Corrected"


def test_a_document_that_is_no_form_is_refused_with_the_readers_reason(
    tmp_path: Path, service: App
) -> None:
    before = status_of(service, REF)
    refused = masp(tmp_path, "case", "reclassify", REF, "Chronology.docx", "referral_form")
    assert refused.exit_code == 1
    said = str(refused.exception)
    assert said.startswith(f"{REF}: document 2 was not made the referral form: it could not")
    assert "does not give the child's name" in said
    picture = masp(tmp_path, "case", "reclassify", REF, "genogram.png", "referral_form")
    assert picture.exit_code == 1
    assert "contents of .png files are not read automatically" in str(picture.exception)
    assert status_of(service, REF) == before
    assert reclassified(service) == []
