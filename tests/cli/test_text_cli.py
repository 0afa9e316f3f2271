"""The administrator's commands print what senders wrote as text, never as Rich markup: a name,
address, filename or subject holding "[/x]" or "[held]" is shown as written, with exit status 0.
Errors go to standard error with the SPEC's exit status, and no line is wrapped off a terminal."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from pipeline import samples
from pipeline.intake.poll import poll
from tests.helpers import ROOT, drop, masp, open_service

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# An address cannot hold markup any more (a quoted local part is refused at intake), so the
# markup rides in the display name, the child's name, the filename and the subject.
SENDER = "dee.x@elsewhere.example"
NAME = "[bold]Dee [/x] Madeup"
CHILD = "Robin [/x] Testcase"
# Longer than a terminal line, so a console that wraps at 80 columns would break it.
# (A "/" in a filename becomes "_" as it is stored, so this one has none.)
FILENAME = "[held] [bold] referral form for a family whose file name runs past eighty columns.docx"
SUBJECT = "[held] A referral [/x] too big to take in, with a subject that runs past eighty columns"


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two referrals from a sender whose words are all markup-like (the second one's answer is
    held by a rate fuse of one email an hour), then an email too big to take (quarantined)."""
    folder = tmp_path_factory.mktemp("markup")
    app = open_service(folder, NOW, limits__max_sends_per_recipient_per_hour=1)
    child = samples.Child(name=CHILD, referrer_name=NAME, referrer_email=SENDER)
    form, *others = samples.full_referral(child)
    files = [samples.File(FILENAME, form.content_type, form.data), *others]
    for subject in ("Referral", "Referral, sent again"):
        drop(app, samples.Mail(f'"{NAME}" <{SENDER}>', subject, files=files), NOW)
    poll(app)
    app.close()
    app = open_service(
        folder,
        NOW,
        limits__max_sends_per_recipient_per_hour=1,
        limits__max_email_bytes=10_000,
    )
    drop(app, samples.Mail(f'"{NAME}" <{SENDER}>', SUBJECT, files=files), NOW)
    poll(app)
    app.close()
    return folder / "config.yaml"


def run(config: Path, *args: str) -> tuple[str, str]:
    result = masp("--config", str(config), "--now", NOW.isoformat(), *args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr == ""
    return result.stdout, result.stderr


def lines_with(text: str, *wanted: str) -> list[str]:
    return [line for line in text.splitlines() if all(w in line for w in wanted)]


def test_status_lists_the_cases(installation: Path) -> None:
    out, _ = run(installation, "status")
    assert lines_with(out, "MASP-2026-0001") and lines_with(out, "MASP-2026-0002")


def test_status_of_a_case_shows_the_senders_words_as_written(installation: Path) -> None:
    out, _ = run(installation, "status", "MASP-2026-0001")
    assert lines_with(out, f"child_name: {CHILD}")
    assert lines_with(out, f"referrer_name: {NAME}")
    assert lines_with(out, f"referrer {SENDER}")
    # On one line, whole, though longer than 80 columns.
    assert lines_with(out, f"{FILENAME} — referral_form, ok, version 1")


def test_outbox_list_shows_the_held_status_and_the_address(installation: Path) -> None:
    out, _ = run(installation, "outbox", "list")
    assert lines_with(out, "[held] acknowledgement to", SENDER, "rate fuse")
    everything, _ = run(installation, "outbox", "list", "--state", "all")
    assert lines_with(everything, "[sent] acknowledgement to", SENDER)


def test_quarantine_list_shows_the_sender_and_subject(installation: Path) -> None:
    out, _ = run(installation, "quarantine", "list")
    assert lines_with(out, f'from "{NAME}" <{SENDER}>', f'subject "{SUBJECT}"', "too_large")


def test_an_unknown_case_is_an_error_on_stderr_in_one_line(installation: Path) -> None:
    reference = "MASP-2026-" + "9" * 120
    result = masp("--config", str(installation), "status", reference)
    assert result.returncode == 1
    assert result.stdout == ""
    assert lines_with(result.stderr, f"Error: no case with reference '{reference}'")


def test_a_bad_config_is_an_error_on_stderr_naming_the_key(tmp_path: Path) -> None:
    tree = yaml.safe_load((ROOT / "config.yaml").read_text())
    tree["limits"]["max_email_bytes"] = 5
    config = tmp_path / ("a folder with a long name that runs past eighty columns " * 2)
    config.mkdir()
    (config / "config.yaml").write_text(yaml.safe_dump(tree))
    result = masp("--config", str(config / "config.yaml"), "status")
    assert result.returncode == 2
    assert result.stdout == ""
    assert lines_with(result.stderr, "Configuration error:", "limits.max_email_bytes")


def test_a_usage_error_is_on_stderr_in_one_line() -> None:
    garbage = "not-a-time-" + "x" * 120
    result = masp("--now", garbage, "status")
    assert result.returncode == 2
    assert result.stdout == ""
    assert lines_with(result.stderr, f"--now must be an ISO-8601 date-time, got '{garbage}'")
