"""The chronology parser: dated rows from Word tables and spreadsheets, with their problems.

Columns are found by their header names (with synonyms); dates are read by `dates.read_when`,
which keeps approximate dates approximate. Rows with missing, impossible or future dates, and
runs of rows out of date order, are reported in the notes, never silently fixed or dropped: the
panel sees the chronology as it was written, and the referrer is told what to check.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pipeline.documents.dates import DateProblem, When, read_when
from pipeline.documents.kinds import Kind
from pipeline.documents.labels import normalise_label, starts_with_phrase
from pipeline.documents.parsing import (
    FieldSource,
    FieldValue,
    ParserContext,
    ParseResult,
    Source,
)

_COLUMNS: dict[str, tuple[str, ...]] = {
    "date": ("date", "dates", "date/period", "period", "date of event", "when", "date/time"),
    "event": (
        *("event", "events", "significant event", "significant events", "what happened"),
        *("incident", "event/details", "summary", "key event"),
    ),
    "details": ("details", "description", "further details"),
    "source": (
        *("source", "source of information", "agency", "by whom", "information source"),
        "recorded by",
    ),
    "impact": ("impact", "impact on the child", "impact on child", "effect on the child"),
    "action": (
        *("action", "action taken", "outcome", "action taken/outcome", "action/outcome"),
        "actions",
    ),
}
# Header names as `normalise_label` spells them ("date / period"); the classifier uses them too.
COLUMN_NAMES: dict[str, tuple[str, ...]] = {
    role: tuple(normalise_label(name) for name in names) for role, names in _COLUMNS.items()
}
HEADER_ROWS = 10
MAX_LISTED_PROBLEMS = 10


def header_role(cell: str) -> tuple[str, float] | None:
    """The column a header cell names, and how sure: an exact name, or one it starts with."""
    label = normalise_label(cell)
    if not label or len(label) > 40 or "birth" in label:
        return None
    for exact in (True, False):
        for role, names in COLUMN_NAMES.items():
            if any(label == n if exact else starts_with_phrase(label, n) for n in names):
                return role, 1.0 if exact else 0.9
    return None


def cell_text(value: object) -> str:
    """A cell as text; spreadsheet dates the British way, as people typed them."""
    # Every cell of a Word table is text: one exact type test (a chronology has thousands).
    if type(value) is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, datetime | date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --- Grids: Word tables and worksheets alike, as numbered rows of values. ---


@dataclass(frozen=True)
class Grid:
    """One table or sheet: its name for notes, and (row number, cells) in order."""

    name: str
    rows: tuple[tuple[int, tuple[Any, ...]], ...]
    origin: FieldSource


def word_grids(source: Source) -> tuple[Grid, ...]:
    word = source.word
    if word is None:
        return ()
    tables: dict[int, list[tuple[int, tuple[Any, ...]]]] = {}
    for block in word.blocks:
        if block.table >= 0:
            rows = tables.setdefault(block.table, [])
            rows.append((len(rows) + 1, block.cells))
    many = len(tables) > 1
    return tuple(
        Grid(f"table {number + 1}, " if many else "", tuple(rows), "table")
        for number, rows in tables.items()
    )


def sheet_grids(source: Source) -> tuple[Grid, ...]:
    many = len(source.sheets or ()) > 1
    return tuple(
        Grid(f"sheet '{sheet.name}', " if many else "", tuple(enumerate(sheet.rows, 1)), "sheet")
        for sheet in source.sheets or ()
    )


@dataclass(frozen=True)
class Columns:
    """Which cell holds what, by role, with the header as written and how sure we are."""

    index: dict[str, int]
    headers: dict[str, str]
    confidence: float


def find_columns(cells: Sequence[Any]) -> Columns | None:
    """The columns of a header row that has at least a date and an event (or details)."""
    index: dict[str, int] = {}
    headers: dict[str, str] = {}
    sure = 1.0
    for position, cell in enumerate(cells):
        found = header_role(cell_text(cell))
        if found is not None and found[0] not in index:
            index[found[0]], headers[found[0]] = position, cell_text(cell)
            sure = min(sure, found[1])
    if "event" not in index and "details" in index:
        index["event"] = index.pop("details")
        headers["event"] = headers.pop("details")
    return Columns(index, headers, sure) if {"date", "event"} <= index.keys() else None


def chronology_rows(grids: Sequence[Grid]) -> Iterator[tuple[Grid, Columns, int, tuple[Any, ...]]]:
    """Every row under a chronology header; a headerless table of the same width continues one."""
    columns: Columns | None = None
    width = 0
    for grid in grids:
        start, found = _header(grid)
        if found is not None:
            columns, width = found, len(grid.rows[start - 1][1])
        elif columns is None or not grid.rows or len(grid.rows[0][1]) != width:
            continue
        for number, cells in grid.rows[start:]:
            yield grid, columns, number, cells


def _header(grid: Grid) -> tuple[int, Columns | None]:
    for position, (_, cells) in enumerate(grid.rows[:HEADER_ROWS]):
        if (columns := find_columns(cells)) is not None:
            return position + 1, columns
    return 0, None


# --- Entries and their problems. ---


@dataclass(frozen=True)
class Entry:
    """One row: where it is, its date (or what is wrong with it) and what it says."""

    where: str
    when: When | DateProblem
    written: str
    texts: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        dated = isinstance(self.when, When)
        data: dict[str, Any] = {
            "row": self.where,
            "date": self.when.iso if isinstance(self.when, When) else None,
            "approximate": self.when.approximate if isinstance(self.when, When) else None,
            "date_as_written": self.written,
        }
        if not dated:
            data["date_problem"] = str(self.when)
        return data | self.texts


def read_entries(grids: Sequence[Grid], max_rows: int) -> tuple[list[Entry], bool]:
    """The entries of every chronology table, up to `max_rows`; and whether more were left."""
    entries: list[Entry] = []
    for grid, columns, number, cells in chronology_rows(grids):
        texts = {role: cell_text(cells[i]) for role, i in columns.index.items() if i < len(cells)}
        raw = cells[columns.index["date"]] if columns.index["date"] < len(cells) else None
        # Blank rows, and the header repeated at the top of each printed page, are not entries.
        if not any(texts.values()) or texts.get("date") == columns.headers["date"]:
            continue
        if len(entries) == max_rows:
            return entries, True
        written = texts.pop("date", "")
        entries.append(Entry(f"{grid.name}row {number}", read_when(raw), written, texts))
    return entries, False


def date_problems(entries: Sequence[Entry], today: date | None) -> list[str]:
    """Rows whose date is missing, not a real date, unreadable, or after today."""
    problems = []
    for entry in entries:
        if entry.when == DateProblem.MISSING:
            what = entry.texts.get("event", "")[:50]
            problems.append(f"{entry.where} has no date" + (f" ('{what}')" if what else ""))
        elif entry.when == DateProblem.IMPOSSIBLE:
            problems.append(f"{entry.where}: '{entry.written}' is not a real date")
        elif entry.when == DateProblem.UNREADABLE:
            problems.append(f"{entry.where}: the date '{entry.written}' could not be read")
        elif _in_future(entry, today):
            problems.append(f"{entry.where}: '{entry.written}' is in the future")
    return problems


@dataclass
class _Run:
    """Consecutive rows out of order, and the row above them that they should have preceded."""

    high: Entry
    rows: list[Entry]
    last: int


def _in_future(entry: Entry, today: date | None) -> bool:
    return today is not None and isinstance(entry.when, When) and entry.when.earliest > today


def order_problems(entries: Sequence[Entry]) -> tuple[list[str], int]:
    """Runs of rows earlier than a row above them (or later, in a newest-first chronology)."""
    dated = [e for e in entries if isinstance(e.when, When)]
    newest_first = _descending_pairs(dated) > _descending_pairs(dated[::-1])
    sequence = dated[::-1] if newest_first else dated
    runs: list[_Run] = []
    high: Entry | None = None
    for position, entry in enumerate(sequence):
        if high is not None and _span(entry)[1] < _span(high)[0]:
            if runs and runs[-1].last == position - 1:
                runs[-1].rows.append(entry)
                runs[-1].last = position
            else:
                runs.append(_Run(high, [entry], position))
        elif high is None or _span(entry)[0] > _span(high)[0]:
            high = entry
    notes = [_run_note(run, newest_first) for run in runs]
    if newest_first:
        notes.insert(0, "the chronology runs newest first (read that way)")
    return notes, sum(len(run.rows) for run in runs)


def _span(entry: Entry) -> tuple[date, date]:
    assert isinstance(entry.when, When)
    return entry.when.earliest, entry.when.latest


def _descending_pairs(dated: Sequence[Entry]) -> int:
    return sum(1 for a, b in itertools.pairwise(dated) if _span(b)[1] < _span(a)[0])


def _run_note(found: _Run, newest_first: bool) -> str:
    # Rows are named in table order, whichever way the chronology runs.
    run = found.rows[::-1] if newest_first else found.rows
    rows = run[0].where if len(run) == 1 else f"{run[0].where} to {run[-1].where}"
    side = "below" if newest_first else "above"
    return (
        f"{rows} ('{run[0].written}') {'is' if len(run) == 1 else 'are'} earlier than "
        f"{found.high.where} {side} ('{found.high.written}'): out of date order"
    )


def summary(entries: Sequence[Entry], problems: int) -> dict[str, Any]:
    """What the pack shows about a chronology: how long, which period, from which sources."""
    dated = [e for e in entries if isinstance(e.when, When)]
    first = min(dated, key=lambda e: _span(e)[0], default=None)
    last = max(dated, key=lambda e: _span(e)[1], default=None)
    sources = dict.fromkeys(e.texts["source"] for e in entries if e.texts.get("source"))
    return {
        "entries": len(entries),
        "first_date": first.when.iso if first and isinstance(first.when, When) else None,
        "last_date": last.when.iso if last and isinstance(last.when, When) else None,
        "sources": list(sources),
        "problems": problems,
    }


class ChronologyParser:
    """Chronologies in Word tables and in spreadsheets (.xlsx, .xls, .ods)."""

    kind = Kind.CHRONOLOGY
    types = frozenset({"docx", "xlsx", "xls", "ods"})

    def parse(self, source: Source, context: ParserContext) -> ParseResult | None:
        grids = word_grids(source) if source.sniffed.type == "docx" else sheet_grids(source)
        columns = next((c for grid in grids if (c := _header(grid)[1]) is not None), None)
        if columns is None:
            return ParseResult(notes=(NO_TABLE,))
        max_rows = context.limits.max_rows
        entries, cut = read_entries(grids, max_rows)
        cut = cut or _source_cut(source)
        bad_dates = date_problems(entries, context.today)
        # A future date is reported once, as such; it must not also put every later row out
        # of order.
        out_of_order, disordered = order_problems(
            [e for e in entries if not _in_future(e, context.today)]
        )
        problems = [*bad_dates, *out_of_order]
        notes = _listed_problems(problems)
        if cut:
            notes.append(f"only the first {max_rows:,} rows were read (the limit for one file)")
        origin = grids[0].origin
        fields = {
            "columns": FieldValue(columns.headers, columns.confidence, origin),
            "entries": FieldValue([e.to_json() for e in entries], _share_dated(entries), origin),
        }
        overview = summary(entries, len(bad_dates) + disordered)
        return ParseResult(fields, tuple(notes), overview)


NO_TABLE = (
    "no table with a date column and an event column was found, so no entries were read: "
    "a person will read it"
)


def _source_cut(source: Source) -> bool:
    word = source.word if source.sniffed.type == "docx" else None
    sheets = source.sheets if source.sniffed.type != "docx" else None
    return bool(word and word.truncated) or any(s.truncated for s in sheets or ())


def _share_dated(entries: Sequence[Entry]) -> float:
    dated = sum(1 for e in entries if isinstance(e.when, When))
    return round(dated / len(entries), 2) if entries else 0.0


def _listed_problems(problems: Sequence[str]) -> list[str]:
    # Twenty thousand bad rows must not make twenty thousand notes.
    notes = list(problems[:MAX_LISTED_PROBLEMS])
    if len(problems) > MAX_LISTED_PROBLEMS:
        extra = len(problems) - MAX_LISTED_PROBLEMS
        notes.append(f"and {extra:,} more rows with date problems")
    return notes
