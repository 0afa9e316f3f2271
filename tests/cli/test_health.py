"""Watching the service: `masp health` (exit status for a monitor), the service's lines under
`masp status`, and JSON log lines carrying the case reference."""

from __future__ import annotations

import io
import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.app import App
from pipeline.cli.logs import JsonLines, use_format
from pipeline.clock import Clock
from pipeline.config import parse_config
from pipeline.errors import SendError
from pipeline.intake.filing import file_pending
from pipeline.intake.ledger import Ledger
from pipeline.intake.poll import poll
from pipeline.mailbox.registry import open_source
from pipeline.service import run_due_jobs
from tests.helpers import config_tree, drop, masp, numbered_referral, open_service
from tests.servers import ImapAccount, SmtpCapture

# A Tuesday morning; the default poll interval is 60 s, so health allows 3 minutes.
T0 = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)


def _file_without_sending(service: App) -> None:
    with open_source(service.config) as source:
        Ledger(service).ingest(source)
    file_pending(service)


def _masp(folder: Path, when: datetime, *args: str) -> tuple[int, str, str]:
    result = masp("--config", str(folder / "config.yaml"), "--now", when.isoformat(), *args)
    return result.returncode, result.stdout, result.stderr


def _health(folder: Path, when: datetime) -> tuple[int, dict[str, Any]]:
    code, out, err = _masp(folder, when, "health", "--json")
    assert code in (0, 1), err
    return code, json.loads(out)


def test_a_service_that_never_polled_is_unhealthy(tmp_path: Path) -> None:
    open_service(tmp_path, T0).close()
    code, out, _ = _masp(tmp_path, T0, "health")
    assert code == 1
    assert out.splitlines()[0] == "UNHEALTHY"
    assert "the mailbox has never been read" in out
    assert "Last successful poll: never; last tick: never" in out


def test_health_follows_the_polls_and_says_when_they_stop(tmp_path: Path) -> None:
    open_service(tmp_path, T0).close()
    assert _masp(tmp_path, T0, "poll")[0] == 0
    assert _masp(tmp_path, T0, "tick")[0] == 0
    # `--now` starts each command's clock there, and it runs on: 90 s later reads as 1 min.
    code, out, _ = _masp(tmp_path, T0 + timedelta(seconds=90), "health")
    assert code == 0, out
    assert out.splitlines()[0] == "OK"
    assert "Last successful poll: 03/11/2026 09:00 (1 min ago); last tick: 03/11/2026 09:00" in out

    # Three intervals (3 minutes) pass without a poll: the service has stopped.
    code, report = _health(tmp_path, T0 + timedelta(minutes=4, seconds=30))
    assert code == 1
    assert report["healthy"] is False
    # `--now` starts the clock there; it runs on while the command does.
    assert report["last_poll_at"].startswith("2026-11-03T09:00:")
    assert report["last_tick_at"].startswith("2026-11-03T09:00:")
    problems = report["problems"]
    assert isinstance(problems, list) and len(problems) == 1
    assert problems[0].startswith("no successful poll since 03/11/2026 09:00 (4 min ago")


def test_the_number_of_missed_polls_is_configured(tmp_path: Path) -> None:
    open_service(tmp_path, T0, health={"missed_polls": 10, "tick_stale_minutes": 60}).close()
    assert _masp(tmp_path, T0, "poll")[0] == 0
    assert _masp(tmp_path, T0, "tick")[0] == 0
    assert _health(tmp_path, T0 + timedelta(minutes=9))[0] == 0
    assert _health(tmp_path, T0 + timedelta(minutes=11))[0] == 1


def test_polls_without_ticks_are_unhealthy(tmp_path: Path) -> None:
    """A cron set-up that runs only `masp poll` answers referrers but sends no reminder, cut-off
    or pack: health says so, and when the tick last ran."""
    open_service(tmp_path, T0).close()
    assert _masp(tmp_path, T0, "poll")[0] == 0
    code, report = _health(tmp_path, T0 + timedelta(minutes=1))
    assert code == 1
    assert report["problems"] == [
        "the tick (reminders, cut-offs, packs, decision sheets) has never run, at most 10 min "
        "is expected: check `masp run` is running, or that cron runs `masp tick`, and its log "
        "(journalctl -u masp)"
    ]
    assert _masp(tmp_path, T0 + timedelta(minutes=2), "tick")[0] == 0
    # A minute inside the limit: each command's clock runs on from `--now` while it starts,
    # so at exactly ten minutes the verdict would hang on which command started faster.
    assert _masp(tmp_path, T0 + timedelta(minutes=11), "poll")[0] == 0
    assert _health(tmp_path, T0 + timedelta(minutes=11))[0] == 0
    # Polling goes on; the last tick was at 09:02 and the limit is 10 minutes.
    assert _masp(tmp_path, T0 + timedelta(minutes=13), "poll")[0] == 0
    code, report = _health(tmp_path, T0 + timedelta(minutes=13))
    assert code == 1
    assert report["problems"][0].startswith(
        "the tick (reminders, cut-offs, packs, decision sheets) has not run since 03/11/2026 09:02"
    )


def test_a_stuck_outbox_is_unhealthy(tmp_path: Path) -> None:
    service = open_service(tmp_path, T0, health={"missed_polls": 1000})
    drop(service, numbered_referral("h", 1), T0)
    # Filed and answered, but never sent: the acknowledgement waits in the outbox.
    _file_without_sending(service)
    service.close()
    code, report = _health(tmp_path, T0 + timedelta(minutes=30))
    assert "outbox is stuck" not in " ".join(report["problems"])
    code, report = _health(tmp_path, T0 + timedelta(minutes=61))
    assert code == 1
    outbox = report["outbox"]
    assert isinstance(outbox, dict) and outbox["waiting"] >= 1
    assert outbox["oldest_waiting_at"].startswith("2026-11-03T09:00:")
    assert any(p.startswith("the outbox is stuck: ") for p in report["problems"])


def test_status_shows_the_service_under_the_cases_and_its_json_stays_a_list(
    tmp_path: Path,
) -> None:
    service = open_service(tmp_path, T0)
    drop(service, numbered_referral("h", 1), T0)
    service.close()
    assert _masp(tmp_path, T0, "poll")[0] == 0
    code, out, err = _masp(tmp_path, T0 + timedelta(seconds=90), "status")
    assert code == 0, err
    assert "Last successful poll: 03/11/2026 09:00 (1 min ago); last tick: never" in out
    assert "Outbox: 0 waiting; 0 held, 0 failed; quarantined emails: 0; held cases: 0" in out
    code, out, _ = _masp(tmp_path, T0 + timedelta(minutes=1), "status", "--json")
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 1 and "reference" in rows[0]


@pytest.mark.servers
def test_a_refused_imap_login_is_unhealthy_until_a_poll_signs_in(
    tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    tree = config_tree(mailbox__backend="imap")
    tree["mailbox"]["imap"] = imap_account.config.model_dump()
    tree["mailbox"]["smtp"] = {"host": "127.0.0.1", "port": smtp_server.port, "security": "none"}
    good = tree["mailbox"]["imap"]["password"]
    tree["mailbox"]["imap"]["password"] = "changed-on-the-server"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tree))

    now = datetime.now(UTC)
    with App.open(parse_config(tree, tmp_path, env={}), Clock.frozen_at(now)) as service:
        assert poll(service).errors
    code, report = _health(tmp_path, now)
    assert code == 1
    mailbox_error = report["mailbox_error"]
    assert isinstance(mailbox_error, dict) and mailbox_error["kind"] == "login"
    assert any(
        p.startswith("the mail server refused the service's login when reading mail")
        for p in report["problems"]
    )
    assert "changed-on-the-server" not in json.dumps(report)

    # The new password goes in (as the operations guide says): the next poll clears it.
    env_tree = parse_config(tree, tmp_path, env={"MASP_IMAP_PASSWORD": good})
    with App.open(env_tree, Clock.frozen_at(now)) as service:
        assert not poll(service).errors
        run_due_jobs(service)
    code, report = _health(tmp_path, now)
    assert code == 0, report["problems"]
    assert report["mailbox_error"] is None


def test_a_refused_smtp_login_is_recorded_as_a_login_failure(tmp_path: Path) -> None:
    """The outbox's round remembers how the server refused it, for `masp health`."""
    from pipeline.outbox.sender import deliver

    class Refusing:
        name = "smtp"

        def send(self, raw: bytes, sender: str, recipients: object) -> None:
            raise SendError("the SMTP server at mail:587 refused the login", login_refused=True)

        def close(self) -> None:
            pass

        def describe(self) -> list[str]:
            return []

    service = open_service(tmp_path, T0, health={"missed_polls": 1000})
    drop(service, numbered_referral("h", 1), T0)
    _file_without_sending(service)
    deliver(service, Refusing())
    service.close()
    code, report = _health(tmp_path, T0)
    assert code == 1
    send_error = report["send_error"]
    assert isinstance(send_error, dict) and send_error["kind"] == "login"
    assert "when sending mail" in " ".join(report["problems"])


def test_json_log_lines_carry_the_case_reference() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        use_format("json")
        assert isinstance(handler.formatter, JsonLines)
        log = logging.getLogger("pipeline.test")
        log.warning(
            "case %s: a document was not converted",
            "MASP-2026-0007",
            extra={"reference": "MASP-2026-0007"},
        )
        log.warning("nothing about a case")
    finally:
        use_format("text")
        root.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["reference"] == "MASP-2026-0007"
    assert first["message"] == "case MASP-2026-0007: a document was not converted"
    assert first["level"] == "WARNING" and first["logger"] == "pipeline.test"
    assert "reference" not in second


def test_the_service_logs_json_lines_when_the_config_says_so(tmp_path: Path) -> None:
    # No signing key configured: the first command that opens the service makes one in
    # data_dir, and says so (`masp status` only reads the store).
    tree = config_tree(logging={"format": "json"}, security={"signing_key": ""})
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(tree))
    code, _, err = _masp(tmp_path, T0, "tick")
    assert code == 0, err
    entries = [json.loads(line) for line in err.splitlines()]
    assert [e["message"] for e in entries] == ["generated a new signing key in data_dir"]
    assert entries[0]["level"] == "INFO" and entries[0]["logger"] == "pipeline.app"
    assert datetime.fromisoformat(entries[0]["time"]).tzinfo is not None
