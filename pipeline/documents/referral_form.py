"""The referral form parser: every SPEC §4 field, from our form's tags or from labels elsewhere.

Our form's value cells are content controls with stable tags, so they are read exactly; its
label/value tables are then read as any other council's form is, to fill what the tags left
empty. Other Word forms are read by label matching (see `labels`), PDF forms through their
AcroForm fields first and their page text second. The few facts intake needs (`FormFacts`) are
derived from the same fields, so the two can never disagree.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pipeline.documents import labels
from pipeline.documents.dates import parse_date
from pipeline.documents.form import HOUSEHOLD_COLUMNS, REASONS, REQUEST_TYPES, SECTIONS
from pipeline.documents.form import Text as TextRow
from pipeline.documents.form import Tick as TickRow
from pipeline.documents.form import YesNo as YesNoRow
from pipeline.documents.kinds import Kind
from pipeline.documents.parsing import FieldSource, FieldValue, ParserContext, ParseResult, Source
from pipeline.documents.results import FormFacts, ReadLimits, Sniffed
from pipeline.documents.word import Block, WordDoc

log = logging.getLogger(__name__)

# Fields a referral form must answer (issue 3), as the referrer reads them.
REQUIRED = {
    "child_name": "the child's name",
    "child_dob": "the child's date of birth (or due date)",
    "referrer_name": "the referrer's name",
    "referrer_email": "the referrer's email address",
    "request_types": "the type of request",
    "consent": "whether the family agreed to the panel discussion (consent)",
}
_CONFIDENCE: dict[FieldSource, float] = {
    "content-control": 1.0,
    "acroform": 0.9,
    "table-label": 0.85,
    "table": 0.85,
    "text": 0.7,
    "sheet": 0.85,
}
DATE_FIELDS = frozenset({"child_dob", "referral_date", "manager_date"})
YES_NO_FIELDS = frozenset({"consent", "genogram_required", "family_informed"})
# Our form tags a yes/no pair by a prefix; the field it answers may be named differently.
_FIELD_OF_PREFIX = {"genogram": "genogram_required"}
_MULTILINE = frozenset(
    row.tag for part in SECTIONS for row in part.rows if isinstance(row, TextRow) and row.multiline
)
LIST_FIELDS = {"request_types": tuple(REQUEST_TYPES), "reasons": tuple(REASONS)}
# Fields whose answer is never a lone mark: they read ticks their own way (a yes/no, the request
# types) or cannot be one (a date, an address), so a mark beside their label is only a tick.
_NOT_TEXT = YES_NO_FIELDS | DATE_FIELDS | {"request", "referrer_email"}
# Tags only our form has: any one of them means the controls can be trusted.
_OUR_TAGS = frozenset({"child_name", "referrer_email", "consent_yes", "request_section20"})


@dataclass
class Draft:
    """Fields as they are found: the first value for a field is kept; ticks accumulate."""

    found: dict[str, FieldValue] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def offer(self, key: str, value: Any, source: FieldSource) -> None:
        if value is None or value == []:
            return
        if key in LIST_FIELDS:
            value = self._merged(key, value)
        elif key in self.found:
            return
        self.found[key] = FieldValue(value, _CONFIDENCE[source], source)

    def _merged(self, key: str, value: Iterable[str]) -> list[str]:
        had = self.found.get(key)
        keys = set(value) | set(had.value if had else ())
        return [item for item in LIST_FIELDS[key] if item in keys]

    def fill(self, other: Draft) -> None:
        for key, value in other.found.items():
            self.found.setdefault(key, value)
        self.notes += [note for note in other.notes if note not in self.notes]

    def value(self, key: str) -> Any:
        found = self.found.get(key)
        return found.value if found is not None else None


# --- Reading one answer. ---


def read_answer(draft: Draft, key: str, text: str, source: FieldSource, label: str = "") -> None:
    """Offer one typed answer for `key`, read as that field's kind of value.

    Text is kept as written, a lone "X" too: the caller has decided that `text` answers `key`.
    """
    if key in YES_NO_FIELDS:
        draft.offer(key, labels.yes_no(text), source)
    elif key == "request":
        draft.offer("request_types", sorted(labels.requested(text)), source)
    elif key in DATE_FIELDS:
        _read_date(draft, key, text, source, label)
    elif key == "referrer_email":
        _read_email(draft, text, source, label)
    elif key in _MULTILINE:
        draft.offer(key, labels.clean_lines(text), source)
    else:
        draft.offer(key, labels.written(text), source)


def _read_date(draft: Draft, key: str, text: str, source: FieldSource, label: str) -> None:
    written = labels.written(text)
    if written is None:
        return
    day = parse_date(written)
    if day is not None:
        draft.offer(key, day.isoformat(), source)
    elif key not in draft.found:
        draft.notes.append(f"{_label(key, label)}: '{written[:40]}' could not be read as a date")


def _read_email(draft: Draft, text: str, source: FieldSource, label: str) -> None:
    written = labels.written(text)
    if written is None:
        return
    address = labels.email(written)
    if address is not None:
        draft.offer("referrer_email", address, source)
    elif "referrer_email" not in draft.found:
        what = _label("referrer_email", label)
        draft.notes.append(f"{what}: '{written[:40]}' is not an email address")


def _label(key: str, label: str) -> str:
    return " ".join(label.split()).rstrip(":?") or REQUIRED.get(key, key.replace("_", " "))


# --- Our form, by tag. ---


def from_controls(controls: Mapping[str, str | bool]) -> Draft:
    """Every field of our form from its content controls, exactly."""
    draft = Draft()
    for part in SECTIONS:
        for row in part.rows:
            _control_row(draft, row, controls)
    household = [_member(controls, number) for number in range(1, 100)]
    draft.offer("household", [m for m in _until_gap(household) if m], "content-control")
    return draft


def _control_row(
    draft: Draft, row: TextRow | TickRow | YesNoRow, controls: Mapping[str, Any]
) -> None:
    if isinstance(row, TextRow):
        value = controls.get(row.tag)
        if isinstance(value, str):
            read_answer(draft, row.tag, value, "content-control", row.label)
    elif isinstance(row, TickRow):
        list_key = "request_types" if row.tag.startswith("request_") else "reasons"
        if controls.get(row.tag) is True:
            draft.offer(list_key, [row.tag.split("_", 1)[1]], "content-control")
    else:
        yes, no = (
            controls.get(f"{row.prefix}_yes") is True,
            controls.get(f"{row.prefix}_no") is True,
        )
        key = _FIELD_OF_PREFIX.get(row.prefix, row.prefix)
        draft.offer(key, yes if yes != no else None, "content-control")


def _member(controls: Mapping[str, Any], number: int) -> dict[str, Any] | None:
    if f"household_{number}_name" not in controls:
        return None
    texts = {key: controls.get(f"household_{number}_{key}") for key, _ in HOUSEHOLD_COLUMNS}
    return _household_member({k: v for k, v in texts.items() if isinstance(v, str)}) or {}


def _until_gap(items: Sequence[dict[str, Any] | None]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        if item is None:
            break
        found.append(item)
    return found


def _household_member(texts: Mapping[str, str]) -> dict[str, Any] | None:
    # Read from our form's controls too, where a lone "X" is what was typed.
    name = labels.written(texts.get("name", ""))
    if name is None:
        return None
    return {
        "name": name,
        "relationship": labels.written(texts.get("relationship", "")),
        "parental_responsibility": labels.yes_no(texts.get("parental_responsibility", "")),
        "do_not_disclose": labels.yes_no(texts.get("do_not_disclose", "")),
    }


# --- Any form, by label. ---


def from_blocks(
    blocks: Iterable[Block],
    labelled: Iterable[tuple[str, str | bool]],
    split_bare: bool,
    labelled_source: FieldSource = "content-control",
    normalise: Callable[[str], str] = labels.normalise_label,
) -> Draft:
    """Fields from label/value rows, "Label: value" lines, ticked boxes, tables of records or of
    Yes/No columns, and labelled controls (or form fields, by their names).

    `normalise` is `labels.normalise_label`, or the document's own memo of it (`Source.label`).
    """
    reader, section = _LabelReader(normalise=normalise), ""
    records = _Records()
    table, layout = -2, None
    for block in blocks:
        if block.table != table:
            table = block.table
            # A table's first row may say how the rest is laid out (`_layout_of`).
            layout = _layout_of(block.cells, normalise) if table >= 0 else None
            if layout is not None:
                continue
        if layout is not None:
            layout.read(block.cells, reader, records, section)
            continue
        if labels.looks_like_heading(block):
            section = labels.section_named(normalise(block.cells[0]), section)
        source: FieldSource = "table-label" if block.table >= 0 else "text"
        for label, value in labels.pairs(block.cells, split_bare, normalise):
            reader.take(label, value, section, source)
        for label, on, question in labels.block_ticks(block.cells):
            reader.tick(label, on, section, source, question)
    for name, answer in labelled:
        # A form field's name may say where it stands ("Child.DateOfBirth").
        part, label = labels.field_name(name)
        if isinstance(answer, bool):
            reader.tick(label, answer, part, labelled_source)
        else:
            reader.take(label, answer, part, labelled_source)
    return reader.finish(records)


@dataclass
class _LabelReader:
    """Label/value pairs into a draft; a forename and a surname make the child's name."""

    draft: Draft = field(default_factory=Draft)
    names: dict[str, FieldValue] = field(default_factory=dict)
    normalise: Callable[[str], str] = labels.normalise_label
    # The field the last label named: "If no, why not?" after a consent question is about it.
    last: str | None = None

    def take(self, label: str, value: str, section: str, source: FieldSource) -> None:
        normalised = self.normalise(label)
        key = labels.field_for(normalised, section)
        if key is None and self.last == "consent" and normalised.startswith(("if no", "if not")):
            key = "consent_reason_not"
        if key is None:
            # "Is this an emergency admission under Section 20?" | "Yes" asks for one.
            asked = labels.asked_requests(normalised, value) if value else set()
            self.draft.offer("request_types", sorted(asked), source)
            return
        self.last = key
        self._take(key, label, value, source)

    def _take(self, key: str | None, label: str, value: str, source: FieldSource) -> None:
        if key is None or not value.strip():
            return
        # A lone mark beside a label is the label's tick (read by `tick`) if the label can be
        # ticked; under a label that asks for text ("Risks | X") it is what the person wrote.
        if labels.ticked_cell(value) and (key in _NOT_TEXT or self._has_tick_meaning(label)):
            return
        if key in ("forename", "surname"):
            if key not in self.names and (clean := labels.written(value)) is not None:
                self.names[key] = FieldValue(clean, _CONFIDENCE[source], source)
            return
        read_answer(self.draft, key, value, source, label)

    def _has_tick_meaning(self, label: str) -> bool:
        return bool(labels.tick_meaning(label, self.normalise(label))[1])

    def tick(
        self, label: str, on: bool, section: str, source: FieldSource, question: str = ""
    ) -> None:
        # "Is a genogram required? ☐ Yes ☒ No": the ticked answer answers the question.
        if question and labels.answer_word(label) is not None:
            if on:
                self.take(question, label, section, source)
            return
        if not on:
            return
        normalised = self.normalise(label)
        words = normalised.split()
        if not words:
            return
        # "Consent: Yes" can arrive as a tick labelled "consent yes" (AcroForm, our tags).
        if words[-1] in ("yes", "no") and len(words) > 1:
            # The words are normalised already (and normalising is idempotent).
            stem = " ".join(words[:-1])
            self._take(labels.field_for(stem, section), stem, words[-1], source)
            return
        key, keys = labels.tick_meaning(label, normalised)
        if keys:
            self.draft.offer(key, sorted(keys), source)
            return
        # A box that says a yes/no answer itself: "Consent given", "Genogram not required".
        named = labels.field_for(normalised, section)
        if named in YES_NO_FIELDS:
            said = "no" if "not" in words or "no" in words else "yes"
            self._take(named, label, said, source)

    def finish(self, records: _Records) -> Draft:
        forename, surname = self.names.get("forename"), self.names.get("surname")
        if forename is not None and surname is not None:
            name = f"{forename.value} {surname.value}"
            self.draft.offer("child_name", name, forename.source)
        records.finish(self.draft)
        return self.draft


# --- Tables whose first row heads columns: records of people, and Yes/No answer columns. ---


_COLUMNS = {
    "name": ("name", "full name", "names", "childs name", "child name", "name of child"),
    "relationship": ("relationship", "relationship to the child", "relationship to child"),
    "parental_responsibility": ("parental responsibility", "pr"),
    "do_not_disclose": ("address must not be disclosed", "do not disclose", "confidential address"),
    "dob": ("date of birth", "dob", "d o b", "born", "edd", "due date"),
    "subject": ("subject of referral", "subject", "referred child", "child referred", "referred"),
    # Columns a table of children often has besides, which say nothing to us.
    "other": (
        *("gender", "sex", "age", "school", "setting", "school / setting", "ethnicity"),
        *("nhs number", "address", "ehcp", "send", "gp", "lives with"),
    ),
}
_COLUMN_PATTERNS = {key: labels.prefix_pattern(names) for key, names in _COLUMNS.items()}
_HOUSEHOLD_KEYS = ("name", "relationship", "parental_responsibility", "do_not_disclose")
_ANSWER_COLUMNS = {"yes": "Yes", "y": "Yes", "no": "No", "n": "No", "n / a": "N/A", "na": "N/A"}


def _layout_of(cells: Sequence[str], normalise: Callable[[str], str]) -> _Layout | None:
    """What a table's first row makes of the rest: records of people, Yes/No answer columns
    ("Question | Yes | No", a mark under one), or nothing (label/value rows, read as such)."""
    heads = [normalise(cell) for cell in cells]
    answers = {i: _ANSWER_COLUMNS[head] for i, head in enumerate(heads) if head in _ANSWER_COLUMNS}
    if {"Yes", "No"} <= set(answers.values()) and 0 not in answers:
        return _AnswerColumns(answers)
    found: dict[str, int] = {}
    unknown = False
    for index, head in enumerate(heads):
        key = next((k for k, pattern in _COLUMN_PATTERNS.items() if pattern.match(head)), None)
        if key is None:
            unknown = unknown or bool(head)
        elif key not in found:
            found[key] = index
    if "name" not in found:
        return None
    if "relationship" in found:
        return _People(found, household=True)
    # Without a relationship column, a table of names and dates of birth is of children; every
    # heading must be a column's, as "Name | Ada | Date of birth | 03/04/2019" is not a table.
    if "dob" in found and not unknown:
        return _People(found, household=False)
    return None


@dataclass
class _Records:
    """People read from tables: the household, and the children of a table of children."""

    household: list[dict[str, Any]] = field(default_factory=list)
    children: list[dict[str, str]] = field(default_factory=list)

    def finish(self, draft: Draft) -> None:
        draft.offer("household", self.household, "table")
        if not self.children:
            return
        child = _referred_child(self.children, draft.value("child_name"))
        if child is not None:
            draft.offer("child_name", child["name"], "table")
            _read_date(draft, "child_dob", child.get("dob", ""), "table", "Date of birth")
        others = [
            ", ".join(filter(None, (row["name"], row.get("dob"))))
            for row in self.children
            if row is not child
        ]
        draft.offer("other_children", "\n".join(others) or None, "table")


def _referred_child(children: list[dict[str, str]], named: str | None) -> dict[str, str] | None:
    """The row of the child referred: marked so, or the one named elsewhere on the form, or
    (with no name elsewhere) the first."""
    marked = [row for row in children if _marked(row.get("subject", ""))]
    if marked:
        return marked[0]
    if named is not None:
        return next((row for row in children if row["name"] == named), None)
    return children[0]


def _marked(cell: str) -> bool:
    """Whether a cell says yes: "Yes", "Y", or a ticked box on its own."""
    return labels.ticked_cell(cell) or labels.yes_no(cell) is True


@dataclass(frozen=True)
class _People:
    """Rows of people under a header: household members, or children."""

    columns: dict[str, int]
    household: bool

    def read(
        self, cells: Sequence[str], reader: _LabelReader, records: _Records, section: str
    ) -> None:
        texts = {key: cells[i] for key, i in self.columns.items() if i < len(cells)}
        if self.household:
            member = _household_member({k: v for k, v in texts.items() if k in _HOUSEHOLD_KEYS})
            if member is not None:
                records.household.append(member)
        elif (name := labels.clean(texts.get("name", ""))) is not None:
            dob = labels.clean(texts.get("dob", "")) or ""
            records.children.append({"name": name, "dob": dob, "subject": texts.get("subject", "")})


@dataclass(frozen=True)
class _AnswerColumns:
    """Questions down the first column, answered by a mark under "Yes" or "No"."""

    answers: dict[int, str]

    def read(
        self, cells: Sequence[str], reader: _LabelReader, records: _Records, section: str
    ) -> None:
        for index, answer in self.answers.items():
            if index < len(cells) and labels.ticked_cell(cells[index]):
                reader.take(cells[0], answer, section, "table-label")


_Layout = _People | _AnswerColumns


# --- Whole documents. ---


def word_draft(
    word: WordDoc, normalise: Callable[[str], str] = labels.normalise_label
) -> tuple[Draft, str]:
    """Our form by tag (then labels for the rest), or another form by labels alone."""
    by_label = from_blocks(word.blocks, word.labelled, split_bare=False, normalise=normalise)
    if _OUR_TAGS.isdisjoint(word.controls):
        return by_label, "labels"
    draft = from_controls(word.controls)
    draft.fill(by_label)
    return draft, "content-controls"


def pdf_draft(source: Source) -> Draft:
    """A PDF form: its AcroForm fields first, then label matching on its text lines."""
    # Filled-in AcroForm fields are answers; the page text around them may only be prompts.
    text = from_blocks(source.pdf_blocks, (), split_bare=True, normalise=source.label)
    fields = source.pdf_fields
    if not fields:
        return text
    # All the fields' labels normalised at once, as the lines were (`Source.pdf_blocks`).
    source.prepare(labels.field_name(name)[1] for name, _ in fields)
    draft = from_blocks(
        (), fields, split_bare=True, labelled_source="acroform", normalise=source.label
    )
    # Beside fields, the page's list of choices ("Type of request: Section 20 / Advice") is
    # what the form offers, not what was chosen: the ticked fields say that.
    for key in LIST_FIELDS:
        text.found.pop(key, None)
    draft.fill(text)
    return draft


def facts_of(draft: Draft, how: str) -> FormFacts:
    """The few facts intake needs, from the fields found; `how` the form was read."""
    requests = tuple(draft.value("request_types") or ())
    born = draft.value("child_dob")
    return FormFacts(
        panel=draft.value("panel"),
        child_name=draft.value("child_name"),
        child_dob=date.fromisoformat(born) if born else None,
        referrer_name=draft.value("referrer_name"),
        referrer_email=draft.value("referrer_email"),
        request_types=requests,
        consent=draft.value("consent"),
        genogram_required=draft.value("genogram_required"),
        section20="section20" in requests,
        source=how if how == "content-controls" or _has_facts(draft) else "none",
    )


_FACT_FIELDS = (
    *("panel", "child_name", "child_dob", "referrer_name", "referrer_email"),
    *("request_types", "consent", "genogram_required"),
)


def _has_facts(draft: Draft) -> bool:
    return any(key in draft.found for key in _FACT_FIELDS)


def result_of(draft: Draft, how: str) -> ParseResult:
    """The parse result: fields, the required ones missing, and notes a referrer can act on."""
    missing = tuple(key for key in REQUIRED if key not in draft.found)
    notes = list(draft.notes)
    if not draft.found:
        notes.insert(0, "no fields could be read from this form: a person will read it")
    elif missing:
        notes.append(f"the form does not give {_joined([REQUIRED[k] for k in missing])}")
    return ParseResult(dict(draft.found), tuple(notes), None, missing, facts_of(draft, how))


def _joined(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


def read_draft(source: Source) -> tuple[Draft, str]:
    """The draft of a referral form of any type we read, and how it was read."""
    if source.sniffed.type == "docx" and source.word is not None:
        return word_draft(source.word, source.label)
    if source.sniffed.type == "pdf":
        return pdf_draft(source), "labels"
    return Draft(), "none"


class ReferralFormParser:
    """Referral forms in Word and PDF: ours by tag, others by label, PDF forms by field."""

    kind = Kind.REFERRAL_FORM
    types = frozenset({"docx", "pdf"})

    def parse(self, source: Source, context: ParserContext) -> ParseResult | None:
        draft, how = read_draft(source)
        return result_of(draft, how)


def read_form_facts(data: bytes, sniffed: Sniffed) -> FormFacts:
    """What a referral form says (intake's few facts): tags first, then labels; never raises."""
    try:
        if sniffed.problem is None:
            return facts_of(*read_draft(Source(data, sniffed, ReadLimits())))
    except Exception as exc:
        # A hostile or odd file must never stop intake; the document is still filed.
        log.warning("reading a referral form failed: %s", type(exc).__name__)
    return facts_of(Draft(), "none")
