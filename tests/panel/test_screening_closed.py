"""R9 a manager's answer to a request left open on a case closed since: refused, not quarantined.

Databases written before the retention purge marked open requests used can hold a closed case
whose screening request is still open. The manager's APPROVE must not reopen the case, nor
stop on the lifecycle table and be quarantined: it is refused like any reply that may not
count, and the administrator is told. Through a real IMAP server and a real SMTP server.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline.intake.poll import poll
from pipeline.states import CaseState, MessageState
from pipeline.store.lifecycle import move
from pipeline.store.models import Case, Message, ScreeningRequest
from tests.helpers import open_service, parse_sent
from tests.panel.test_calendar_sequence import ADMIN, on_servers, received
from tests.panel.test_screening import MANAGER, NOW, audits, case_row, referral, reply, tick_only
from tests.servers import ImapAccount, SmtpCapture

WHY = "the case is closed: no longer awaiting screening"


@pytest.mark.servers
def test_an_approval_for_a_case_closed_with_its_request_open_is_refused(
    tmp_path: Path, imap_account: ImapAccount, smtp_server: SmtpCapture
) -> None:
    app = open_service(tmp_path, NOW, **on_servers(imap_account, smtp_server))
    imap_account.append(referral().as_bytes(), NOW - timedelta(hours=1))
    poll(app)
    tick_only(app)
    [request] = received(smtp_server, MANAGER)
    # The purge of an older version closed the case and took its meeting, leaving the request open.
    with app.store.session() as session:
        case = session.scalars(select(Case)).one()
        move(case, CaseState.CLOSED)
        case.meeting = None

    imap_account.append(reply(parse_sent(request, MANAGER), "APPROVE").as_bytes(), NOW)
    poll(app)

    # The manager is sent nothing more; the administrator is told why the reply did not count.
    assert received(smtp_server, MANAGER) == [request]
    [raw] = received(smtp_server, ADMIN)
    alert = parse_sent(raw, ADMIN)
    assert alert.subject == f"{case_row(app).reference}: a screening reply was not applied"
    assert f"Why: {WHY}" in alert.text()
    assert case_row(app).state == CaseState.CLOSED
    assert [a["why"] for a in audits(app, "screening-refused")] == [WHY]
    assert audits(app, "screening-decision") == []
    with app.store.session() as session:
        states = list(session.scalars(select(Message.status).order_by(Message.id)))
        assert MessageState.QUARANTINED not in states
        [still] = session.scalars(select(ScreeningRequest))
        assert still.used_at is None and still.decision is None
    app.close()
