"""R17 with R10 and R12: a case moved after its slot and the pack went — its slot is cancelled,
the old meeting's pack is reissued without it, and the new meeting gives it a slot, once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from pipeline.cli import app as cli
from pipeline.intake.poll import poll
from tests.helpers import (
    attachments,
    drop,
    numbered_referral,
    open_service,
    outline,
    pack_reader,
    sent_to,
    status_of,
)
from tests.panel.test_reminders import tick_at

RECEIVED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
PACK_DUE = datetime(2026, 12, 3, 10, 10, tzinfo=UTC)
# The January meeting (12th) sends its slot notices on 7 January at 10:00.
JANUARY_NOTICE = datetime(2027, 1, 7, 10, 0, tzinfo=UTC)
STAYS, MOVES = "MASP-2026-0001", "MASP-2026-0002"
MOVER = "ref2@school.example.org"


def masp(folder: Path, now: datetime, *args: str) -> Result:
    config = str(folder / "config.yaml")
    return CliRunner().invoke(cli, ["--config", config, "--now", now.isoformat(), *args])


@pytest.fixture
def packed(tmp_path: Path) -> Path:
    """Two approved referrals, slotted for December, its pack sent; then one is moved."""
    app = open_service(tmp_path, RECEIVED)
    for n in (1, 2):
        drop(app, numbered_referral("move", n), RECEIVED + timedelta(minutes=n))
        poll(app)
    app.close()
    for reference in (STAYS, MOVES):
        done = masp(tmp_path, RECEIVED + timedelta(hours=1), "screen", reference, "approve")
        assert done.exit_code == 0, done.output
    tick_at(tmp_path, PACK_DUE - timedelta(minutes=10)).close()
    tick_at(tmp_path, PACK_DUE).close()
    done = masp(
        tmp_path, PACK_DUE + timedelta(hours=1), "case", "move", MOVES, "--meeting", "2027-01-12"
    )
    assert done.exit_code == 0, done.output
    tick_at(tmp_path, PACK_DUE + timedelta(hours=1, minutes=5)).close()
    return tmp_path


def test_the_referrer_has_the_slot_taken_back(packed: Path) -> None:
    app = open_service(packed, PACK_DUE)
    offered, moved = [s for s in sent_to(app, MOVER) if "referral received" not in s.subject]
    assert "timeslot" in offered.subject.lower()
    assert moved.subject == f"{MOVES}: moved to the meeting on Tuesday 12 January 2027, 10:00"
    assert "timeslot we offered you" in " ".join(moved.text().split())
    [ics] = attachments(moved, ".ics")
    assert b"METHOD:CANCEL" in ics
    case = status_of(app, MOVES)
    assert (case["meeting"], case["slot"]) == ("2027-01-12", None)
    app.close()


def test_the_december_pack_is_reissued_without_it(packed: Path) -> None:
    app = open_service(packed, PACK_DUE)
    packs = [s for s in sent_to(app, "admin@example.org") if "meeting pack" in s.subject]
    assert [p.subject.rsplit(", ", 1)[-1] for p in packs] == ["version 1", "version 2"]
    first, second = ([t for t, _, _ in outline(pack_reader(p))] for p in packs)
    assert any(t.startswith(MOVES) for t in first)
    assert not any(t.startswith(MOVES) for t in second)
    assert any(t.startswith(STAYS) for t in second)
    app.close()


def test_january_gives_it_a_slot_once(packed: Path) -> None:
    tick_at(packed, JANUARY_NOTICE, times=2).close()
    app = open_service(packed, JANUARY_NOTICE)
    offers = [s for s in sent_to(app, MOVER) if "timeslot" in s.subject.lower()]
    assert len(offers) == 2 and "12 January 2027" in offers[-1].text()
    assert status_of(app, MOVES)["slot"] is not None
    app.close()


def test_withdrawing_a_slotted_case_cancels_its_slot(packed: Path) -> None:
    later = PACK_DUE + timedelta(hours=2)
    done = masp(packed, later, "case", "withdraw", STAYS, "--message", "No longer needed.")
    assert done.exit_code == 0, done.output
    app = open_service(packed, later)
    told = sent_to(app, "ref1@school.example.org")[-1]
    assert told.subject == f"{STAYS}: referral withdrawn"
    text = " ".join(told.text().split())
    assert text.startswith("No longer needed.") and "timeslot we offered you" in text
    [ics] = attachments(told, ".ics")
    assert b"METHOD:CANCEL" in ics
    case = status_of(app, STAYS)
    assert (case["state"], case["meeting"], case["slot"]) == ("withdrawn", None, None)
    app.close()
