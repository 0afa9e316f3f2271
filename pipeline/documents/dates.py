"""Dates as people type them: on forms (the British way) and in chronologies (often roughly).

A form's date of birth is one exact day. A chronology's dates are often approximate ("?05/2024",
"May 2024", "c. 2019", "Summer 2024"): those are kept as approximate, with the span they cover, so
that ordering checks compare spans and nothing is silently made more precise than it was written.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal

_MONTHS = {name.lower(): number for number, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): number for number, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9
_DATE_FORMS = (
    (re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b"), (0, 1, 2)),
    (re.compile(r"\b(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})\b"), (2, 1, 0)),
    (
        re.compile(r"\b(\d{1,2})(?:st|nd|rd|th)?\s+(?:of\s+)?([A-Za-z]{3,9})\.?,?\s+(\d{4})\b"),
        (2, 1, 0),
    ),
    (
        re.compile(r"\b([A-Za-z]{3,9})\.?\s+(?:the\s+)?(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})\b"),
        (2, 0, 1),
    ),
)
# Days of the month written as words ("the fourteenth of June 2018"), each to its number.
_DAY_WORDS = (
    *("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth"),
    *("tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth"),
    *("seventeenth", "eighteenth", "nineteenth", "twentieth"),
)
_ORDINALS = {word: number for number, word in enumerate(_DAY_WORDS, start=1)}
_ORDINALS.update(
    {f"twenty{joint}{word}": 20 + n for word, n in list(_ORDINALS.items())[:9] for joint in "- "}
)
_ORDINALS.update({"thirtieth": 30, "thirty-first": 31, "thirty first": 31})
_ORDINAL_WORD = re.compile(
    r"\b(" + "|".join(sorted(_ORDINALS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


def parse_date(text: str) -> date | None:
    """The first date in `text`, read the British way: dd/mm/yyyy, d/m/yy, 12 March 2019, ISO;
    also "1st of May 2019" and "the fourteenth of June 2018"."""
    if _ORDINAL_WORD.search(text):
        text = _ORDINAL_WORD.sub(lambda word: str(_ORDINALS[word.group().lower()]), text)
    found: list[tuple[int, date]] = []
    for pattern, order in _DATE_FORMS:
        for match in pattern.finditer(text):
            parsed = _to_date([match.group(1 + i) for i in order])
            if parsed is not None:
                found.append((match.start(), parsed))
                break
    return min(found)[1] if found else None


def _full_year(text: str) -> int:
    year = int(text)
    # Two-digit years: children and their parents are born after 1970.
    if len(text) == 2:
        year += 2000 if year < 70 else 1900
    return year


def _month(text: str) -> int | None:
    return int(text) if text.isdigit() else _MONTHS.get(text.lower())


def _to_date(parts: list[str]) -> date | None:
    year_text, month_text, day_text = parts
    month = _month(month_text)
    try:
        return date(_full_year(year_text), month, int(day_text)) if month else None
    except ValueError:
        return None


# --- Chronology dates: exact or approximate, and what is wrong with the ones we cannot use. ---

Precision = Literal["day", "month", "season", "year"]


@dataclass(frozen=True)
class When:
    """A chronology date: the span it may mean, and whether it was written as approximate."""

    earliest: date
    latest: date
    precision: Precision
    approximate: bool

    @property
    def iso(self) -> str:
        """ISO 8601 at the precision written: 2024-05-12, 2024-05 (a month or season), 2019."""
        if self.precision == "day":
            return self.earliest.isoformat()
        if self.precision == "year":
            return f"{self.earliest.year:04d}"
        return f"{self.earliest.year:04d}-{self.earliest.month:02d}"


class DateProblem(StrEnum):
    """Why a chronology row's date cannot be used."""

    MISSING = "missing"
    IMPOSSIBLE = "impossible"
    UNREADABLE = "unreadable"


# Words and marks that say a date is a guess; they are kept as "approximate", never dropped.
_HEDGE = re.compile(
    r"^\s*(\?+|~|c\.?(?=\s*\d)|circa|approx(imately|\.)?|around|about|abt\.?|before|after|"
    r"pre|post|by|(early|mid|late)(?=\s+[a-z]))\s*",
    re.IGNORECASE,
)
_TRAILING_HEDGE = re.compile(r"(\?|\(?\s*approx(imately|\.)?\s*\)?|\(?\s*estimated\s*\)?)\s*$")
_RANGE = re.compile(r"\s+(?:-|–|—|to|until)\s+|\s*[–—]\s*", re.IGNORECASE)
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})(?!\d)")
_PLAIN_DAY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4}|\d{2})")
_ISO = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_DAY_NAME_YEAR = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3,9})\.?,?\s+(\d{4})(?!\d)")
_NAME_DAY_YEAR = re.compile(r"([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})(?!\d)")
_MONTH_YEAR = re.compile(r"(\d{1,2})[/.\-](\d{4})(?!\d)|([a-z]{3,9})\.?,?\s+(\d{4})(?!\d)")
_PART_YEAR = re.compile(r"(early|mid|middle of|late|spring|summer|autumn|fall|winter)\s+(\d{4})")
_YEAR = re.compile(r"(19\d{2}|20\d{2})(?!\d)")
_PARTS: dict[str, tuple[int, int]] = {
    "early": (1, 4),
    "mid": (5, 8),
    "middle of": (5, 8),
    "late": (9, 12),
    "spring": (3, 5),
    "summer": (6, 8),
    "autumn": (9, 11),
    "fall": (9, 11),
    # Winter 2024 runs from December 2024 into February 2025.
    "winter": (12, 14),
}
# Excel stores dates as days since 30 December 1899; these bounds are 1954 to 2119.
_EXCEL_EPOCH = date(1899, 12, 30)
_SERIAL_RANGE = (20_000, 80_000)


def read_when(value: object) -> When | DateProblem:
    """A chronology cell's date (text, a spreadsheet date, or an Excel serial number)."""
    if isinstance(value, datetime):
        return _exact(value.date())
    if isinstance(value, date):
        return _exact(value)
    if isinstance(value, bool):
        return DateProblem.UNREADABLE
    if isinstance(value, int | float):
        return _from_number(value)
    text = " ".join(str(value or "").split()).lower()
    if not text:
        return DateProblem.MISSING
    # Most rows hold a plain "12/05/2019": digits and separators alone hold no hedge and no
    # range, so `_from_text` would read it as this one date (a tenth of its time, per row).
    if plain := _PLAIN_DAY.fullmatch(text):
        return _day(plain.group(3), plain.group(2), plain.group(1))
    return _from_text(text)


def _exact(day: date) -> When:
    return When(day, day, "day", False)


def _from_number(number: float) -> When | DateProblem:
    # A bare year typed into a cell Excel stored as a number.
    if number == int(number) and 1900 <= number <= 2100:
        return _year(int(number), approximate=True)
    if _SERIAL_RANGE[0] <= number <= _SERIAL_RANGE[1]:
        return _exact(_EXCEL_EPOCH + timedelta(days=int(number)))
    return DateProblem.UNREADABLE


_UNKNOWN = frozenset({"unknown", "not known", "n/k", "nk", "tbc", "n/a", "-"})


def _from_text(text: str) -> When | DateProblem:
    hedged, text = _strip_hedges(text)
    if not text or text in _UNKNOWN:
        return DateProblem.MISSING
    first, *others = _RANGE.split(text, maxsplit=1)
    rest = others[0] if others else ""
    end = _one_date(rest.strip()) if rest else DateProblem.MISSING
    start = _one_date(first.strip())
    if start == DateProblem.UNREADABLE and isinstance(end, When):
        # "May–June 2024" names its year once, at the end.
        start = _one_date(f"{first.strip()} {end.earliest.year}")
    if not isinstance(start, When) or not rest:
        return _hedge(start, hedged)
    if not isinstance(end, When):
        return _hedge(start, hedged)
    span = When(start.earliest, max(end.latest, start.latest), start.precision, start.approximate)
    return _hedge(span, hedged)


def _strip_hedges(text: str) -> tuple[bool, str]:
    hedged = False
    while match := _HEDGE.match(text):
        hedged, text = True, text[match.end() :]
    trailing = _TRAILING_HEDGE.search(text)
    if trailing and trailing.start() > 0:
        hedged, text = True, text[: trailing.start()]
    return hedged, text.strip()


def _hedge(found: When | DateProblem, hedged: bool) -> When | DateProblem:
    if isinstance(found, When) and hedged and not found.approximate:
        return When(found.earliest, found.latest, found.precision, True)
    return found


def _one_date(text: str) -> When | DateProblem:
    """One date, tried from the most precise form to the least; the first form that fits wins."""
    for pattern, order in (
        (_ISO, (0, 1, 2)),
        (_DAY_MONTH_YEAR, (2, 1, 0)),
        (_DAY_NAME_YEAR, (2, 1, 0)),
        (_NAME_DAY_YEAR, (2, 0, 1)),
    ):
        if match := pattern.match(text):
            return _day(*(match.group(1 + i) for i in order))
    # "Summer 2024" must not be taken for a month called "summer".
    if match := _PART_YEAR.match(text):
        return _part_of_year(match.group(1), int(match.group(2)))
    if match := _MONTH_YEAR.match(text):
        return _month_of(match)
    if match := _YEAR.match(text):
        return _year(int(match.group(1)), approximate=True)
    return DateProblem.UNREADABLE


def _day(year_text: str, month_text: str, day_text: str) -> When | DateProblem:
    month = _month(month_text)
    if month is None:
        return DateProblem.UNREADABLE
    try:
        return _exact(date(_full_year(year_text), month, int(day_text)))
    except ValueError:
        return DateProblem.IMPOSSIBLE


def _month_of(match: re.Match[str]) -> When | DateProblem:
    month = _month(match.group(1) or match.group(3))
    year = int(match.group(2) or match.group(4))
    if month is None:
        # "Easter 2024" is a hedge on the year we cannot place more exactly.
        return _year(year, approximate=True) if match.group(3) else DateProblem.UNREADABLE
    if not 1 <= month <= 12:
        return DateProblem.IMPOSSIBLE
    return When(date(year, month, 1), _month_end(year, month), "month", True)


def _part_of_year(part: str, year: int) -> When:
    first, last = _PARTS[part]
    end_year, end_month = (year + 1, last - 12) if last > 12 else (year, last)
    precision: Precision = "season" if part not in ("early", "mid", "middle of", "late") else "year"
    return When(date(year, first, 1), _month_end(end_year, end_month), precision, True)


def _year(year: int, approximate: bool) -> When:
    return When(date(year, 1, 1), date(year, 12, 31), "year", approximate)


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])
