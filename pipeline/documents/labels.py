"""The words of referral forms: which label means which field, ticked boxes, and yes/no answers.

Other councils' forms say the same things in different words ("D.O.B.", "Date of birth / EDD",
"Forename(s)" + "Surname"), and a generic label ("Name", "Email", "Role") means different fields
in different sections of a form. Labels are normalised, matched as whole-word prefixes against
the synonyms in `vocabulary`, and generic ones only count in the section they belong to.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence

from pipeline.documents.vocabulary import (
    ABOUT_THIS_WORDS,
    FIELD_LABELS,
    FIRST_LABELS,
    HISTORY_WORDS,
    NAME_FIELDS,
    NO_ANSWER_WORDS,
    NO_WORDS,
    NOT_A_NAME,
    NOT_A_PANEL,
    PROMPTS,
    REASON_WORDS,
    REQUEST_WORDS,
    SECTION_WORDS,
    TYPE_PREFIXES,
    YES_WORDS,
    LabelTable,
)
from pipeline.documents.word import Block

# Characters that separate words like a space; a `replace` for each one present beats a regex.
_STRAY_CHARACTERS = "_-:;,*?()[]"


def normalise_label(label: str) -> str:
    """A label reduced for matching: lower case, no apostrophes, dots or stray punctuation.

    Not cached: it is called on whole lines and text, which hold names and other answers.
    """
    text = label.lower().replace("'", "").replace("’", "").replace(".", "")
    for stray in _STRAY_CHARACTERS:
        if stray in text:
            text = text.replace(stray, " ")
    return " ".join(text.replace("/", " / ").split())


def normalise_lines(lines: Sequence[str]) -> list[str]:
    """`normalise_label` of each line, worked out on all of them at once.

    Every step of normalising is a replacement that stops at a line break (and lower-casing
    looks no further than one), so the lines joined by line breaks are normalised together,
    with a few fast passes over the whole text instead of several calls a line.
    """
    text = "\n".join(lines).lower().replace("'", "").replace("’", "").replace(".", "")
    for stray in _STRAY_CHARACTERS:
        if stray in text:
            text = text.replace(stray, " ")
    labels = [" ".join(line.split()) for line in text.replace("/", " / ").split("\n")]
    # A line holding a line break of its own would shift the rest: normalise one by one.
    return labels if len(labels) == len(lines) else [normalise_label(line) for line in lines]


def starts_with_phrase(label: str, prefix: str) -> bool:
    """Whether a normalised label begins with `prefix` as whole words ("dob / edd", "dob")."""
    return label.startswith(prefix) and (
        len(label) == len(prefix) or not label[len(prefix)].isalnum()
    )


def contains_phrase(label: str, word: str) -> bool:
    """Whether `word` (a phrase) stands as whole words in a normalised label."""
    return f" {word} " in f" {label} "


def prefix_pattern(prefixes: Iterable[str]) -> re.Pattern[str]:
    """A regex whose `match` is `starts_with_phrase` for any of `prefixes`, in one C call."""
    alternatives = "|".join(re.escape(prefix) for prefix in prefixes)
    # `[^\W_]` is exactly what `str.isalnum` accepts.
    return re.compile(f"(?:{alternatives})(?![^\\W_])")


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    """A regex that finds any of `phrases` where `contains_phrase` would: as whole words.

    One search in C instead of a Python loop over the phrases, so the matchers below are built
    once at import; words in a normalised label are separated by single spaces, hence `[^ ]`.
    """
    alternatives = "|".join(re.escape(phrase) for phrase in phrases)
    return re.compile(f"(?<![^ ])(?:{alternatives})(?![^ ])")


# --- Sections: where a generic label ("Name", "Email") stands decides what it means. ---

_NUMBERED = re.compile(r"\s*(section|part|\d+[.)]?\s)", re.IGNORECASE)


# Any section word at all: most headings (and the short lines that look like them) have none.
_ANY_SECTION_WORD = re.compile("|".join(re.escape(w) for _, words in SECTION_WORDS for w in words))
# Each section's words, anywhere in a label, in the order the sections are tried.
_SECTION_PATTERNS = tuple(
    (name, re.compile("|".join(map(re.escape, words)))) for name, words in SECTION_WORDS
)


def section_of(text: str, current: str) -> str:
    """The section a heading starts (or the current one, for a heading that names none)."""
    return section_named(normalise_label(text), current)


def section_named(label: str, current: str) -> str:
    """`section_of` for a heading already normalised."""
    if _ANY_SECTION_WORD.search(label):
        for name, words in _SECTION_PATTERNS:
            if words.search(label):
                return name
    # A numbered heading about something else starts a section no label rule cares about.
    return "" if _NUMBERED.match(label) else current


def looks_like_heading(block: Block) -> bool:
    """A lone short line or cell that names a part of the form rather than answering anything."""
    cells = block.cells
    # Most blocks are one line or one cell: no need to gather the filled ones.
    filled = cells if len(cells) == 1 and cells[0] else [cell for cell in cells if cell]
    if len(filled) != 1:
        return False
    text = filled[0]
    if GLYPH.search(text):
        return False
    if block.heading or _NUMBERED.match(text):
        return True
    _, colon, value = text.partition(":")
    short = len(text.split()) <= 8 and not text.rstrip().endswith((".", "?"))
    return short and not (colon and value.strip())


# --- Which field a label names. ---


def _normalised(table: LabelTable) -> LabelTable:
    return tuple((key, tuple(map(normalise_label, words)), where) for key, words, where in table)


_FIRST = _normalised(FIRST_LABELS)
_LABELS = _normalised(FIELD_LABELS)
ALL_PREFIXES = frozenset(p for _, prefixes, _ in _LABELS for p in prefixes)


def prefixes_for(keys: Collection[str]) -> frozenset[str]:
    """The label prefixes that name any of `keys` (in some section), for screening text."""
    return frozenset(p for key, prefixes, _ in _LABELS if key in keys for p in prefixes)


def _prefix_index(table: LabelTable) -> dict[str, tuple[int, ...]]:
    """Each prefix, and the rows of the table (in order) that list it."""
    rows: dict[str, list[int]] = {}
    for number, (_, prefixes, _) in enumerate(table):
        for prefix in prefixes:
            rows.setdefault(prefix, []).append(number)
    return {prefix: tuple(dict.fromkeys(numbers)) for prefix, numbers in rows.items()}


_FIRST_INDEX = _prefix_index(_FIRST)
_LONGEST_PREFIX = max(map(len, (*_FIRST_INDEX, *_prefix_index(_LABELS))))
_LABELS_INDEX = _prefix_index(_LABELS)
_NOT_ALNUM = re.compile(r"[\W_]")
# A label's first word, up to its first character that is not a letter or digit. A prefix can
# only start a label (as whole words) if the two begin with the same such word, so a label whose
# first word begins no prefix needs no lookup at all: most lines of a document are not labels.
_FIRST_RUN = re.compile(r"[^\W_]*")


def first_run(label: str) -> str:
    """A label's first word: up to its first character that is not a letter or digit."""
    # Most labels start with a plain word and a space: no need for the regex.
    word = label.partition(" ")[0]
    if word.isalnum():
        return word
    found = _FIRST_RUN.match(label)
    return found.group() if found else ""


_FIRST_RUNS = frozenset(map(first_run, _FIRST_INDEX))
_LABELS_RUNS = frozenset(map(first_run, _LABELS_INDEX))
_BANNED_IN_NAME = phrase_pattern(NOT_A_NAME)
_BANNED_IN_PANEL = phrase_pattern(NOT_A_PANEL)


def label_field(label: str) -> str | None:
    """Which form fact a label names, wherever it stands ("D.O.B." -> "child_dob"), if any."""
    return field_for(normalise_label(label), "")


def _lookup(
    table: LabelTable, index: dict[str, tuple[int, ...]], label: str, section: str
) -> str | None:
    # The rows with a prefix the label starts with as whole words (`starts_with_phrase`): the
    # label's beginnings that end before a non-alphanumeric character or at its end. Looking
    # those few up beats trying each of the table's hundred-odd prefixes on every new label.
    rows: tuple[int, ...] = ()
    for found in _NOT_ALNUM.finditer(label):
        if found.start() > _LONGEST_PREFIX:
            break
        rows += index.get(label[: found.start()], ())
    rows += index.get(label, ())
    # Rows in table order, each once; most labels start with one prefix at most.
    for row in sorted(set(rows)) if len(rows) > 1 else rows:
        key, _, where = table[row]
        if where is not None and section not in where:
            continue
        banned = (
            _BANNED_IN_NAME if key in NAME_FIELDS else _BANNED_IN_PANEL if key == "panel" else None
        )
        if banned is None or not banned.search(label):
            return key
    return None


def field_for(label: str, section: str) -> str | None:
    """Which fact a (normalised) label names, in this section of the form."""
    if not label or len(label) > 80:
        return None
    first = first_run(label)
    if first in _FIRST_RUNS and (key := _lookup(_FIRST, _FIRST_INDEX, label, section)) is not None:
        return key
    if label.startswith(("if ", "why", "who ", "reason")):
        return None
    if "genogram" in label and (label == "genogram" or "requir" in label or "need" in label):
        return "genogram_required"
    if "consent" in label or "agree" in label:
        return "consent"
    return _lookup(_LABELS, _LABELS_INDEX, label, section) if first in _LABELS_RUNS else None


# --- Request types and reasons, by their words. ---


# A vocabulary as matchers: one for any of its words (most lines name none), then one per key.
_Vocabulary = tuple[re.Pattern[str], tuple[tuple[str, re.Pattern[str]], ...]]


def _vocabulary(words: tuple[tuple[str, tuple[str, ...]], ...]) -> _Vocabulary:
    every = phrase_pattern(word for _, phrases in words for word in phrases)
    return every, tuple((key, phrase_pattern(phrases)) for key, phrases in words)


_REQUESTS = _vocabulary(REQUEST_WORDS)
_REASONS = _vocabulary(REASON_WORDS)
_KEY_LINES = re.compile(r"[\n;,]")


def _keys(text: str, vocabulary: _Vocabulary, normalised: str | None = None) -> set[str]:
    every, by_key = vocabulary
    keys = set()
    # Text of one piece is its own (and only) piece: normalised already if the caller has it.
    if normalised is not None and not _KEY_LINES.search(text):
        labels = [normalised]
    else:
        labels = [normalise_label(line) for line in _KEY_LINES.split(text)]
    for label in labels:
        if not every.search(label):
            continue
        # The first key (in vocabulary order) with a word in the line, as before.
        for key, pattern in by_key:
            if pattern.search(label):
                keys.add(key)
                break
    return keys


def request_keys(text: str) -> set[str]:
    """The request types a tick label or a typed answer names ("Section 20; advice")."""
    return _keys(text, _REQUESTS)


def requested(text: str) -> set[str]:
    """The request types a typed answer names; only the ticked ones if it has boxes."""
    boxes = ticks(text)
    if not boxes:
        return request_keys(text)
    return {key for label, on in boxes if on for key in request_keys(label)}


# A yes to a question about the past is history, not the request (see `HISTORY_WORDS`).
_HISTORY = phrase_pattern(HISTORY_WORDS)


# A question about something other than this referral ("Is the family in temporary
# accommodation?") names a request type's word without asking for it; a Section 20 admission
# is asked about in so many ways that any question naming one counts.
_QUESTION = re.compile(r"(is|are|has|have|does|do|did|was|were|will|would|should|can|could) ")
_ABOUT_THIS = phrase_pattern(ABOUT_THIS_WORDS)


def asked_requests(label: str, answer: str) -> set[str]:
    """The request types a row asks for when answered yes: "Section 20 admission" | "Yes", or
    a question about this referral, "Is this an emergency admission under Section 20?" | "Yes".

    `label` is normalised.
    """
    every, _ = _REQUESTS
    if not every.search(label) or _HISTORY.search(label) or yes_no(answer) is not True:
        return set()
    keys = _keys(label, _REQUESTS, label)
    if "section20" in keys or not _QUESTION.match(label) or _ABOUT_THIS.search(label):
        return keys
    return set()


def reason_keys(text: str) -> set[str]:
    """The reasons for a request that a label names ("Reason: risk of escalation")."""
    return _keys(text, _REASONS)


def tick_meaning(label: str, normalised: str | None = None) -> tuple[str, set[str]]:
    """Whether a ticked label is a request type or a reason, and which ones.

    `normalised` is the label normalised, where the caller has it already.
    """
    if normalised is None:
        normalised = normalise_label(label)
    # "Admission to care or high-cost package" is a request; only a label that says it is a
    # reason, or names no request at all, is read as a reason.
    if not normalised.startswith("reason"):
        requests = _keys(label, _REQUESTS, normalised)
        if requests:
            return "request_types", requests
    return "reasons", _keys(label, _REASONS, normalised)


# --- Ticked boxes and yes/no answers. ---

_CHECKED = frozenset("☒☑✓✔✗✘■⊠xX")
# A box ("[x]", "☒", "☐") or a lone x. The leading lookahead names every character a match can
# start with, and the lone x's lookbehind comes after it, so the engine skips ahead to those
# characters instead of trying every alternative at every position of a line.
GLYPH = re.compile(
    r"(?=[\[xX☒☑✓✔✗✘■⊠☐□◻])(\[\s*[xX✓✔]?\s*\]|[☒☑✓✔✗✘■⊠☐□◻]|[xX](?<![\w'’][xX])(?![\w'’]))"
)


def _is_ticked(glyph: str) -> bool:
    return any(ch in _CHECKED for ch in glyph)


def tick_line(line: str) -> tuple[str, list[tuple[str, bool]]]:
    """The question a line's boxes answer (if it starts with one), and (label, ticked) per box.

    Boxes stand before their labels ("☒ Yes ☐ No", "Request: [X] Advice", "Is a genogram
    required? ☐ Yes ☒ No", whose question is returned) or after them ("Yes ☒ No ☐", "Yes X  No").
    """
    pieces = GLYPH.split(line)
    if len(pieces) < 3:
        return "", []
    first, last = pieces[0].strip(), pieces[-1].strip()
    # Text after the last box is that box's label, unless the text before the first box is
    # itself an answer ("Yes X  No": the X is Yes's).
    box_first = not first or first.endswith(":") or (bool(last) and _answer(first) is None)
    found = []
    for index in range(1, len(pieces), 2):
        label = pieces[index + 1] if box_first else pieces[index - 1]
        found.append((label.strip(" :-\t\n"), _is_ticked(pieces[index])))
    return (first.rstrip(" :") if box_first else ""), found


def ticks(text: str) -> list[tuple[str, bool]]:
    """(label, ticked) for each box in `text`, line by line (see `tick_line`)."""
    if "\n" not in text:
        return tick_line(text)[1]
    return [box for line in text.splitlines() for box in tick_line(line)[1]]


def _is_lone_box(cell: str) -> bool:
    return bool(cell) and GLYPH.fullmatch(cell.strip()) is not None


def ticked_cell(cell: str) -> bool:
    """Whether a cell holds nothing but a ticked box or mark ("☒", "X", "✓")."""
    return _is_lone_box(cell) and _is_ticked(cell)


def block_ticks(cells: Sequence[str]) -> Iterator[tuple[str, bool, str]]:
    """Every (label, ticked, question) in a row: boxes inside cells, and a box cell beside its
    label. `question` is the text the boxes answer ("Consent given? ☒ Yes ☐ No"), if any."""
    for cell in cells:
        for line in cell.splitlines() if "\n" in cell else (cell,):
            question, boxes = tick_line(line)
            for label, on in boxes:
                if label and len(label) < 120:
                    yield label, on, question
    for first, second in itertools.pairwise(cells):
        if _is_lone_box(second) and first.strip() and not _is_lone_box(first):
            yield first, _is_ticked(second), ""
        elif _is_lone_box(first) and second.strip() and not _is_lone_box(second):
            yield second, _is_ticked(first), ""


_NO_ANSWER = prefix_pattern(NO_ANSWER_WORDS)


def yes_no(value: str) -> bool | None:
    """Yes, no, or not answered: from ticked boxes if there are boxes, else from the words."""
    boxes = ticks(value)
    if boxes:
        chosen = {_answer(label) for label, on in boxes if on} - {None}
    else:
        # "Yes / No" printed as a prompt answers nothing; "No - family declined" answers no.
        # (Each word of a normalised label is its own `_answer`'s first word.)
        label = normalise_label(value)
        if _NO_ANSWER.match(label):
            return None
        chosen = {_answer_word(word) for word in label.split()[:4]} - {None}
    return chosen.pop() if len(chosen) == 1 else None


def answer_word(label: str) -> bool | None:
    """What a box's label answers, if it is a yes or a no ("Yes", "N", "Not required")."""
    return _answer(label)


def _answer(label: str) -> bool | None:
    words = normalise_label(label).split()
    return _answer_word(words[0] if words else "")


def _answer_word(first: str) -> bool | None:
    if first in YES_WORDS:
        return True
    if first in NO_WORDS:
        return False
    return None


def written(value: str) -> str | None:
    """A typed answer with its spacing tidied, as written; None for nothing, an empty box or
    Word's prompt.

    A lone mark ("X", "✓", "☒") is kept: in a field that takes text it is what the person wrote
    there. Whether a mark beside a label is a tick instead is for the reader of labels to say.
    """
    text = " ".join(value.split()).strip(" :-")
    if not text or text.lower().startswith(PROMPTS):
        return None
    # An unticked box says nothing, wherever it stands.
    return None if _is_lone_box(text) and not _is_ticked(text) else text


def clean(value: str) -> str | None:
    """A typed answer with its spacing tidied; None for nothing, a lone box or Word's prompt.

    For a cell that may be a tick box (a table's column of names): a mark alone is not text.
    """
    text = written(value)
    return None if text is None or _is_lone_box(text) else text


def clean_lines(value: str) -> str | None:
    """A multi-line answer tidied line by line, keeping its line breaks (and, as `written`, a
    lone mark)."""
    lines = [" ".join(line.split()) for line in value.splitlines()]
    return written(value) and "\n".join(line for line in lines if line)


_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def email(value: str) -> str | None:
    """The first email address in `value`, lower-cased."""
    found = _EMAIL.search(value)
    return found.group(0).lower() if found else None


# --- Label/value pairs as forms lay them out. ---


def pairs(
    cells: Sequence[str], split_bare: bool, normalise: Callable[[str], str] = normalise_label
) -> Iterator[tuple[str, str]]:
    """(label, value) candidates: "Label: value" lines, bare PDF lines, and cells side by side.

    `normalise` is `normalise_label`, or a document's own memo of it (`Source.label`).
    """
    for cell in cells:
        for line in cell.splitlines():
            label, colon, value = line.partition(":")
            if colon and 0 < len(label.split()) <= 8:
                if ": " in value:
                    yield from _columns(label, value, normalise)
                else:
                    yield label, value
            elif split_bare and (found := _split_bare(line, normalise)):
                yield found
    for index in range(0, len(cells) - 1, 2):
        yield cells[index], cells[index + 1]


def _columns(label: str, value: str, normalise: Callable[[str], str]) -> Iterator[tuple[str, str]]:
    """ "Child's name: Noa Fakeley Date of birth: 21/09/2016": a PDF's two columns of labels and
    answers, run together on one line of text, each label with its own answer."""
    while (found := _next_label(value, normalise)) is not None:
        before, next_label, value = found
        yield label, before
        label = next_label
    yield label, value


def _next_label(value: str, normalise: Callable[[str], str]) -> tuple[str, str, str] | None:
    """(answer, next label, the rest) where a known label and its colon follow an answer."""
    start = 0
    while (colon := value.find(": ", start)) >= 0:
        start = colon + 1
        words = value[:colon].split()
        # The longest run of words before the colon that is a label, leaving an answer before
        # it; a label starts with a capital letter ("... about school: attendance" is prose).
        for count in range(min(6, len(words) - 1), 0, -1):
            candidate = " ".join(words[-count:])
            if not candidate[0].isupper():
                continue
            label = normalise(candidate)
            if label in ALL_PREFIXES or field_for(label, "") is not None:
                return " ".join(words[:-count]), candidate, value[colon + 1 :]
    return None


# --- The names form designers give their fields ("Child.DateOfBirth", "txtRefEmail"). ---

_CAMEL_CASE = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=\d)(?=[A-Za-z])")


def field_name(name: str) -> tuple[str, str]:
    """(section, label) for a form field's name: "Child.DateOfBirth" -> ("child", "Date Of
    Birth"), "txtRefEmail" -> ("", "Ref Email"). A label with spaces is returned as it is."""
    if not name or " " in name:
        return "", name
    *parents, leaf = name.split(".")
    # "D.O.B." is a label with dots, not a path.
    if len(leaf) < 2 or any(len(part) < 2 for part in parents):
        return "", name
    words = _CAMEL_CASE.sub(" ", leaf).replace("_", " ").split()
    if not words:
        return "", name
    if len(words) > 1 and words[0].lower() in TYPE_PREFIXES:
        words = words[1:]
    section = ""
    for parent in parents:
        section = section_of(_CAMEL_CASE.sub(" ", parent), section)
    return section, " ".join(words)


# The first word of each label prefix. Normalising works word by word, so the label at the
# start of a line normalises to the start of the normalised line: a line whose first word
# begins no prefix cannot start with a label, and needs none of the normalising below.
_FIRST_WORDS = frozenset(prefix.split(" ", 1)[0] for prefix in ALL_PREFIXES)


def _split_bare(line: str, normalise: Callable[[str], str]) -> tuple[str, str] | None:
    """Split "Child's name Ada Example" (a PDF line with no colon) after a known label."""
    if normalise(line).partition(" ")[0] not in _FIRST_WORDS:
        return None
    words = line.split()
    for count in range(1, min(len(words), 8)):
        # The answer must start like an answer, not like the rest of a label ("/ locality").
        if normalise_label(" ".join(words[:count])) in ALL_PREFIXES and words[count][0].isalnum():
            return " ".join(words[:count]), " ".join(words[count:])
    return None
