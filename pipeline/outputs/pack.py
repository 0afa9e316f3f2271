"""R12: one navigable PDF per meeting, assembled from the stored conversions in seconds.

Front sheet, the agenda with each case's page range, then every case's documents in order
(form, chronology, genogram, assessment, others), with bookmarks per case and per document.
Each recipient's copy is stamped with "Page x of y" and their name on every page. A pack is
versioned by the digest of its inputs: the same inputs never make a new version.

No one case or document stops the pack: a case with documents missing or refused has a page
saying which and why (its only page, if nothing of it can be shown), and a document that
cannot be shown (not converted, its file lost) a page saying so in its place.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

import pikepdf
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.config import DEFAULT_MARKING, PeopleConfig
from pipeline.documents.kinds import KIND_ORDER, LABELS, Kind, Status
from pipeline.errors import StoreError
from pipeline.fonts import faces
from pipeline.outputs.agenda import Agenda, agenda_lines, build_agenda, marking_line
from pipeline.outputs.convert import NotStarted, convert_documents
from pipeline.outputs.pdftext import A4, Line, add_text_pages, count_pages, saved
from pipeline.outputs.quarter_pages import TITLE as QUARTER_TITLE
from pipeline.outputs.quarter_pages import add_quarter_pages, pack_figures
from pipeline.rules.completeness import usable
from pipeline.rules.quarterly import QuarterFigures
from pipeline.rules.screening import coopted_agencies
from pipeline.states import ConversionState
from pipeline.store.audit import audit
from pipeline.store.facts import missing_for
from pipeline.store.models import Case, Conversion, Document, Pack

log = logging.getLogger(__name__)

# The bookmark of the page saying what a case's pack lacks.
GAPS = "Missing or refused"
CONVERT_FAILED = "This document could not be converted: see the original in the zip."
NOT_SHOWN = "This document could not be shown: its file is missing."
LOST = (
    "the stored file is missing from the panel's data folder: the administrator can restore it "
    "from a backup"
)


@dataclass(frozen=True)
class Recipient:
    """Someone a pack goes to; `agency` set means a co-opted member (their cases only)."""

    name: str
    email: str
    role: str
    agency: str | None = None

    @property
    def whole(self) -> bool:
        return self.agency is None


@dataclass(frozen=True)
class PackDocument:
    label: str
    filename: str
    sha256: str
    stored_path: str


@dataclass(frozen=True)
class LeftOut:
    """A document of the case that is not in the pack, and why (a refused file)."""

    label: str
    filename: str
    reason: str


@dataclass(frozen=True)
class PackCase:
    reference: str
    documents: tuple[PackDocument, ...]
    # Agencies co-opted for this case, lower-cased, from its "co-opt: …" flags.
    coopted: tuple[str, ...] = ()
    left_out: tuple[LeftOut, ...] = ()
    # The labels of the kinds of document it still needs (R4).
    missing: tuple[str, ...] = ()

    @property
    def gaps(self) -> bool:
        """Whether the pack says what the case lacks: a page of its own, first in the case."""
        return bool(self.left_out or self.missing or not self.documents)


@dataclass(frozen=True)
class PackInputs:
    """Everything a pack is made from; its digest decides whether a new version is due."""

    agenda: Agenda
    cases: tuple[PackCase, ...]
    distribution: tuple[Recipient, ...]
    # A quarterly meeting's previous quarter (R15): the pack ends with its picture.
    quarter: QuarterFigures | None = None

    def digest(self) -> str:
        agenda = asdict(self.agenda) | {"starts_at": self.agenda.starts_at.isoformat()}
        # The previous quarter's figures (agenda section 4, the picture's pages) are live: a
        # sheet sent late last quarter changes them, and must not reissue this meeting's whole
        # pack to every member. They are left out of the digest; a pack reissued for another
        # reason shows the figures of that moment. (Empty, as a non-quarterly meeting's always
        # is, so those packs keep the digest they had.)
        agenda["quarter"] = ()
        state = {
            "agenda": agenda,
            "cases": [asdict(c) for c in self.cases],
            "distribution": [asdict(r) for r in self.distribution],
        }
        if self.quarter is not None:
            # Only which quarter (only when there is one: other meetings' packs keep the
            # digest they had).
            state["quarter"] = self.quarter.quarter
        return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()

    def only(self, references: Sequence[str]) -> PackInputs:
        """The same pack holding only `references` (a co-opted member's copy)."""
        keep = set(references)
        cases = tuple(c for c in self.cases if c.reference in keep)
        return replace(self, agenda=self.agenda.only(references), cases=cases)

    def for_agency(self, agency: str) -> list[str]:
        return [c.reference for c in self.cases if agency.strip().lower() in c.coopted]


@dataclass
class Section:
    """A bookmarked run of pages (0-based, `last` inclusive), with nested sections."""

    title: str
    first: int
    last: int
    children: list[Section] = field(default_factory=list)


@dataclass(frozen=True)
class Rendered:
    data: bytes
    pages: int
    sections: list[Section]


def section_pdf(data: bytes, sections: Sequence[Section], title: str) -> bytes:
    """The pages of one top-level section (e.g. the agenda) as a PDF of their own."""
    section = next(s for s in sections if s.title == title)
    with pikepdf.open(io.BytesIO(data)) as source, pikepdf.new() as out:
        out.pages.extend(source.pages[section.first : section.last + 1])
        buffer = io.BytesIO()
        out.save(buffer)
        return buffer.getvalue()


def recipients(people: PeopleConfig) -> list[Recipient]:
    """Only configured people (SPEC §7): the panel's administrator, chair, CAF co-ordinator
    and members; each address once."""
    coordinator = people.caf_coordinator
    everyone = [
        Recipient(people.administrator.name, people.administrator.email, "administrator"),
        Recipient(people.chair.name, people.chair.email, "chair"),
        *(
            [Recipient(coordinator.name, coordinator.email, "CAF co-ordinator")]
            if coordinator
            else []
        ),
        *(
            Recipient(m.name, m.email, m.role, m.agency if m.role == "co-opted" else None)
            for m in people.members
        ),
    ]
    unique: dict[str, Recipient] = {}
    for person in everyone:
        unique.setdefault(person.email.lower(), person)
    return list(unique.values())


def pack_documents(case: Case) -> list[Document]:
    """The case's current, readable documents in pack order (R12); stable within a kind."""
    order = {kind.value: i for i, kind in enumerate(KIND_ORDER)}
    current = [d for d in case.documents if usable(d)]
    return sorted(current, key=lambda d: (order.get(d.kind, len(order)), d.id))


def _label(kind: str) -> str:
    """A kind's label; a kind this version does not know is shown as another document."""
    try:
        return LABELS[Kind(kind)]
    except ValueError:
        return LABELS[Kind.OTHER]


def _pack_case(case: Case) -> PackCase:
    documents = tuple(
        PackDocument(_label(d.kind), d.filename, d.sha256, d.stored_path)
        for d in pack_documents(case)
    )
    refused = tuple(
        LeftOut(_label(d.kind), d.filename, d.reason or "it could not be opened")
        for d in sorted(case.documents, key=lambda d: d.id)
        if d.status == Status.REFUSED and not d.superseded
    )
    missing = tuple(_label(kind) for kind in missing_for(case))
    return PackCase(case.reference, documents, coopted_agencies(case.flags or []), refused, missing)


def gather(app: App, session: Session, panel_id: str, starts_at: datetime) -> PackInputs:
    """The pack's inputs as the database holds them now; nothing is converted here."""
    agenda = build_agenda(app, session, panel_id, starts_at)
    cases = [session.get_one(Case, item.case_id) for item in agenda.items]
    return PackInputs(
        agenda,
        tuple(_pack_case(c) for c in cases),
        tuple(recipients(app.config.people_of(panel_id))),
        pack_figures(app, session, agenda),
    )


def convert_inputs(app: App, session: Session, inputs: PackInputs) -> None:
    """Convert any document that arrived without being converted (the cold path)."""
    shas = {d.sha256 for c in inputs.cases for d in c.documents}
    ids = [item.case_id for item in inputs.agenda.items]
    documents = session.scalars(select(Document).where(Document.case_id.in_(ids)))
    try:
        convert_documents(app, session, [d for d in documents if d.sha256 in shas])
    except NotStarted as exc:
        # The pack still goes: those documents show as not converted yet, and the conversion
        # jobs convert them (and a later version of the pack shows them) once it can start.
        log.warning("the pack's office documents were not converted: %s", exc)


def _front_lines(inputs: PackInputs, version: int, partial: bool) -> list[Line]:
    agenda = inputs.agenda
    lines = [
        Line(agenda.panel_name, size=18, bold=True),
        Line(f"Meeting pack, version {version}", size=14, space=6),
        Line(f"Meeting: {agenda.meeting}", space=12),
        Line(f"Chair: {agenda.chair}"),
        Line(marking_line(agenda.marking), size=12, bold=True, space=16),
        Line(
            "This copy is for its named recipient only: do not forward, print or keep it "
            "after the meeting.",
            space=4,
        ),
        Line("Distribution", size=12, bold=True, space=16),
    ]
    for person in inputs.distribution:
        role = f"co-opted ({person.agency}), own cases only" if person.agency else person.role
        lines.append(Line(f"{person.name}: {role}", indent=14, space=2))
    if partial:
        lines.append(Line("This copy holds only the cases your agency was co-opted for.", space=12))
    return lines


def _gaps_lines(case: PackCase) -> list[Line]:
    """What a case's pack lacks: the kinds not received and the files refused, with reasons."""
    lines = [Line(f"{case.reference}: documents not in this pack", size=14, bold=True)]
    if not case.documents:
        lines.append(Line("No document of this case is in the pack.", space=12))
    if case.missing:
        lines.append(Line(f"Not received: {', '.join(case.missing)}.", space=12))
    if case.left_out:
        lines.append(Line("Refused (the referrer was told why):", space=12))
        lines += [
            Line(f"{item.filename} ({item.label}): {item.reason}", indent=14, space=4)
            for item in case.left_out
        ]
    if not (case.missing or case.left_out):
        lines.append(Line("No documents have been received for this case.", space=12))
    return lines


def _placeholder(pdf: pikepdf.Pdf, document: PackDocument, reason: str, headline: str) -> int:
    return add_text_pages(
        pdf,
        [
            Line(document.label, size=14, bold=True),
            Line(headline, space=12),
            Line(f"File: {document.filename}", space=6),
            Line(f"Reason: {reason}", space=6),
        ],
    )


def _not_converted(app: App, document: PackDocument, row: Conversion | None) -> tuple[str, str]:
    """Why a document has no converted copy to show (its file is lost, or it was not
    converted), and the placeholder's headline."""
    if row is None and not document.stored_path:
        return "the file was deleted after the retention period", NOT_SHOWN
    if row is None and app.files.stored_at_ns(document.stored_path) is None:
        return LOST, NOT_SHOWN
    reason = (row.error if row is not None else None) or "it has not been converted yet"
    return reason, CONVERT_FAILED


def _conversions(session: Session, cases: Sequence[PackCase]) -> dict[str, Conversion]:
    shas = [d.sha256 for c in cases for d in c.documents]
    rows = session.scalars(select(Conversion).where(Conversion.source_sha256.in_(shas)))
    return {row.source_sha256: row for row in rows}


def _add_document(
    app: App, pdf: pikepdf.Pdf, stack: ExitStack, document: PackDocument, row: Conversion | None
) -> int:
    """Append one document's pages (or a placeholder page); return how many were added."""
    if row is None or row.status != ConversionState.DONE or not row.pdf_path:
        return _placeholder(pdf, document, *_not_converted(app, document, row))
    first = len(pdf.pages)
    try:
        source = stack.enter_context(pikepdf.open(app.files.absolute(row.pdf_path)))
        pdf.pages.extend(source.pages)
    except (pikepdf.PdfError, OSError):
        # Pages copied before the failure go again: the placeholder takes their place.
        del pdf.pages[first:]
        return _placeholder(pdf, document, "the converted copy could not be read", CONVERT_FAILED)
    return len(pdf.pages) - first


def _add_cases(
    app: App, session: Session, pdf: pikepdf.Pdf, stack: ExitStack, cases: Sequence[PackCase]
) -> list[Section]:
    rows = _conversions(session, cases)
    found = []
    for case in cases:
        section = Section(case.reference, len(pdf.pages), len(pdf.pages))
        if case.gaps:
            # Every case has a page at least, so its bookmark and page range point into it.
            added = add_text_pages(pdf, _gaps_lines(case))
            section.children.append(Section(GAPS, section.first, section.first + added - 1))
        for document in case.documents:
            first = len(pdf.pages)
            added = _add_document(app, pdf, stack, document, rows.get(document.sha256))
            section.children.append(Section(document.label, first, first + added - 1))
        section.last = len(pdf.pages) - 1
        found.append(section)
    return found


def _outline(pdf: pikepdf.Pdf, sections: Sequence[Section], offset: int = 0) -> None:
    def item(section: Section) -> pikepdf.OutlineItem:
        entry = pikepdf.OutlineItem(section.title, section.first - offset)
        entry.children.extend(item(child) for child in section.children)
        return entry

    with pdf.open_outline() as outline:
        outline.root.extend(item(s) for s in sections)


def _titled(item_case: str, inputs: PackInputs) -> str:
    item = next(i for i in inputs.agenda.items if i.reference == item_case)
    return f"{item.reference} ({item.initials}, {item.age})"


def render(app: App, session: Session, inputs: PackInputs, version: int, partial: bool) -> Rendered:
    """The unstamped pack as PDF bytes, with its bookmarked sections."""
    front = _front_lines(inputs, version, partial)
    with ExitStack() as stack:
        pdf = stack.enter_context(pikepdf.new())
        cases_pdf = stack.enter_context(pikepdf.new())
        cases = _add_cases(app, session, cases_pdf, stack, inputs.cases)
        # The agenda's length does not depend on the page numbers it prints (see agenda_lines),
        # so it is counted first and then written with the final ranges.
        head = count_pages(front) + count_pages(agenda_lines(inputs.agenda, {}))
        ranges = {s.title: (s.first + head + 1, s.last + head + 1) for s in cases}
        front_pages = add_text_pages(pdf, front)
        add_text_pages(pdf, agenda_lines(inputs.agenda, ranges))
        pdf.pages.extend(cases_pdf.pages)
        sections = [
            Section("Front sheet", 0, front_pages - 1),
            Section("Agenda", front_pages, head - 1),
            *(_shifted(s, head, _titled(s.title, inputs)) for s in cases),
        ]
        if inputs.quarter is not None:
            first = len(pdf.pages)
            added = add_quarter_pages(pdf, stack, inputs.quarter)
            sections.append(Section(QUARTER_TITLE, first, first + added - 1))
        _outline(pdf, sections)
        return Rendered(saved(pdf), len(pdf.pages), sections)


def case_pages(data: bytes, reference: str) -> bytes | None:
    """One case's pages of a rendered pack, found by its bookmark, as a PDF of their own; None
    if the pack has no such case. The case runs to the next top-level bookmark."""
    with pikepdf.open(io.BytesIO(data)) as pdf, pikepdf.new() as out:
        starts: list[tuple[str, int]] = []
        with pdf.open_outline() as outline:
            for item in outline.root:
                destination = item.destination
                if isinstance(destination, pikepdf.Array) and len(destination) > 0:
                    starts.append((item.title, pdf.pages.index(pikepdf.Page(destination[0]))))
        for n, (title, first) in enumerate(starts):
            if title == reference or title.startswith(f"{reference} ("):
                last = starts[n + 1][1] if n + 1 < len(starts) else len(pdf.pages)
                out.pages.extend(pdf.pages[first:last])
                return saved(out)
    return None


def case_papers(app: App, session: Session, case: Case) -> bytes:
    """A case's documents laid out as the pack lays them out, built afresh from its stored
    conversions (for a case no stored pack holds)."""
    with ExitStack() as stack:
        pdf = stack.enter_context(pikepdf.new())
        _add_cases(app, session, pdf, stack, [_pack_case(case)])
        return saved(pdf)


def _shifted(section: Section, by: int, title: str | None = None) -> Section:
    return Section(
        title or section.title,
        section.first + by,
        section.last + by,
        [_shifted(child, by) for child in section.children],
    )


def latest_pack(session: Session, panel_id: str, starts_at: datetime) -> Pack | None:
    query = select(Pack).where(Pack.panel_id == panel_id, Pack.meeting == starts_at)
    return session.scalar(query.order_by(Pack.version.desc()))


@dataclass(frozen=True)
class Built:
    pack: Pack
    inputs: PackInputs
    rendered: Rendered


def build_pack(app: App, session: Session, panel_id: str, starts_at: datetime) -> Built:
    """The meeting's whole pack: the latest version if nothing changed, else a new one."""
    inputs = gather(app, session, panel_id, starts_at)
    convert_inputs(app, session, inputs)
    digest = inputs.digest()
    latest = latest_pack(session, panel_id, starts_at)
    version = latest.version if latest and latest.inputs_sha256 == digest else None
    rendered = render(app, session, inputs, version or _next(latest), partial=False)
    if latest is not None and version is not None:
        return Built(latest, inputs, rendered)
    pack = Pack(
        panel_id=panel_id,
        meeting=starts_at,
        version=_next(latest),
        inputs_sha256=digest,
        stored_path=app.files.put("packs", rendered.data, ".pdf")[1],
        pages=rendered.pages,
        references=inputs.agenda.references,
        created_at=app.clock.now(),
    )
    session.add(pack)
    session.flush()
    audit(
        session,
        app.clock.now(),
        None,
        "pack_built",
        pack=pack.id,
        version=pack.version,
        pages=pack.pages,
    )
    return Built(pack, inputs, rendered)


def _next(latest: Pack | None) -> int:
    return 1 if latest is None else latest.version + 1


def _stamp_stream(page: pikepdf.Page, font: pikepdf.Name, top: bytes, bottom: bytes) -> bytes:
    """The stamp drawn upright at the top and bottom of the page as a reader sees it."""
    matrix, width, height = _upright(page)
    ops: list[tuple[list[object], pikepdf.Operator]] = [
        ([], pikepdf.Operator("Q")),
        ([], pikepdf.Operator("q")),
        (list(matrix), pikepdf.Operator("cm")),
        ([0.25], pikepdf.Operator("g")),
    ]
    for text, size, x, y in ((top, 7, 28, height - 16), (bottom, 8, width / 2 - 24, 14)):
        ops += [
            ([], pikepdf.Operator("BT")),
            ([font, size], pikepdf.Operator("Tf")),
            ([x, y], pikepdf.Operator("Td")),
            ([pikepdf.String(text)], pikepdf.Operator("Tj")),
            ([], pikepdf.Operator("ET")),
        ]
    ops.append(([], pikepdf.Operator("Q")))
    return pikepdf.unparse_content_stream(ops)  # type: ignore[arg-type]


def _upright(page: pikepdf.Page) -> tuple[tuple[float, ...], float, float]:
    """A matrix from upright coordinates (origin at the visible bottom left as displayed) to the
    page's own, and the visible width and height as displayed.

    A landscape scan is often a portrait page turned by /Rotate; a stamp drawn in the page's own
    coordinates would then run up its side. Only the crop box is shown, so that is what counts.
    """
    x0, y0, x1, y1 = _shown(page)
    width, height = x1 - x0, y1 - y0
    turned = page.rotation % 360
    if turned == 90:
        return (0, 1, -1, 0, x0 + width, y0), height, width
    if turned == 180:
        return (-1, 0, 0, -1, x0 + width, y0 + height), width, height
    if turned == 270:
        return (0, -1, 1, 0, x0, y0 + height), height, width
    return (1, 0, 0, 1, x0, y0), width, height


def _shown(page: pikepdf.Page) -> tuple[float, float, float, float]:
    """The page's crop box, else its media box, else A4: a box a damaged PDF writer left as
    something else must not stop the stamp, and so the pack."""
    for box in (page.obj.get("/CropBox"), page.mediabox):
        if not isinstance(box, pikepdf.Array) or len(box) != 4:
            continue
        try:
            x0, y0, x1, y1 = (float(v) for v in box)
        except (TypeError, ValueError):
            continue
        if x1 != x0 and y1 != y0:
            return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)
    return 0.0, 0.0, *A4


def stamp(data: bytes, name: str, *, marking: str = DEFAULT_MARKING) -> bytes:
    """A copy with "Page x of y" and the recipient's name on every page (R12)."""
    face = faces().regular
    with pikepdf.open(io.BytesIO(data)) as pdf:
        total = len(pdf.pages)
        top = f"Copy for {name}. {marking_line(marking)}"
        font = face.font(pdf, f"{top} Page of 0123456789")
        copy_for = face.encode(top)
        # The page's own drawing is wrapped in q … Q so none of its state leaks into the stamp.
        opening = pdf.make_stream(b"q\n")
        for number, page in enumerate(pdf.pages, start=1):
            resource = page.add_resource(font, pikepdf.Name.Font, pikepdf.Name("/MaspStamp"))
            page.contents_add(opening, prepend=True)
            bottom = face.encode(f"Page {number} of {total}")
            page.contents_add(_stamp_stream(page, resource, copy_for, bottom))
        return saved(pdf)


def _part(pdf: pikepdf.Pdf, sections: Sequence[Section], first: int, last: int) -> bytes:
    """Pages first..last (inclusive) as their own PDF, with the bookmarks that fall inside."""
    with pikepdf.new() as part:
        part.pages.extend(pdf.pages[first : last + 1])
        _outline(part, list(_within(sections, first, last)), offset=first)
        return saved(part)


def _within(sections: Sequence[Section], first: int, last: int) -> Iterator[Section]:
    for s in sections:
        if first <= s.first <= last:
            children = list(_within(s.children, first, last))
            yield Section(s.title, s.first, min(s.last, last), children)


def split(data: bytes, sections: Sequence[Section], budget: int) -> list[bytes]:
    """The stamped pack in numbered parts of at most `budget` bytes: whole cases where they
    fit, else pages; a single page larger than the budget still goes, alone (never dropped)."""
    if len(data) <= budget:
        return [data]
    with pikepdf.open(io.BytesIO(data)) as pdf:
        units = [(s.first, s.last) for s in sections]
        ranges = _group(units, lambda a, b: len(_part(pdf, sections, a, b)) <= budget)
        return [_part(pdf, sections, a, b) for a, b in ranges]


def _group(
    units: Sequence[tuple[int, int]], fits: Callable[[int, int], bool]
) -> list[tuple[int, int]]:
    """Join consecutive page runs while they fit; halve any run that does not fit alone."""
    groups: list[tuple[int, int]] = []
    for first, last in units:
        if groups and fits(groups[-1][0], last):
            groups[-1] = (groups[-1][0], last)
        else:
            groups += _halves(first, last, fits)
    return groups


def _halves(first: int, last: int, fits: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    if first == last or fits(first, last):
        return [(first, last)]
    middle = (first + last) // 2
    return _halves(first, middle, fits) + _halves(middle + 1, last, fits)


@dataclass(frozen=True)
class Original:
    """One file as its referrer sent it: its case, its name in the zip, and where it is kept."""

    case: str
    name: str
    stored_path: str


def originals(inputs: PackInputs) -> list[Original]:
    """Every original file of the pack, in agenda order, a folder per case."""
    return [
        Original(
            case.reference,
            f"{case.reference}/{n:02d} {document.label} - {document.filename}",
            document.stored_path,
        )
        for case in inputs.cases
        for n, document in enumerate(case.documents, start=1)
    ]


def zip_originals(app: App, files: Sequence[Original]) -> bytes:
    """`files` exactly as the referrers sent them, a folder per case; a file lost from the
    store is a note saying so, in its place."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for original in files:
            try:
                archive.writestr(original.name, app.files.read(original.stored_path))
            except StoreError as exc:
                log.warning("case %s: an original is not in the pack's zip: %s", original.case, exc)
                note = f"{original.name} could not be included: {exc}.\n"
                archive.writestr(f"{original.name} - MISSING.txt", note)
    return buffer.getvalue()
