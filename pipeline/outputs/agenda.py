"""R11: a meeting's agenda as .docx and PDF, with minimal identifiers (reference, initials, age).

The same sections feed the Word agenda, its LibreOffice PDF and the agenda pages inside the
pack (which add each case's page range); a child's full name never appears on any of them.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from docx import Document as WordDocument
from docx.oxml import OxmlElement
from docx.shared import Mm, Pt
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import Config, PanelConfig
from pipeline.documents.form import REQUEST_TYPES
from pipeline.documents.parsing import stored_value
from pipeline.outbox.wording import when
from pipeline.outputs.convert import docx_to_pdf
from pipeline.outputs.pdftext import Line
from pipeline.outputs.quarterly import quarter_lines
from pipeline.outputs.wordpage import a4_pages, drop_thumbnail, one_font
from pipeline.rules.identifiers import age_on, initials, without_name
from pipeline.rules.meetings import meeting_days
from pipeline.rules.slots import is_listed
from pipeline.states import AWAITING_SCREENING
from pipeline.store.models import Action, Case, Slot
from pipeline.store.reviews import Review, overdue_actions, reviews_at
from pipeline.text import clean_text

# Pages of the pack a case occupies, by reference: (first, last), 1-based.
PageRanges = Mapping[str, tuple[int, int]]
CASES_TITLE = "3. Cases presented"
# The cases table: its columns, and their widths on A4 within 15 mm side margins (180 mm in
# all). Each fits its longest word at 9 pt even in DejaVu Sans, the widest font LibreOffice may
# substitute for Arial, so a reference or a time is never broken across lines.
CASE_COLUMNS = ("Time", "Reference", "Initials", "Age", "Request", "Referred by", "Notes")
COLUMN_WIDTHS_MM = (25, 32, 17, 18, 38, 27, 23)
# python-docx's template says a Mac Word wrote it: the document says what did.
APP_PROPERTIES = (
    b"<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\n"
    b'<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"'
    b' xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
    b"<Application>MASP pipeline</Application><DocSecurity>0</DocSecurity>"
    b"<LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc>"
    b"<HyperlinksChanged>false</HyperlinksChanged></Properties>"
)


def marking_line(marking: str) -> str:
    """The protective marking as a sentence, for the agenda's and the pack's first page."""
    return f"{marking}: contains personal data about children"


@dataclass(frozen=True)
class AgendaItem:
    """One case as the agenda shows it."""

    case_id: int
    reference: str
    initials: str
    age: str
    request: str
    agency: str | None
    slot: str | None
    section20: bool
    unscreened: bool

    def cells(self) -> tuple[str, ...]:
        """The case's row in the agenda's table, in the order of CASE_COLUMNS."""
        notes = ["Section 20 emergency"] if self.section20 else []
        notes += ["unscreened"] if self.unscreened else []
        age = self.age.removeprefix("age ")
        return (
            self.slot or "—",
            self.reference,
            self.initials,
            age,
            self.request,
            self.agency or "",
            "; ".join(notes),
        )

    def summary(self) -> str:
        parts = [self.reference, f"{self.initials}, {self.age}", self.request]
        if self.agency:
            parts.append(f"referred by {self.agency}")
        if self.section20 and "Section 20" not in self.request:
            parts.append("Section 20 emergency")
        if self.unscreened:
            parts.append("unscreened")
        return " — ".join(parts)


@dataclass(frozen=True)
class Agenda:
    panel_id: str
    panel_name: str
    starts_at: datetime
    meeting: str
    chair: str
    quarterly: bool
    items: tuple[AgendaItem, ...]
    title: str
    place: str
    marking: str
    # Section 1 (R11, R14): each entry's text and the case reference it is about, if any.
    follow_ups: tuple[tuple[str, str | None], ...] = ()
    # Section 4 on a quarterly meeting (R11, R15): the previous quarter's figures, line by line.
    quarter: tuple[str, ...] = ()

    @property
    def references(self) -> list[str]:
        return [item.reference for item in self.items]

    def only(self, references: Sequence[str]) -> Agenda:
        """The same agenda listing only `references` (a co-opted member's copy): its cases, and
        of section 1 only their entries, so nobody sees another child's review."""
        keep = set(references)
        items = tuple(i for i in self.items if i.reference in keep)
        follow_ups = tuple((text, ref) for text, ref in self.follow_ups if ref in keep)
        return replace(self, items=items, follow_ups=follow_ups)


def _ordered(config: Config, session: Session, panel_id: str, starts_at: datetime) -> list[Case]:
    query = select(Case).where(Case.panel_id == panel_id, Case.meeting == starts_at)
    unscreened = config.screening.unscreened
    cases = [c for c in session.scalars(query) if is_listed(c.state, c.section20, unscreened)]
    slots = _slots(session, panel_id, starts_at)
    # With slots, their order; without, Section 20 first and then by arrival (R10's order).
    return sorted(
        cases,
        key=lambda c: (
            slots[c.id].position if c.id in slots else 1_000_000,
            not c.section20,
            c.received_at,
            c.id,
        ),
    )


def _slots(session: Session, panel_id: str, starts_at: datetime) -> dict[int, Slot]:
    query = select(Slot).where(Slot.panel_id == panel_id, Slot.meeting == starts_at)
    return {slot.case_id: slot for slot in session.scalars(query)}


def _agency(case: Case) -> str | None:
    """The referrer's agency as the referral form gave it, if it did."""
    for document in case.documents:
        if document.kind == "referral_form" and not document.superseded:
            value = stored_value(document.fields or {}, "referrer_agency")
            if isinstance(value, str) and value.strip():
                # Cleaned again: a case stored before intake cleaned its text must not stop
                # the Word agenda (lxml refuses control characters).
                return clean_text(value).strip()
    return None


def _request(fields: Mapping[str, Any]) -> str:
    keys = fields.get("request_types") or []
    labels = [REQUEST_TYPES.get(str(k), str(k)) for k in keys if isinstance(k, str)]
    return "; ".join(labels) or "request type not given"


def _slot_text(tz: tzinfo, slot: Slot | None) -> str | None:
    if slot is None:
        return None
    return f"{slot.starts_at.astimezone(tz):%H:%M}–{slot.ends_at.astimezone(tz):%H:%M}"


def is_quarterly(panel: PanelConfig, day: date) -> bool:
    """The first meeting of a calendar quarter carries the previous quarter's summary (R11),
    unless the panel's configuration leaves it out (`panels[].quarterly`)."""
    if not panel.quarterly:
        return False
    quarter_start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return next(iter(meeting_days(panel, quarter_start)), None) == day


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _child(case: Case, day: date) -> tuple[str, str, str]:
    """The child's name (only ever to keep it out of free text), initials and age on `day`."""
    fields = case.fields or {}
    name = fields.get("child_name")
    return (
        name if isinstance(name, str) else "",
        initials(name if isinstance(name, str) else None),
        age_on(fields.get("child_dob"), day),
    )


def _action_text(action: Action, name: str, day: date, due_word: str) -> str:
    """One agreed action: what, the owner's agency, by when, and "overdue" once its date passed.

    The action is a person's words typed during the meeting: the child's name is taken out.
    """
    parts = [without_name(clean_text(action.text).strip(), name)]
    parts.append(action.agency or "agency not recorded")
    parts.append(f"{due_word} {_day(action.due)}")
    if action.due < day:
        parts.append("overdue")
    return " — ".join(parts)


def _review_entries(review: Review, tz: tzinfo, day: date) -> list[tuple[str, str | None]]:
    """A review case (R14): minimal identifiers, the decision that set the review, the Lead
    Professional's agency, then each outstanding action."""
    case, decision = review.case, review.decision
    name, child_initials, age = _child(case, day)
    decided = decision.meeting.astimezone(tz).date()
    lead = decision.lead_agency or "not recorded"
    head = (
        f"Review: {case.reference} — {child_initials}, {age} — review set at the meeting of "
        f"{_day(decided)}; Lead Professional: {lead}"
    )
    entries: list[tuple[str, str | None]] = [(head, case.reference)]
    actions = review.outstanding
    entries += [
        (f"{case.reference} action: {_action_text(a, name, day, 'by')}", case.reference)
        for a in actions
    ]
    if not actions:
        entries.append((f"{case.reference}: no outstanding actions", case.reference))
    return entries


# Agenda section 1 lists this many overdue actions (the most overdue), then a count of the rest.
OVERDUE_LISTED = 30


def follow_up_entries(
    session: Session, panel: PanelConfig, tz: ZoneInfo, starts_at: datetime
) -> tuple[tuple[str, str | None], ...]:
    """Section 1 (R11, R14): the reviews due at this meeting with their outstanding actions,
    then every other decided case's action whose date passed before the meeting day."""
    day = starts_at.astimezone(tz).date()
    reviews = reviews_at(session, panel, tz, starts_at)
    entries = [entry for review in reviews for entry in _review_entries(review, tz, day)]
    reviewed = {review.case.id for review in reviews}
    overdue = [
        a
        for a in overdue_actions(session, panel.id, day)
        if a.case_id not in reviewed and a.decision.meeting < starts_at
    ]
    if overdue:
        # A heading of its own: the chair asks about these though the cases are not on. The
        # most overdue only: after years of reviews the whole list would bury the agenda.
        entries.append(("Overdue actions, for the chair:", None))
        for action in overdue[:OVERDUE_LISTED]:
            case = action.decision.case
            name = _child(case, day)[0]
            text = _action_text(action, name, day, "due")
            entries.append((f"{case.reference}: {text}", case.reference))
        if len(overdue) > OVERDUE_LISTED:
            more = len(overdue) - OVERDUE_LISTED
            entries.append((f"… and {more} more: see masp status", None))
    return tuple(entries)


def build_agenda(app: App, session: Session, panel_id: str, starts_at: datetime) -> Agenda:
    panel = app.config.panel(panel_id)
    day = starts_at.astimezone(app.config.tz).date()
    slots = _slots(session, panel_id, starts_at)
    items = []
    for case in _ordered(app.config, session, panel_id, starts_at):
        fields = case.fields or {}
        items.append(
            AgendaItem(
                case_id=case.id,
                reference=case.reference,
                initials=initials(fields.get("child_name")),
                age=age_on(fields.get("child_dob"), day),
                request=_request(fields),
                agency=_agency(case),
                slot=_slot_text(app.config.tz, slots.get(case.id)),
                section20=case.section20,
                unscreened=case.state in AWAITING_SCREENING and not case.section20,
            )
        )
    return Agenda(
        panel_id=panel_id,
        panel_name=panel.name,
        starts_at=starts_at,
        meeting=when(app.config.tz, starts_at),
        chair=app.config.people_of(panel_id).chair.name,
        quarterly=is_quarterly(panel, day),
        items=tuple(items),
        title=f"{panel.name} agenda — {day:%A} {day.day} {day:%B %Y}",
        place=panel.meetings.place,
        marking=app.config.pack.protective_marking,
        follow_ups=follow_up_entries(session, panel, app.config.tz, starts_at),
        quarter=quarter_lines(app, session, panel_id, day) if is_quarterly(panel, day) else (),
    )


def sections(agenda: Agenda) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """The agenda's numbered sections: entries of (text, case reference or None).

    The one source for every format, so the Word agenda and the pack's copy cannot differ.
    """
    cases: list[tuple[str, str | None]] = [
        (f"{item.slot}  {item.summary()}" if item.slot else item.summary(), item.reference)
        for item in agenda.items
    ]
    result: list[tuple[str, list[tuple[str, str | None]]]] = [
        ("1. Follow-up actions from previous cases", list(agenda.follow_ups) or [("None.", None)]),
        ("2. Pre-discussion of issues raised", [("Issues raised by members.", None)]),
        (CASES_TITLE, cases or [("No cases are listed for this meeting.", None)]),
    ]
    if agenda.quarterly:
        summary = "Summary data, referral trends, demand and outcomes of the previous quarter."
        lines: list[tuple[str, str | None]] = [(text, None) for text in agenda.quarter]
        lines = lines or [(summary, None)]
        result.append(("4. Quarterly summary", lines))
    return result


def heading_lines(agenda: Agenda) -> list[str]:
    place = [f"Place: {agenda.place}"] if agenda.place else []
    return [
        f"Meeting: {agenda.meeting}",
        *place,
        f"Chair: {agenda.chair}",
        marking_line(agenda.marking),
    ]


def agenda_lines(agenda: Agenda, pages: PageRanges | None = None) -> list[Line]:
    """The agenda as text lines for a PDF page (the pack's copy carries page ranges)."""
    lines = [Line(f"{agenda.panel_name}: agenda", size=16, bold=True)]
    lines += [Line(text, space=4 if i == 0 else 0) for i, text in enumerate(heading_lines(agenda))]
    # Only the cases presented have pages in the pack; a review case (section 1) has none.
    in_pack = set(agenda.references)
    for title, entries in sections(agenda):
        lines.append(Line(title, size=12, bold=True, space=12))
        for text, reference in entries:
            lines.append(Line(text, space=4, indent=14))
            # On a line of its own, so the numbers never change how the text wraps: the
            # pack counts the agenda's pages before it knows them.
            if pages is not None and reference in in_pack and reference is not None:
                first, last = pages.get(reference, (0, 0))
                lines.append(Line(f"Pack pages {first}–{last}", size=9, indent=28))
    return lines


def _properties(document: Any, agenda: Agenda, made_at: datetime) -> None:
    """Title, author and dates of this agenda, replacing every value python-docx's template has."""
    properties = document.core_properties
    properties.title = agenda.title
    properties.subject = f"{agenda.panel_name} agenda"
    # The panel, not a person: the document is the panel's, whoever administers it this year.
    properties.author = properties.last_modified_by = agenda.panel_name
    properties.created = properties.modified = made_at.astimezone(UTC)
    properties.category = agenda.marking
    properties.comments = properties.keywords = ""
    properties.language = "en-GB"
    properties.revision = 1
    drop_thumbnail(document)
    for part in document.part.package.iter_parts():
        if part.partname == "/docProps/app.xml":
            # python-docx has no API for the extended properties; the part is plain bytes.
            part._blob = APP_PROPERTIES


def _row(table: Any, values: tuple[str, ...], header: bool = False) -> None:
    row = table.add_row()
    properties = row._tr.get_or_add_trPr()
    # No case is split across two pages; the header row is repeated at the top of each page.
    properties.append(OxmlElement("w:cantSplit"))
    if header:
        properties.append(OxmlElement("w:tblHeader"))
    for cell, value, width in zip(row.cells, values, COLUMN_WIDTHS_MM, strict=True):
        cell.width = Mm(width)
        run = cell.paragraphs[0].add_run(value)
        run.bold = header
        run.font.size = Pt(9)


def _case_table(document: Any, items: tuple[AgendaItem, ...]) -> None:
    """The cases as a Word table: one row each, with the header repeated on every page."""
    table = document.add_table(rows=0, cols=len(CASE_COLUMNS))
    table.style = "Table Grid"
    table.autofit = False
    for column, width in zip(table.columns, COLUMN_WIDTHS_MM, strict=True):
        column.width = Mm(width)
    _row(table, CASE_COLUMNS, header=True)
    for item in items:
        _row(table, item.cells())


def agenda_docx(agenda: Agenda, made_at: datetime) -> bytes:
    """The agenda as a Word document the administrator can edit before the meeting.

    `made_at` (the service's clock) dates it; it is not part of the agenda, whose contents
    alone decide whether a pack is reissued.
    """
    document = WordDocument()
    one_font(document)
    a4_pages(document, agenda.marking)
    _properties(document, agenda, made_at)
    document.add_heading(f"{agenda.panel_name}: agenda", level=0)
    for text in heading_lines(agenda):
        document.add_paragraph(text)
    for title, entries in sections(agenda):
        document.add_heading(title, level=1)
        if title == CASES_TITLE and agenda.items:
            _case_table(document, agenda.items)
            continue
        for text, _ in entries:
            document.add_paragraph(text, style="List Bullet")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def write_agenda(app: App, agenda: Agenda) -> tuple[str, str]:
    """Store the agenda as .docx and PDF; return both paths under data_dir."""
    data = agenda_docx(agenda, app.clock.now())
    _, docx_path = app.files.put("agendas", data, ".docx")
    _, pdf_path = app.files.put(
        "agendas", docx_to_pdf(app.config, data, "agenda", app.stop), ".pdf"
    )
    return docx_path, pdf_path
