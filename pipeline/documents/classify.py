"""Which kind of document an attachment is (SPEC §4, R4), from its name, its type and its content.

Content wins over the file name: a name is a weak hint that people get wrong ("docs.docx", a
chronology saved as "EHA.docx"). Each kind scores the content; the best strong score decides,
the name only confirms or breaks a tie, and a file nothing can vouch for is left for a person.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pipeline.documents.assessment import DOMAINS, TITLES
from pipeline.documents.chronology import COLUMN_NAMES
from pipeline.documents.extract import MAX_SHEET_ROWS, MAX_TEXT, Content, extract
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.labels import (
    contains_phrase,
    field_for,
    first_run,
    normalise_label,
    phrase_pattern,
    prefix_pattern,
    prefixes_for,
)
from pipeline.documents.parsing import Source
from pipeline.documents.results import Classification, ReadLimits, Sniffed, with_article
from pipeline.documents.sniff import UNREADABLE
from pipeline.documents.word import Block

log = logging.getLogger(__name__)

STRONG = 0.5
WEAK = 0.3

SCANNED = "a scanned page with no text: a person will read it"
UNEXPECTED = "the file could not be read automatically: a person will look at it"


class Seen:
    """A document's content and what every scorer looks at, each worked out once."""

    __slots__ = ("content", "label", "text", "title_text", "titles")

    def __init__(self, content: Content, label: Callable[[str], str]) -> None:
        self.content = content
        # The document's own memo of normalised lines and labels (`Source.label`).
        self.label = label
        self.text = _text(content.blocks)
        self.titles = _titles(content)
        # The titles normalised, one a line, each between spaces: every phrase pattern is then
        # searched once over them all rather than once a title (see `_title_match`).
        self.title_text = " \n ".join(map(label, self.titles))


@dataclass(frozen=True)
class Guess:
    kind: Kind
    score: float
    note: str


def classify(
    filename: str, data: bytes, sniffed: Sniffed, source: Source | None = None
) -> Classification:
    """The kind of `data`, named `filename`, whose real type is `sniffed`; never raises.

    Pass the `source` the document's parser will read too, so each reader runs only once.
    """
    named = _name_kind(filename)
    if sniffed.problem is not None:
        note = f"not read; the file name suggests {with_article(named[0])}" if named else "not read"
        kind = named[0] if named else Kind.OTHER
        return Classification(kind, Status.REFUSED, sniffed.problem, note, 0.0, "")
    try:
        source = source or Source(data, sniffed, ReadLimits())
        content = extract(source)
        if content is None:
            kind = named[0] if named else Kind.OTHER
            return Classification(kind, Status.REFUSED, UNREADABLE, "could not be opened", 0.0, "")
        _prepare(source, content.blocks)
        return _decide(content, named, source.label)
    except Exception as exc:
        # A hostile file must never stop intake: keep it and let a person look at it.
        log.warning("classification failed unexpectedly: %s", type(exc).__name__)
        kind = named[0] if named else Kind.OTHER
        return Classification(kind, Status.NEEDS_REVIEW, UNEXPECTED, "reading failed", 0.0, "")


# --- Deciding. ---


def _prepare(source: Source, blocks: Sequence[Block]) -> None:
    """Normalise at once the short cells near the top, and the labels before their colons.

    They are what the scorers and the form parser look up most (`Source.label`); one pass of
    `normalise_lines` over them all costs a fraction of normalising each on its own.
    """
    texts = []
    for block in blocks[:FORM_LABEL_BLOCKS]:
        for cell in block.cells:
            if len(cell) < 80:
                texts.append(cell)
                if ":" in cell:
                    texts.append(cell.partition(":")[0])
    source.prepare(texts)


def _decide(
    content: Content, named: tuple[Kind, str] | None, label: Callable[[str], str]
) -> Classification:
    if content.scanned:
        return _decide_scan(named, _text(content.blocks))
    seen = Seen(content, label)
    text = seen.text
    guesses = sorted(_guesses(seen), key=lambda g: g.score, reverse=True)
    best = guesses[0] if guesses else None
    rough = " (read roughly from an old file format)" if content.rough else ""
    if best is not None and (best.score >= STRONG or (best.score >= WEAK and named is None)):
        note, score = best.note + rough, best.score
        if named and named[0] == best.kind:
            note, score = f"{note}; the file name agrees", min(1.0, score + 0.05)
        elif named:
            note += f"; the file name suggests {with_article(named[0])}, but the content wins"
        return Classification(best.kind, Status.OK, None, note, round(score, 2), text)
    if named is not None:
        if best is not None and best.kind == named[0]:
            score = min(1.0, best.score + 0.2)
            note = f"{best.note}; the file name agrees ('{named[1]}')"
            return Classification(best.kind, Status.OK, None, note, round(score, 2), text)
        reason = (
            f"the file name says it is {with_article(named[0])}, but its content does not show it: "
            "a person will check it"
        )
        note = f"file name contains '{named[1]}'"
        return Classification(named[0], Status.NEEDS_REVIEW, reason, note, 0.3, text)
    note = "nothing in it marks it as a referral form, chronology, genogram or assessment"
    return Classification(Kind.OTHER, Status.OK, None, note + rough, 0.5, text)


def _decide_scan(named: tuple[Kind, str] | None, text: str) -> Classification:
    # A genogram is a picture anyway: a picture-only PDF named as one is one.
    if named and named[0] == Kind.GENOGRAM:
        note = f"a PDF of a picture; file name contains '{named[1]}'"
        return Classification(Kind.GENOGRAM, Status.OK, None, note, 0.6, text)
    kind = named[0] if named else Kind.OTHER
    note = f"no text layer; file name contains '{named[1]}'" if named else "no text layer"
    return Classification(kind, Status.NEEDS_REVIEW, SCANNED, note, 0.2, text)


def _guesses(seen: Seen) -> list[Guess]:
    if seen.content.marker is not None:
        # Our own form says what it is; nothing else can outscore that.
        return [Guess(Kind.REFERRAL_FORM, 0.99, f"our referral form ({seen.content.marker})")]
    found = [
        _form_guess(seen),
        _chronology_guess(seen),
        _assessment_guess(seen),
        _genogram_guess(seen),
    ]
    return [guess for guess in found if guess is not None]


def _text(blocks: Iterable[Block]) -> str:
    parts: list[str] = []
    size = 0
    for block in blocks:
        line = "\t".join(block.cells)
        parts.append(line)
        size += len(line) + 1
        if size > MAX_TEXT:
            break
    return "\n".join(parts)[:MAX_TEXT]


def _titles(content: Content) -> tuple[str, ...]:
    """Lines that look like titles, main title first: short, alone on their line, or headings."""
    titles = [content.title] if content.title else []
    for position, block in enumerate(content.blocks[:80]):
        if not (block.heading or position < 8 or content.rough):
            continue
        filled = [cell for cell in block.cells if cell.strip()]
        if len(filled) == 1 and len(filled[0].split()) <= 15:
            titles.append(filled[0])
    return tuple(titles)


def _title_match(seen: Seen, phrases: re.Pattern[str]) -> tuple[float, str] | None:
    """(score, matched title) for the first title containing a phrase: higher for the first."""
    # The leftmost match is in the first title with one: no phrase spans a line break.
    found = phrases.search(seen.title_text)
    if found is None:
        return None
    position = seen.title_text.count("\n", 0, found.start())
    title = seen.titles[position]
    return (0.8 if position == 0 else 0.65), " ".join(title.split())[:80]


# --- Referral forms. ---

_FORM_TITLES = phrase_pattern(
    (
        *("referral form", "request for support", "masp referral", "masg referral"),
        *("request for service", "multi agency referral", "referral to the multi agency"),
        *("referral to masp", "referral to masg", "support panel referral", "panel referral"),
    )
)
_FORM_FIELDS = frozenset(
    {"child_name", "child_dob", "referrer_name", "consent", "genogram_required", "request"}
)
# What a normalised cell must hold to name one of `_FORM_FIELDS` (see `field_for`): a word that
# makes it a yes/no field anywhere in it, or one of those fields' label prefixes at its start.
# The label before a cell's colon normalises to the start of the cell's own label, so searching
# the whole cell's finds every cell whose label could.
_FORM_FIELD_HINT = re.compile(
    f"consent|agree|genogram|^{prefix_pattern(prefixes_for(_FORM_FIELDS)).pattern}", re.MULTILINE
)


def _form_guess(seen: Seen) -> Guess | None:
    title = _title_match(seen, _FORM_TITLES)
    labels = _form_labels(seen.content.blocks, seen.label)
    label_score = min(0.75, 0.25 + 0.1 * len(labels)) if len(labels) >= 3 else 0.0
    note = f"form labels for {', '.join(sorted(labels))}"
    return _title_and_evidence(Kind.REFERRAL_FORM, title, label_score, note, bonus=0.15)


def _title_and_evidence(
    kind: Kind, title: tuple[float, str] | None, evidence: float, note: str, bonus: float
) -> Guess | None:
    """A guess from a title, from evidence in the body, or (more surely) from both."""
    if title is None and not evidence:
        return None
    notes = [f"title '{title[1]}'"] if title else []
    notes += [note] if evidence else []
    score = max(title[0] if title else 0.0, evidence) + (bonus if title and evidence else 0)
    return Guess(kind, min(score, 0.97), "; ".join(notes))


# A form's labels are near its top; a long table further down cannot make it a form.
FORM_LABEL_BLOCKS = 400


def _form_labels(blocks: Sequence[Block], label: Callable[[str], str]) -> set[str]:
    cells = [cell for block in blocks[:FORM_LABEL_BLOCKS] for cell in block.cells[:3]]
    cells = [cell for cell in cells if len(cell) < 80]
    # Most cells cannot name a form field: one search over them all finds the few that might
    # (`_FORM_FIELD_HINT`), and only those are looked up.
    text = "\n".join(map(label, cells))
    found: set[str] = set()
    for line in _matching_lines(_FORM_FIELD_HINT, text, len(cells)):
        # `label_field`; a cell with no colon is its own label, already normalised as a line.
        key = field_for(label(cells[line].partition(":")[0]), "")
        if key in _FORM_FIELDS:
            found.add(key)
    return found


def _matching_lines(pattern: re.Pattern[str], text: str, limit: int) -> list[int]:
    """The numbers (below `limit`) of the lines of `text` where `pattern` is found, each once.

    One search over many lines joined is much faster than one search a line, when few match.
    """
    numbers: list[int] = []
    line, start = 0, 0  # line number `line` begins at `text[start]`
    for found in pattern.finditer(text):
        if found.start() < start:
            continue  # a second match in a line already listed
        line += text.count("\n", start, found.start())
        if line >= limit:
            break
        numbers.append(line)
        line, start = line + 1, text.find("\n", found.start()) + 1 or len(text)
    return numbers


# --- Chronologies. ---

# The chronology parser's column names, grouped as this scorer counts them.
_DATE_HEADERS = COLUMN_NAMES["date"]
_EVENT_HEADERS = COLUMN_NAMES["event"] + COLUMN_NAMES["details"]
_OTHER_HEADERS = COLUMN_NAMES["source"] + COLUMN_NAMES["impact"] + COLUMN_NAMES["action"]


_CHRONOLOGY_TITLES = phrase_pattern(("chronology", "chronology of significant events"))


def _chronology_guess(seen: Seen) -> Guess | None:
    content = seen.content
    title = _title_match(seen, _CHRONOLOGY_TITLES)
    headers = _chronology_headers(content, seen.label)
    if title is None and headers is None:
        return None
    notes = [f"title '{title[1]}'"] if title else []
    header_score = 0.0
    if headers:
        notes.append(f"table headers {', '.join(headers)}")
        # A dated table that is most of the document is a chronology; a small one inside an
        # assessment or a form (its "history" section) is only a hint.
        dated = _dated_share(content.blocks)
        header_score = min(0.9, 0.5 + 0.1 * len(headers)) if dated >= DATED_SHARE else 0.55
        notes.append(f"{dated:.0%} of its rows start with a date")
    score = max(title[0] if title else 0.0, header_score) + (0.1 if title and headers else 0)
    return Guess(Kind.CHRONOLOGY, min(score, 0.99), "; ".join(notes))


DATED_SHARE = 0.25
_DATED = re.compile(
    r"\s*[?~c.]*\s*(\d{1,2}[/.\-]\d{1,2}|\d{1,2}[/.\-]\d{4}|\d{4}(-\d{1,2})?\b|"
    r"(\d{1,2}(st|nd|rd|th)?\s+)?(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+\d{2,4}|"
    r"(early|mid|late|spring|summer|autumn|winter)\s+\d{4})",
    re.IGNORECASE,
)


def _dated_share(blocks: Sequence[Block]) -> float:
    """The share of rows and lines whose first cell starts with a date, even a rough one."""
    sample = blocks[:MAX_SHEET_ROWS]
    dated = sum(1 for block in sample if _DATED.match(block.cells[0]))
    return dated / max(len(sample), 1)


def _chronology_headers(content: Content, label: Callable[[str], str]) -> list[str] | None:
    """The header cells of the first row that reads like a chronology's: a date and an event.

    Table rows near the top of their table are tried first; then, for text-only files, runs of
    short lines (PDFs and old formats give each header cell its own line, or the whole row on
    one line; neither has cell borders, so only whole header names count there).
    """
    rows_seen: dict[int, int] = {}
    lines: list[str] = []
    for block in content.blocks[:3000]:
        if block.table >= 0 and len(block.cells) > 1:
            # A sheet may carry a few title rows above its header.
            rows_seen[block.table] = rows_seen.get(block.table, 0) + 1
            if rows_seen[block.table] <= 10 and (hits := _header_cells(block.cells, label)):
                return hits
        elif len(block.cells) == 1:
            lines.append(block.cells[0])
    count = min(len(lines), 400)
    # Each line normalised once, and its kind as a whole header name looked up once rather than
    # in each of the six windows it falls in; a window can only be a header if some line names
    # a date and some line an event.
    line_labels = [label(line) for line in lines[: count + 5]]
    # Either way a header names a date and an event as whole words, which most documents never
    # do: one search over all the lines for each rules them all out at once.
    spaced = " \n ".join(line_labels)
    if not (_DATE_NAMES.search(spaced) and _EVENT_NAMES.search(spaced)):
        return None
    kinds = [_HEADER_KINDS.get(line) for line in line_labels]
    windows = "date" in kinds and "event" in kinds
    # Without whole lines naming a date and an event, only a line naming both (a header row
    # flattened to a line) can be one: only the lines that name a date are worth trying.
    starts = range(count) if windows else _matching_lines(_DATE_NAMES, spaced, count)
    for start in starts:
        if windows:
            window = kinds[start : start + 6]
            if "date" in window and "event" in window:
                cells = [
                    line
                    for line, kind in zip(lines[start : start + 6], window, strict=True)
                    if kind
                ]
                if len(cells) >= 3:
                    return cells
        if names := _header_phrases(lines[start], line_labels[start]):
            found = {_HEADER_KINDS[name] for name in names}
            if "date" in found and "event" in found and len(names) >= 3:
                return list(names)
    return None


def _header_cells(cells: Sequence[str], label: Callable[[str], str]) -> list[str] | None:
    """A table row's header cells, if it has a date, an event and enough headers in all."""
    hits = []
    kinds = set()
    for cell in cells:
        if (kind := _header_kind_of(label(cell), False)) is not None:
            hits.append(cell)
            kinds.add(kind)
    return hits if "date" in kinds and "event" in kinds and len(hits) >= 2 else None


# Each header name and its kind; where a name is of several kinds, the first of date, event and
# other wins, as the kinds are tried in that order.
_HEADER_KINDS: dict[str, str] = {}
_BY_KIND = (("date", _DATE_HEADERS), ("event", _EVENT_HEADERS), ("other", _OTHER_HEADERS))
for _kind, _names in _BY_KIND:
    for _name in _names:
        _HEADER_KINDS.setdefault(_name, _kind)
_KIND_ORDER = {"date": 0, "event": 1, "other": 2}
_DATE_NAMES = phrase_pattern(name for name, kind in _HEADER_KINDS.items() if kind == "date")
_EVENT_NAMES = phrase_pattern(name for name, kind in _HEADER_KINDS.items() if kind == "event")
_HEADER_RUNS = frozenset(map(first_run, _HEADER_KINDS))
_WORD_END = re.compile(r"[\W_]")
# Longest first, so "significant event" is found (and blanked out) before "event".
_HEADER_NAMES = sorted(_HEADER_KINDS, key=len, reverse=True)
# The names by their first word: only names whose first word is in a line can be in it. Each
# with its place in `_HEADER_NAMES`, and spaced and blanked out as `_header_phrases` needs it.
_NAMES_BY_WORD: dict[str, list[tuple[int, str, str, str]]] = {}
for _rank, _name in enumerate(_HEADER_NAMES):
    _NAMES_BY_WORD.setdefault(_name.split(" ", 1)[0], []).append(
        (_rank, _name, f" {_name} ", " " + "#" * len(_name) + " ")
    )


def _header_phrases(line: str, label: str) -> tuple[str, ...]:
    """The header names in "Date Significant event Source Impact" (a row flattened to a line).

    `label` is the line normalised.
    """
    if ":" in line or not label:
        return ()
    words = label.split(" ")
    # A line of punctuation ("***") normalises to nothing: it names no header.
    if len(words) > 16 or not _header_kind_of(words[0], False):
        return ()
    candidates = {each for word in set(words) for each in _NAMES_BY_WORD.get(word, ())}
    spaced = f" {label} "
    found = []
    # Longest first (see `_HEADER_NAMES`).
    for _, name, name_spaced, blank in sorted(candidates):
        if (position := spaced.find(name_spaced)) >= 0:
            found.append((position, name))
            # Blank the name out (keeping positions) so "event" is not found in "significant event".
            spaced = spaced.replace(name_spaced, blank)
    return tuple(name for _, name in sorted(found))


def _header_kind_of(label: str, exact: bool) -> str | None:
    """The kind of header a normalised label is: its whole text, or (not `exact`) how it starts."""
    if not label or len(label) > 40 or "birth" in label:
        return None
    # A label of one word of letters and digits can only start with a name that is all of it.
    if exact or label.isalnum():
        return _HEADER_KINDS.get(label)
    # A name can only start a label (as whole words) if both begin with the same word.
    if first_run(label) not in _HEADER_RUNS:
        return None
    # The header names the label starts with as whole words (`starts_with_phrase`): the label's
    # beginnings that end before a character that is not a letter or digit, or at its end.
    ends = [found.start() for found in _WORD_END.finditer(label)]
    ends.append(len(label))
    kinds = [kind for end in ends if (kind := _HEADER_KINDS.get(label[:end])) is not None]
    return min(kinds, key=_KIND_ORDER.__getitem__) if kinds else None


# --- Assessments. ---

_ASSESSMENT_TITLES = phrase_pattern(TITLES)
_DOMAINS = DOMAINS


def _assessment_guess(seen: Seen) -> Guess | None:
    title = _title_match(seen, _ASSESSMENT_TITLES)
    # `contains_phrase` for each domain, without copying the whole text once a domain.
    text = f" {normalise_label(seen.text)} "
    domains = [domain for domain in _DOMAINS if f" {domain} " in text]
    domain_score = (0.55 + 0.05 * len(domains)) if len(domains) >= 2 else 0.0
    note = f"assessment headings {', '.join(domains)}"
    return _title_and_evidence(Kind.ASSESSMENT, title, domain_score, note, bonus=0.1)


# --- Genograms. ---

FEW_WORDS = 60


_GENOGRAM_TITLES = phrase_pattern(("genogram", "family tree"))


def _genogram_guess(seen: Seen) -> Guess | None:
    content = seen.content
    if content.picture_file:
        return Guess(Kind.GENOGRAM, 0.45, "a picture (genograms are usually pictures)")
    title = _title_match(seen, _GENOGRAM_TITLES)
    words = len(seen.text.split()) / max(content.pages, 1)
    if title is not None:
        # "Genogram" heading a page of prose is a form's or an assessment's section about one.
        drawn = content.pictures >= 1 or words <= 4 * FEW_WORDS
        return Guess(Kind.GENOGRAM, title[0] + 0.1 if drawn else 0.4, f"title '{title[1]}'")
    # A letter with a logo has a picture too, but it has sentences; a genogram has names.
    if content.pictures >= 1 and words <= FEW_WORDS:
        note = f"a drawing or picture with few words ({int(words)} a page)"
        return Guess(Kind.GENOGRAM, 0.6, note)
    return None


# --- File names: a weak hint. ---

_NAME_HINTS: tuple[tuple[Kind, tuple[str, ...]], ...] = (
    (Kind.GENOGRAM, ("genogram", "geno", "family tree", "familytree")),
    (Kind.CHRONOLOGY, ("chronology", "chron", "chrono", "timeline")),
    (Kind.ASSESSMENT, ("eha", "ehat", "caf", "fcaf", "assessment", "early help assessment")),
    (Kind.REFERRAL_FORM, ("referral", "referral form", "request for support", "rfs")),
)


_CAMEL_CASE = re.compile(r"(?<=[a-z])(?=[A-Z])")
# Any hint at all, as a whole word or (a long one) anywhere: most names have none.
_ANY_NAME_HINT = re.compile(
    "|".join(
        [phrase_pattern(hint for _, hints in _NAME_HINTS for hint in hints).pattern]
        + [re.escape(hint) for _, hints in _NAME_HINTS for hint in hints if len(hint) > 6]
    )
)


def _name_kind(filename: str) -> tuple[Kind, str] | None:
    stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    name = normalise_label(_CAMEL_CASE.sub(" ", stem))
    if not _ANY_NAME_HINT.search(name):
        return None
    for kind, hints in _NAME_HINTS:
        for hint in hints:
            if contains_phrase(name, hint) or (len(hint) > 6 and hint in name):
                return kind, hint
    return None
