"""Issue 15's story (R17): a chronology read as "other" gets its case wrongly deferred for a month;
the administrator says what it is, and the case is back on the agenda of the meeting it was
in time for, its referrer told, and in that meeting's pack."""

from __future__ import annotations

import getpass
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import docx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from pipeline import samples
from pipeline.cli import app as cli
from pipeline.intake.poll import poll
from pipeline.store.models import AuditEvent
from tests.helpers import drop, open_service, outline, pack_reader, sent_to, status_of
from tests.panel.test_reminders import DEADLINE, RECEIVED, tick_at

CHILD = samples.Child()
REFERRER = f"{CHILD.referrer_name} <{CHILD.referrer_email}>"
REF = "MASP-2026-0001"
# The day after the deadline: the case has been put forward to January.
NEXT_DAY = DEADLINE + timedelta(hours=21)
# The slot notices go at 10:00 on 3 December (5 days before); the pack ten minutes later.
PACK_DUE = datetime(2026, 12, 3, 10, 10, tzinfo=UTC)
ME = f"cli:{getpass.getuser()}"


def prose_chronology() -> bytes:
    """A chronology written as paragraphs, without the table the reader recognises."""
    document = docx.Document()
    document.add_paragraph("Family background")
    document.add_paragraph(
        "The family moved to the area last spring and the school raised concerns in the "
        "autumn term."
    )
    document.add_paragraph("Several agencies have been involved since then.")
    data = io.BytesIO()
    document.save(data)
    return data.getvalue()


def masp(folder: Path, now: datetime, *args: str) -> Result:
    config = str(folder / "config.yaml")
    return CliRunner().invoke(cli, ["--config", config, "--now", now.isoformat(), *args])


@pytest.fixture
def deferred(tmp_path: Path) -> Path:
    """The referral, its chronology misread, deferred at the December deadline."""
    app = open_service(tmp_path, RECEIVED)
    files = [f for f in samples.full_referral(CHILD) if f.filename != "Chronology.docx"]
    files.append(samples.File("Background.docx", samples.DOCX, prose_chronology()))
    drop(app, samples.Mail(REFERRER, "Referral for panel", files=files), RECEIVED)
    poll(app)
    app.close()
    tick_at(tmp_path, DEADLINE, times=2).close()
    return tmp_path


def test_the_misread_chronology_defers_the_case(deferred: Path) -> None:
    app = open_service(deferred, NEXT_DAY)
    case = status_of(app, REF)
    assert (case["meeting"], case["missing"]) == ("2027-01-12", ["chronology"])
    [background] = [d for d in case["documents"] if d["filename"] == "Background.docx"]
    assert background["kind"] == "other" and isinstance(background["id"], int)
    app.close()
    # The administrator reads the document's id off the case's page in the terminal.
    shown = " ".join(masp(deferred, NEXT_DAY, "status", REF).output.split())
    assert f"Background.docx — other, ok, version 1 (document {background['id']})" in shown


def test_reclassifying_puts_it_back_on_the_december_agenda(deferred: Path) -> None:
    done = masp(deferred, NEXT_DAY, "case", "reclassify", REF, "Background.docx", "chronology")
    assert done.exit_code == 0, done.output
    assert "back on the agenda of the meeting on 2026-12-08" in done.output
    app = open_service(deferred, NEXT_DAY)
    case = status_of(app, REF)
    assert (case["meeting"], case["state"], case["missing"]) == ("2026-12-08", "complete", [])
    assert not any(flag.startswith("deferred from") for flag in case["flags"])
    [chronology] = [d for d in case["documents"] if d["kind"] == "chronology"]
    assert chronology["filename"] == "Background.docx" and not chronology["superseded"]
    told = sent_to(app, CHILD.referrer_email)[-1]
    assert REF in told.subject and "referral complete" in told.subject
    body = " ".join(told.text().split())
    assert "back on the list for the meeting on Tuesday 8 December 2026, 10:00" in body
    assert "not Tuesday 12 January 2027, 10:00 as we told you" in body
    with app.store.session() as session:
        events = {e.action: e.detail for e in session.scalars(select(AuditEvent))}
    assert events["reclassified"] == {
        "document": chronology["id"],
        "was": "other",
        "now": "chronology",
        "by": ME,
    }
    assert events["relisted"]["by"] == ME
    assert events["relisted"]["to_meeting"].startswith("2026-12-08T10:00")
    app.close()
    again = masp(deferred, NEXT_DAY, "case", "reclassify", REF, "Background.docx", "chronology")
    assert again.exit_code == 1 and "already read as chronology" in str(again.exception)


def test_the_december_pack_carries_it(deferred: Path) -> None:
    done = masp(deferred, NEXT_DAY, "case", "reclassify", REF, "Background.docx", "chronology")
    assert done.exit_code == 0, done.output
    tick_at(deferred, NEXT_DAY).close()
    approved = masp(deferred, NEXT_DAY + timedelta(hours=1), "screen", REF, "approve")
    assert approved.exit_code == 0, approved.output
    tick_at(deferred, PACK_DUE - timedelta(minutes=10)).close()
    app = tick_at(deferred, PACK_DUE)
    [slot] = [s for s in sent_to(app, CHILD.referrer_email) if "timeslot" in s.subject.lower()]
    assert "8 December 2026" in slot.text()
    [pack] = [
        s
        for s in sent_to(app, "admin@example.org")
        if s.attachment_names()
        and any(n.endswith(".pdf") for n in s.attachment_names())
        and "pack" in s.subject.lower()
    ]
    titles = [title for title, _, _ in outline(pack_reader(pack))]
    assert any(title.startswith(REF) for title in titles), titles
    listed = json.loads(masp(deferred, PACK_DUE, "status", "--json").output)
    assert [(c["reference"], c["meeting"]) for c in listed] == [(REF, "2026-12-08")]
    app.close()
