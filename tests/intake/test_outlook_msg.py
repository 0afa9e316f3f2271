""".msg support is the optional `msg` extra (extract-msg is GPL-3.0): with it, the documents in
an attached Outlook message are filed; without it, the sender is told to send them as files."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from pipeline import samples
from pipeline.app import App
from pipeline.intake.poll import poll
from pipeline.outputs.status import all_cases
from tests.helpers import corpus_maker, drop, open_service, sent_to

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
CHILD = samples.Child()
REFERRER = f"{CHILD.referrer_name} <{CHILD.referrer_email}>"
REFUSAL = "Outlook .msg files cannot be read on this server: please send the attachments themselves"


def outlook_referral() -> samples.Mail:
    """A referral whose form and chronology arrive inside an attached Outlook message."""
    corpus = corpus_maker("emails")
    inner = [(f.filename, f.content_type, f.data) for f in samples.full_referral(CHILD)[:2]]
    outlook = corpus.make_msg("Referral", "Referral for panel, see attached.", inner)
    wrapped = samples.File("Referral from school.msg", "application/vnd.ms-outlook", outlook)
    return samples.Mail(REFERRER, "Referral for panel", files=[wrapped])


def documents(app: App) -> list[tuple[str, str, str | None]]:
    with app.store.session() as session:
        [case] = all_cases(app.config, session)
    return [(d["filename"], d["status"], d.get("reason")) for d in case["documents"]]


def test_an_attached_outlook_message_has_its_documents_filed(tmp_path: Path) -> None:
    app = open_service(tmp_path, NOW)
    drop(app, outlook_referral(), NOW)
    poll(app)
    filed = documents(app)
    assert sorted(name for name, _, _ in filed) == ["Chronology.docx", "Referral form.docx"]
    assert all(status != "refused" for _, status, _ in filed)
    app.close()


def test_without_the_msg_extra_an_outlook_message_is_refused_saying_what_to_send(
    tmp_path: Path,
) -> None:
    # A server installed without `[msg]`: `masp poll` in a process (and its document readers)
    # where importing extract_msg fails, as it does when the package is not there.
    blocked = tmp_path / "without-msg" / "extract_msg"
    blocked.mkdir(parents=True)
    (blocked / "__init__.py").write_text("raise ImportError('No module named extract_msg')\n")
    app = open_service(tmp_path, NOW)
    drop(app, outlook_referral(), NOW)
    app.close()
    polled = subprocess.run(
        [sys.executable, "-m", "pipeline", "--now", NOW.isoformat(), "poll"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(blocked.parent)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert polled.returncode == 0, polled.stderr
    app = open_service(tmp_path, NOW)
    assert documents(app) == [("Referral from school.msg", "refused", REFUSAL)]
    [acknowledgement] = sent_to(app, CHILD.referrer_email)
    assert REFUSAL in acknowledgement.text()
    app.close()
