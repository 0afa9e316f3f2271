"""R15: the quarterly picture — its workbook, the chair's email, agenda section 4 and the pack.

A known synthetic quarter (2027Q1) is put in the store row by row; the expected figures are
counted here from the same table by hand, never by the rule under test.
"""

from __future__ import annotations

import io
import re
import stat
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pypdf
import pytest

from pipeline.app import App
from pipeline.intake.poll import deliver_configured
from pipeline.outputs.agenda import agenda_lines, build_agenda
from pipeline.outputs.pack import build_pack
from pipeline.panel.quarterly import make_quarterly
from pipeline.rules.quarterly import Quarter
from pipeline.states import CaseState, OutboxState, Outcome
from pipeline.store.models import (
    AuditEvent,
    Case,
    Decision,
    DecisionSheet,
    Document,
    OutboxItem,
)
from pipeline.store.models import (
    Message as LedgerRow,
)
from tests.decisions_helpers import applied_import
from tests.helpers import children, decoded, masp, open_service, outline, sent_to

NOW = datetime(2027, 4, 2, 9, 0, tzinfo=UTC)
QUARTER = Quarter(2027, 1)
# The first meeting of 2027Q2 (second Tuesday of April, 10:00 BST) carries 2027Q1's picture.
QUARTERLY_MEETING = datetime(2027, 4, 13, 9, 0, tzinfo=UTC)
OTHER_MEETING = datetime(2027, 5, 11, 9, 0, tzinfo=UTC)
# 2027Q1's meetings, 10:00 GMT.
JAN, FEB, MAR = (datetime(2027, m, d, 10, 0, tzinfo=UTC) for m, d in ((1, 12), (2, 9), (3, 9)))


@dataclass(frozen=True)
class Referral:
    """One synthetic case: when it came, from whom, why, what it asked, what became of it."""

    received: datetime
    agency: str | None
    reasons: tuple[str, ...]
    requests: tuple[str, ...]
    state: CaseState = CaseState.APPROVED
    moved: str | None = None  # "deferred" (cut-off, R6) or "carried-forward" (not heard, R7)
    form: bool = True


def at(month: int, day: int, year: int = 2027) -> datetime:
    return datetime(year, month, day, 11, 0, tzinfo=UTC)


REFERRALS = [
    Referral(at(1, 4), "Oakfield Primary School", ("no_improvement",), ("advice",)),
    Referral(
        at(1, 20),
        "Police",
        ("high_cost", "escalation"),
        ("admission_to_care",),
        moved="deferred",
    ),
    Referral(
        at(2, 2),
        "Health Visiting",
        (),
        ("multi_agency_package", "specific_service"),
        moved="carried-forward",
    ),
    Referral(at(2, 14), "oakfield primary school", ("escalation",), ("multi_agency_package",)),
    Referral(
        at(3, 1), "Police", ("no_improvement",), ("advice",), state=CaseState.INCOMPLETE
    ),  # still waiting: its timeliness is not known yet
    Referral(at(3, 20), None, (), (), state=CaseState.DECLINED, form=False),
    Referral(at(3, 30), "Housing", ("high_cost",), ("step_down",), state=CaseState.HELD),
    # Outside the quarter: one in the demand line, one after it.
    Referral(at(12, 15, 2026), "Police", ("escalation",), ("advice",), state=CaseState.DECIDED),
    Referral(at(5, 3, 2026), "Health Visiting", (), ("advice",), state=CaseState.DECIDED),
    Referral(at(4, 1), "Police", ("escalation",), ("advice",)),
]
NAMES = [f"Quinn Testchild{n}" for n in range(len(REFERRALS))]


@dataclass(frozen=True)
class Decided:
    case: int
    meeting: datetime
    outcome: Outcome
    sheet_sent: datetime | None


DECISIONS = [
    Decided(0, JAN, Outcome.ACCEPTED, JAN + timedelta(days=3)),
    Decided(7, JAN, Outcome.NOT_ACCEPTED, None),
    Decided(1, FEB, Outcome.ADVICE, FEB + timedelta(days=11)),  # a late sheet
    Decided(3, MAR, Outcome.ACCEPTED, MAR + timedelta(days=7)),  # the last day in time
    Decided(8, datetime(2026, 12, 8, 10, 0, tzinfo=UTC), Outcome.SIGNPOSTED, None),
]


def seed(app: App) -> None:
    with app.store.session() as session:
        row = LedgerRow(
            backend="maildir",
            folder="inbox",
            uid="1",
            body_sha256="0" * 64,
            sha256="0" * 64,
            size=1,
            received_at=NOW,
            stored_at=NOW,
            raw_path="raw/x",
        )
        session.add(row)
        session.flush()
        cases = []
        for n, (referral, name) in enumerate(zip(REFERRALS, NAMES, strict=True)):
            case = Case(
                reference=f"MASP-2027-{n + 1:04d}",
                panel_id="masp",
                meeting=JAN,
                state=referral.state,
                referrer_email=f"ref{n}@school.example.org",
                received_at=referral.received,
                flags=[],
                fields={"child_name": name, "request_types": list(referral.requests)},
            )
            session.add(case)
            session.flush()
            cases.append(case)
            if referral.form:
                fields: dict[str, Any] = {"reasons": {"value": list(referral.reasons)}}
                if referral.agency:
                    fields["referrer_agency"] = {"value": referral.agency}
                fields["child_name"] = {"value": name}
                session.add(
                    Document(
                        case_id=case.id,
                        message_row_id=row.id,
                        kind="referral_form",
                        filename="form.docx",
                        content_type="application/octet-stream",
                        sha256=f"{n:064d}",
                        size=1,
                        stored_path="documents/x",
                        status="ok",
                        fields=fields,
                        created_at=referral.received,
                    )
                )
            if referral.moved:
                session.add(
                    AuditEvent(at=referral.received, case_id=case.id, action=referral.moved)
                )
        imported = applied_import(session, JAN, NOW)
        for decided in DECISIONS:
            decision = Decision(
                case_id=cases[decided.case].id,
                panel_id="masp",
                meeting=decided.meeting,
                import_id=imported.id,
                outcome=decided.outcome.value,
                recorded_at=decided.meeting,
            )
            session.add(decision)
            session.flush()
            # The sheet's email, as the outbox sent it: its sent time is what the figures use.
            mail = OutboxItem(
                purpose=f"decision-sheet:{decision.id}",
                message_id=f"<sheet-{decision.id}@example.org>",
                case_id=decision.case_id,
                template="decision_sheet",
                subject="decision sheet",
                raw_path="outbox/x.eml",
                status=OutboxState.SENT if decided.sheet_sent else OutboxState.PENDING,
                next_attempt_at=decided.meeting,
                created_at=decided.meeting,
                sent_at=decided.sheet_sent,
            )
            session.add(mail)
            session.flush()
            session.add(
                DecisionSheet(
                    case_id=decision.case_id,
                    decision_id=decision.id,
                    inputs_sha256="2" * 64,
                    docx_path="sheets/x.docx",
                    created_at=decided.meeting,
                    outbox_id=mail.id,
                    sent_at=decided.sheet_sent,
                )
            )


def expected() -> dict[str, Any]:
    """The quarter's figures counted by hand from the tables above."""
    start, end = date(2027, 1, 1), date(2027, 4, 1)
    inside = [
        r for r in REFERRALS if start <= r.received.date() < end and r.state != CaseState.HELD
    ]
    agencies: dict[str, int] = {}
    for r in inside:
        key = (r.agency or "Not given").lower()
        agencies[key] = agencies.get(key, 0) + 1
    timed = [r for r in inside if r.moved == "deferred" or r.state != CaseState.INCOMPLETE]
    in_quarter = [d for d in DECISIONS if start <= d.meeting.date() < end]
    within = [
        d for d in in_quarter if d.sheet_sent and (d.sheet_sent.date() - d.meeting.date()).days <= 7
    ]
    months = {f"2026-{m:02d}": 0 for m in range(4, 13)} | {f"2027-{m:02d}": 0 for m in (1, 2, 3)}
    for r in REFERRALS:
        label = f"{r.received:%Y-%m}"
        if label in months and r.state != CaseState.HELD:
            months[label] += 1
    return {
        "referrals": len(inside),
        "agencies": agencies,
        "no_improvement": sum("no_improvement" in r.reasons for r in inside),
        "escalation": sum("escalation" in r.reasons for r in inside),
        "high_cost": sum("high_cost" in r.reasons for r in inside),
        "no_reason": sum(not r.reasons for r in inside),
        "advice": sum("advice" in r.requests for r in inside),
        "multi_agency_package": sum("multi_agency_package" in r.requests for r in inside),
        "timed": len(timed),
        "on_time": sum(r.moved != "deferred" for r in timed),
        "deferred": sum(r.moved is not None for r in inside),
        "decisions": len(in_quarter),
        "accepted": sum(d.outcome == Outcome.ACCEPTED for d in in_quarter),
        "sent": sum(d.sheet_sent is not None for d in in_quarter),
        "within": len(within),
        "months": months,
    }


@pytest.fixture
def app(tmp_path: Path) -> App:
    service = open_service(tmp_path, NOW)
    seed(service)
    return service


def _summary(book: openpyxl.Workbook) -> dict[str, Any]:
    sheet = book["Summary"]
    return {row[0]: row[1] for row in sheet.iter_rows(values_only=True) if row[0] is not None}


def _table(book: openpyxl.Workbook, title_start: str) -> dict[str, Any]:
    """A chart's data table on the Summary sheet: label → count."""
    rows = list(book["Summary"].iter_rows(values_only=True))
    first = next(i for i, row in enumerate(rows) if str(row[0] or "").startswith(title_start))
    table = {}
    for row in rows[first + 2 :]:
        if row[0] is None:
            break
        table[row[0]] = row[1]
    return table


def _pct(part: int, whole: int) -> str:
    return f"{part / whole:.0%}"


def _no_child(text: str) -> None:
    for name in NAMES:
        assert name not in text and name.split()[1] not in text
    assert "MASP-2027-" not in text
    assert "Q.T." not in text


def test_workbook_numbers_equal_those_counted_by_hand(app: App) -> None:
    want = expected()
    with app.store.session() as session:
        made = make_quarterly(app, session, QUARTER, "masp")
    book = openpyxl.load_workbook(made.path)
    summary = _summary(book)
    assert summary["Referrals received"] == want["referrals"] == 6
    assert summary["Referrals whose timeliness is known"] == want["timed"]
    assert summary["On time (complete by the first meeting's deadline)"] == want["on_time"]
    assert summary["On time (%)"] == _pct(want["on_time"], want["timed"])
    assert summary["Deferred to a later meeting"] == want["deferred"] == 2
    assert summary["Deferred (%)"] == _pct(want["deferred"], want["referrals"])
    assert summary["Decisions recorded"] == want["decisions"] == 4
    assert summary["Decision sheets sent"] == want["sent"] == 3
    assert summary["Decision sheets sent within 7 days"] == want["within"] == 2
    agencies = {k.lower(): v for k, v in _table(book, "Referrals by agency").items()}
    assert agencies == want["agencies"]
    reasons = _table(book, "Referrals by reason")
    assert reasons["No improvement despite support"] == want["no_improvement"]
    assert reasons["Risk of escalation (CIN, CP or care)"] == want["escalation"]
    assert reasons["The cost of the support needed is high"] == want["high_cost"]
    assert reasons["Not given"] == want["no_reason"]
    requests = _table(book, "Referrals by request type")
    assert requests["Advice and guidance"] == want["advice"]
    assert requests["Multi-agency support package"] == want["multi_agency_package"]
    outcomes = _table(book, "Outcomes of decisions")
    assert outcomes[Outcome.ACCEPTED.value] == want["accepted"]
    assert sum(outcomes.values()) == want["decisions"]
    assert _table(book, "Referrals received month by month") == want["months"]
    # Owner-only, under data_dir/reports/.
    assert made.path.parent == app.config.data_path / "reports"
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    app.close()


def test_workbook_has_native_charts_the_marking_and_no_child(app: App) -> None:
    with app.store.session() as session:
        made = make_quarterly(app, session, QUARTER, "masp")
    with zipfile.ZipFile(made.path) as archive:
        charts = [n for n in archive.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n)]
        xml = {n: archive.read(n).decode() for n in charts}
        everything = "\n".join(
            archive.read(n).decode("utf-8", "replace") for n in archive.namelist()
        )
    assert len(charts) == 6
    assert sum("<barChart>" in x for x in xml.values()) == 5
    assert sum("<lineChart>" in x for x in xml.values()) == 1
    sheet = openpyxl.load_workbook(made.path)["Summary"]
    assert "OFFICIAL-SENSITIVE" in sheet.oddHeader.center.text
    assert "OFFICIAL-SENSITIVE" in sheet.oddFooter.center.text
    _no_child(everything)
    app.close()


def test_the_chair_gets_the_pictures_inline_and_the_workbook(app: App) -> None:
    with app.store.session() as session:
        make_quarterly(app, session, QUARTER, "masp")
    deliver_configured(app)
    (sent,) = sent_to(app, "chair@example.org")
    message = sent.message
    assert message.get_content_type() == "multipart/mixed"
    related = children(message)[0]
    assert related.get_content_type() == "multipart/related"
    alternative, *pictures = children(related)
    assert alternative.get_content_type() == "multipart/alternative"
    assert len(pictures) == 6 and all(p.get_content_type() == "image/png" for p in pictures)
    html = decoded(children(alternative)[1]).decode()
    for picture in pictures:
        cid = str(picture["Content-ID"]).strip("<>")
        assert f'src="cid:{cid}"' in html
        assert picture.get_content_disposition() == "inline"
        data = decoded(picture)
        assert data.startswith(b"\x89PNG") and len(data) < 100_000
    (workbook,) = [p for p in message.walk() if (p.get_filename() or "").endswith(".xlsx")]
    assert workbook.get_content_disposition() == "attachment"
    book = openpyxl.load_workbook(io.BytesIO(decoded(workbook)))
    assert _summary(book)["Referrals received"] == expected()["referrals"]
    assert "2027Q1" in sent.subject
    _no_child(sent.raw.decode("utf-8", "replace"))
    app.close()


def test_a_bad_quarter_is_a_usage_error(tmp_path: Path) -> None:
    open_service(tmp_path, NOW).close()
    result = masp(
        "--config", str(tmp_path / "config.yaml"), "report", "quarterly", "--quarter", "2027Q5"
    )
    assert result.returncode == 2
    assert "--quarter" in result.stderr and "2027Q1" in result.stderr


def test_the_command_writes_the_last_complete_quarter_and_emails_the_chair(app: App) -> None:
    config = app.config.path("config.yaml")
    app.close()
    result = masp(
        "--config", str(config), "--now", "2027-04-10T09:00:00+01:00", "report", "quarterly"
    )
    assert result.returncode == 0, result.stderr
    path = app.config.data_path / "reports" / "quarterly-2027Q1.xlsx"
    assert f"Wrote {path}" in result.stdout
    assert f"Referrals received in 2027Q1: {expected()['referrals']}" in result.stdout
    assert path.exists()
    assert len(sent_to(app, "chair@example.org")) == 1


def _agenda_text(app: App, starts_at: datetime) -> str:
    with app.store.session() as session:
        agenda = build_agenda(app, session, "masp", starts_at)
    return "\n".join(line.text for line in agenda_lines(agenda))


def test_agenda_section_4_on_a_quarterly_meeting_only(app: App) -> None:
    want = expected()
    text = _agenda_text(app, QUARTERLY_MEETING)
    assert "4. Quarterly summary" in text
    assert f"Referrals received in 2027Q1: {want['referrals']}" in text
    assert f"On time: {_pct(want['on_time'], want['timed'])}" in text
    assert f"{want['within']} of {want['decisions']}" in text
    _no_child(text)
    assert "Quarterly" not in _agenda_text(app, OTHER_MEETING)
    app.close()


def test_the_pack_of_a_quarterly_meeting_ends_with_the_quarterly_picture(app: App) -> None:
    with app.store.session() as session:
        built = build_pack(app, session, "masp", QUARTERLY_MEETING)
        other = build_pack(app, session, "masp", OTHER_MEETING)
    pdf = pypdf.PdfReader(io.BytesIO(built.rendered.data))
    titles = [title for title, _, _ in outline(pdf)]
    assert titles[-1] == "Quarterly picture"
    first = outline(pdf)[-1][1]
    text = "\n".join(page.extract_text() for page in pdf.pages[first:])
    assert "Quarterly picture: 2027Q1" in text and "Referrals by agency" in text
    _no_child(text)
    assert "Quarterly picture" not in [
        t for t, _, _ in outline(pypdf.PdfReader(io.BytesIO(other.rendered.data)))
    ]
    assert built.inputs.quarter is not None and other.inputs.quarter is None
    app.close()


def test_a_changed_quarter_does_not_reissue_the_quarterly_pack(app: App) -> None:
    """The previous quarter's figures are live: a sheet sent late last quarter changes them,
    and must not send this meeting's whole pack again. A pack reissued for another reason
    shows the figures of that moment."""
    with app.store.session() as session:
        first = build_pack(app, session, "masp", QUARTERLY_MEETING)
    with app.store.session() as session:
        decision = session.query(Decision).filter(Decision.meeting == MAR).one()
        sheet = session.query(DecisionSheet).filter_by(decision_id=decision.id).one()
        mail = session.get(OutboxItem, sheet.outbox_id)
        assert mail is not None
        mail.sent_at = MAR + timedelta(days=20)
    with app.store.session() as session:
        after = build_pack(app, session, "masp", QUARTERLY_MEETING)
    assert first.inputs.quarter is not None and after.inputs.quarter is not None
    assert after.inputs.quarter.sheets_within == first.inputs.quarter.sheets_within - 1
    assert (first.pack.version, after.pack.version) == (1, 1)
    app.close()
