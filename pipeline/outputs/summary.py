"""The one-page case summary a Service Manager screens from (R9), as a PDF made with fpdf2.

It carries minimal identifiers only (SPEC §7, R11): the case reference, the child's initials
and age — never the child's name or date of birth. What the panel is asked and which
documents came with the referral are enough to decide approve, decline or more information.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from pipeline.config import DEFAULT_MARKING
from pipeline.documents.form import REQUEST_TYPES
from pipeline.documents.kinds import KIND_ORDER, LABELS, Kind, Status
from pipeline.documents.parsing import stored_value
from pipeline.fonts import faces
from pipeline.rules.completeness import usable
from pipeline.store.models import Case

# Long answers are cut so the summary always fits on one page; the documents hold the rest.
MAX_QUESTION_CHARS = 700
MAX_LIST_ROWS = 8
MAX_ITEM_CHARS = 100
# Below this (mm from the top of A4) only the confidentiality footer is written.
LAST_LINE_Y = 262
# Without DejaVu Sans (see `fonts`) the PDF core fonts are used, which speak Latin-1 only:
# typographic punctuation is then mapped to plain ASCII, and other characters become "?".
_PLAIN = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "..."})
# The family name the embedded font is registered under in each document.
EMBEDDED = "DejaVu"


@dataclass(frozen=True)
class SummaryFacts:
    """What the summary shows, already reduced to minimal identifiers."""

    reference: str
    panel_name: str
    meeting: str
    received: str
    initials: str
    age: str
    request_types: tuple[str, ...]
    question: str
    section20: bool
    consent: str
    documents: tuple[str, ...]
    flags: tuple[str, ...]


def initials(name: str | None) -> str:
    """'Robin Testcase' -> 'R.T.'; unknown when the form did not say."""
    parts = [part for part in (name or "").replace("-", " ").split() if part[:1].isalpha()]
    return "".join(f"{part[0].upper()}." for part in parts) or "not given"


def age_on(dob_iso: str | None, on: date) -> str:
    """The child's age on `on` in words: years, months under two, or 'unborn'."""
    if not dob_iso:
        return "not given"
    try:
        dob = date.fromisoformat(dob_iso)
    except ValueError:
        return "not given"
    if dob > on:
        return f"unborn (due {dob:%B %Y})"
    months = (on.year - dob.year) * 12 + on.month - dob.month - (on.day < dob.day)
    return f"{months} months" if months < 24 else f"{months // 12} years"


def _question(case: Case) -> str:
    """The question put to the panel, from the current referral form as it was read."""
    for document in case.documents:
        if document.kind == Kind.REFERRAL_FORM and not document.superseded:
            question = stored_value(document.fields, "panel_question")
            if question:
                return str(question)
    return "not given on the form"


def _documents(case: Case) -> tuple[str, ...]:
    order = {kind.value: i for i, kind in enumerate(KIND_ORDER)}
    current = [d for d in case.documents if usable(d)]
    # Kinds only: file names often carry the child's name.
    return tuple(
        f"{LABELS[Kind(d.kind)]} (version {d.version})"
        + (" - needs a person to check" if d.status == Status.NEEDS_REVIEW else "")
        for d in sorted(current, key=lambda d: order.get(d.kind, 9))
    )


def summary_facts(
    case: Case, panel_name: str, meeting: str, received: str, on: date
) -> SummaryFacts:
    fields = case.fields or {}
    given = fields.get("consent")
    consent = "not given" if given is None else ("yes" if given else "no")
    return SummaryFacts(
        reference=case.reference,
        panel_name=panel_name,
        meeting=meeting,
        received=received,
        initials=initials(fields.get("child_name")),
        age=age_on(fields.get("child_dob"), on),
        request_types=tuple(REQUEST_TYPES.get(t, t) for t in fields.get("request_types") or ()),
        question=_question(case),
        section20=case.section20,
        consent=consent,
        documents=_documents(case),
        # Flags that name another case are kept; none carries a name.
        flags=tuple(str(flag) for flag in case.flags),
    )


class _Page:
    """A thin writer over FPDF: headings, label/value rows and bullet lists."""

    def __init__(self, created: datetime) -> None:
        self.pdf = FPDF(format="A4")
        self.pdf.set_creation_date(created)
        # Content is trimmed to fit, so a second page can never start.
        self.pdf.set_auto_page_break(False)
        self.pdf.set_margins(18, 16, 18)
        files = faces().files
        self.family = "Helvetica" if files is None else EMBEDDED
        if files is not None:
            # fpdf2 embeds only the glyphs used, with a map back to the text for search.
            self.pdf.add_font(EMBEDDED, "", files.regular)
            self.pdf.add_font(EMBEDDED, "B", files.bold)
        self.pdf.add_page()

    def font(self, style: str, size: float) -> None:
        self.pdf.set_font(self.family, style, size)

    def shown(self, text: str) -> str:
        if self.family == EMBEDDED:
            return text
        return text.translate(_PLAIN).encode("latin-1", "replace").decode("latin-1")

    def heading(self, text: str, size: int = 12) -> None:
        self.font("B", size)
        self.pdf.multi_cell(0, size * 0.55, self.shown(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(1.5)

    def row(self, label: str, value: str) -> None:
        self.font("B", 10)
        self.pdf.cell(48, 5.5, self.shown(label))
        self.font("", 10)
        self.pdf.multi_cell(0, 5.5, self.shown(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def has_room(self) -> bool:
        return self.pdf.get_y() < LAST_LINE_Y

    def items(self, values: tuple[str, ...]) -> None:
        self.font("", 10)
        shown = values or ("none",)
        for index, value in enumerate(shown):
            if index == MAX_LIST_ROWS or not self.has_room():
                more = f"... and {len(shown) - index} more"
                self.pdf.multi_cell(0, 5.2, more, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
                break
            line = self.shown(f"-  {_clip(value, MAX_ITEM_CHARS)}")
            self.pdf.multi_cell(0, 5.2, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(2)

    def text(self, value: str) -> None:
        self.font("", 10)
        self.pdf.multi_cell(0, 5.2, self.shown(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(2)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def render_summary(facts: SummaryFacts, created: datetime, marking: str = DEFAULT_MARKING) -> bytes:
    """The summary as PDF bytes: always exactly one A4 page, under the protective marking."""
    page = _Page(created)
    page.pdf.set_title(f"{facts.reference} case summary")
    page.heading(f"{facts.reference} - case summary for screening", 15)
    page.row("Panel", facts.panel_name)
    page.row("Meeting", facts.meeting)
    page.row("Received", facts.received)
    page.row("Child", f"{facts.initials}, aged {facts.age}")
    page.row("Section 20", "yes - emergency admission (R7)" if facts.section20 else "no")
    page.row("Family consent", facts.consent)
    page.pdf.ln(3)
    page.heading("Request")
    page.items(facts.request_types)
    page.heading("Question for the panel")
    page.text(_clip(facts.question, MAX_QUESTION_CHARS))
    page.heading("Documents (attached to the email)")
    page.items(facts.documents)
    if facts.flags and page.has_room():
        page.heading("Notes")
        page.items(facts.flags)
    page.pdf.set_y(-24)
    page.font("", 8)
    page.pdf.multi_cell(0, 4, f"{marking}. Confidential information about a child: do not forward.")
    return bytes(page.pdf.output())
