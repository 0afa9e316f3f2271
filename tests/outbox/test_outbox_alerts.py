"""Alerts about strangers' email cannot use up the administrator's rate fuse: a flood of
unsolicited email never stops the Section 20 alert reaching the administrator and chair (R7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import samples
from pipeline.intake.poll import poll
from pipeline.store.models import Case, OutboxItem
from tests.helpers import drop, open_service, sent_to
from tests.panel.test_screening import referral

NOW = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
ADMIN, CHAIR = "admin@example.org", "chair@example.org"


def stranger(i: int, reference: str | None) -> samples.Mail:
    """A stranger's email: kept unanswered (its Reply-To is a no-reply address), or, given a
    case's reference, quoting it without standing (held)."""
    if reference is None:
        headers = {"Reply-To": "noreply@evil.example.net"}
        return samples.Mail(f"x{i}@evil.example.net", f"hello {i}", headers=headers)
    return samples.Mail(f"x{i}@evil.example.net", f"About {reference}", body=f"Re {reference}")


@pytest.mark.parametrize("alert", ["unanswered_alert", "held_alert"])
def test_a_flood_of_strangers_mail_does_not_stop_the_section20_alert(
    tmp_path: Path, alert: str
) -> None:
    app = open_service(tmp_path, NOW)
    reference = None
    if alert == "held_alert":
        drop(app, referral(), NOW - timedelta(hours=2))
        poll(app)
        with app.store.session() as session:
            reference = session.scalars(select(Case.reference)).one()
    flood = app.config.limits.max_sends_per_recipient_per_hour
    for i in range(flood):
        drop(app, stranger(i, reference), NOW - timedelta(minutes=30))
    child = samples.Child(section20=True)
    s20 = samples.Mail(
        f"Jo <{child.referrer_email}>", "Referral", files=samples.full_referral(child)
    )
    drop(app, s20, NOW - timedelta(minutes=10))
    poll(app)
    for address in (ADMIN, CHAIR):
        alerts = [s for s in sent_to(app, address) if "section 20" in s.subject.lower()]
        assert len(alerts) == 1, address
    # The strangers' alerts themselves are bounded: the rest wait, unsent, with the reason.
    bound = app.config.limits.max_unsolicited_alerts_per_hour
    with app.store.session() as session:
        items = session.scalars(select(OutboxItem).where(OutboxItem.template == alert)).all()
    assert len(items) == flood
    assert sum(a.status == "sent" for a in items) == bound
    held = [a for a in items if a.status == "held"]
    assert len(held) == flood - bound
    assert all("masp quarantine list" in (a.hold_reason or "") for a in held)
    ids = {a.message_id.strip("<>") for a in items}
    told = [s for s in sent_to(app, ADMIN) if str(s.message["Message-ID"]).strip("<>") in ids]
    assert len(told) == bound
    app.close()
