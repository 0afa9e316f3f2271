"""R15: the quarterly picture's figures, counted from plain per-case and per-decision rows.

Pure: the gatherer (`outputs.quarterly`) reads the rows from the store; this module only counts.
Every figure is an aggregate: no row carries a reference, a name or initials.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from pipeline.documents.form import REASONS, REQUEST_TYPES
from pipeline.errors import PipelineError
from pipeline.rules.chase import on_time
from pipeline.states import Outcome

QUARTER = re.compile(r"(\d{4})\s*-?\s*Q([1-4])", re.IGNORECASE)
# What a case whose form does not say is counted under.
NOT_GIVEN = "Not given"
# How many months the demand line goes back from the quarter's end.
DEMAND_MONTHS = 12


class BadQuarter(PipelineError, ValueError):
    """A quarter that is not spelled like 2027Q1."""


@dataclass(frozen=True, order=True)
class Quarter:
    """A calendar quarter: 2027Q1 is January to March 2027."""

    year: int
    number: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        found = QUARTER.fullmatch(text.strip())
        if found is None:
            raise BadQuarter(f"a quarter is written like 2027Q1 (year, Q, 1 to 4), not {text!r}")
        year = int(found.group(1))
        if not 2000 <= year <= 2999:
            raise BadQuarter(f"{text!r} is not a year this service can report on")
        return cls(year, int(found.group(2)))

    @classmethod
    def of(cls, day: date) -> Quarter:
        """The quarter `day` falls in."""
        return cls(day.year, (day.month - 1) // 3 + 1)

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.number}"

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)

    @property
    def end(self) -> date:
        """The first day after the quarter."""
        return self.next().start

    def next(self) -> Quarter:
        if self.number == 4:
            return Quarter(self.year + 1, 1)
        return Quarter(self.year, self.number + 1)

    def previous(self) -> Quarter:
        if self.number == 1:
            return Quarter(self.year - 1, 4)
        return Quarter(self.year, self.number - 1)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day < self.end

    def demand_start(self) -> date:
        """The first day of the twelve months that end with this quarter."""
        return date(self.end.year - 1, self.end.month, 1)


def last_complete(today: date) -> Quarter:
    """The last quarter that has ended by `today` (the default of `masp report quarterly`)."""
    return Quarter.of(today).previous()


@dataclass(frozen=True)
class CaseRow:
    """One referral as the quarterly picture counts it; dates in the panel's time zone.

    `deferred` means the cut-off moved it (R6: not complete by the deadline of the meeting it
    first targeted); `carried` means it was listed but not heard and moved on (R7). `waiting`
    means it still waits for documents or information (incomplete, more information).
    """

    received: date
    agency: str | None
    reasons: tuple[str, ...]
    request_types: tuple[str, ...]
    deferred: bool = False
    carried: bool = False
    waiting: bool = False


@dataclass(frozen=True)
class DecisionRow:
    """One decision recorded at a meeting; dates in the panel's time zone. `sheet_sent` is the
    day its decision sheet first reached the referrer (the outbox sent it: a sheet held by the
    outbox has not), None while it has not."""

    meeting: date
    outcome: str
    sheet_sent: date | None


Counts = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class QuarterFigures:
    """R15's figures for one quarter (and one panel, or all of them).

    Rates, each None when there is nothing to divide by:
    - on time: of the quarter's referrals whose timeliness is known (the cut-off has judged
      them: not still waiting for documents with no deferral yet), the share complete by the
      deadline of the meeting each first targeted, i.e. never moved by the cut-off (R6);
    - deferred: of all the quarter's referrals, the share moved to a later meeting, by the
      cut-off (R6) or because it was not heard at its meeting (R7);
    - sheets within N days: of the decisions recorded at the quarter's meetings, the share whose
      decision sheet was sent by the end of the `sheet_days`th day after the meeting's day
      (`decisions.sheet_days`; `rules.chase.on_time`, the sheets' due moment); a sheet not yet
      sent (or held by the outbox) counts as not within.
    """

    quarter: str
    panel: str | None
    referrals: int
    by_agency: Counts
    by_reason: Counts
    by_request: Counts
    timed: int
    on_time: int
    deferred: int
    cut_off: int
    not_heard: int
    outcomes: Counts
    decisions: int
    sheets_sent: int
    sheets_within: int
    sheet_days: int
    demand: Counts

    @property
    def on_time_rate(self) -> float | None:
        return _rate(self.on_time, self.timed)

    @property
    def deferred_rate(self) -> float | None:
        return _rate(self.deferred, self.referrals)

    @property
    def sheets_rate(self) -> float | None:
        return _rate(self.sheets_within, self.decisions)


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def percent(rate: float | None) -> str:
    """A rate as people read it: '83%', or 'n/a' when nothing was counted."""
    return "n/a" if rate is None else f"{rate:.0%}"


def _labelled(counts: Counter[str], labels: Mapping[str, str], other: int) -> Counts:
    """Every label in its form's order (zeros too, so quarters compare), then what the form
    did not say."""
    known = tuple((label, counts[key]) for key, label in labels.items())
    return (*known, (NOT_GIVEN, other)) if other else known


def _agencies(rows: Sequence[CaseRow]) -> Counts:
    # Spelled as the referrers wrote them; the same agency in other capitals counts once.
    spelled: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for row in rows:
        name = " ".join((row.agency or "").split()) or NOT_GIVEN
        key = name.casefold()
        spelled.setdefault(key, name)
        counts[key] += 1
    return tuple((spelled[k], n) for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _tally(rows: Sequence[CaseRow], attribute: str, labels: Mapping[str, str]) -> Counts:
    counts: Counter[str] = Counter()
    untold = 0
    for row in rows:
        keys = {k for k in getattr(row, attribute) if k in labels}
        counts.update(keys)
        untold += not keys
    return _labelled(counts, labels, untold)


def _months(quarter: Quarter) -> list[tuple[int, int]]:
    start = quarter.demand_start()
    return [
        (start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1)
        for i in range(DEMAND_MONTHS)
    ]


def demand(quarter: Quarter, received: Iterable[date]) -> Counts:
    """Referrals received in each of the twelve months ending with the quarter ('2027-03')."""
    counts = Counter((day.year, day.month) for day in received)
    return tuple((f"{y}-{m:02d}", counts[(y, m)]) for y, m in _months(quarter))


def _sheets(decisions: Sequence[DecisionRow], sheet_days: int) -> tuple[int, int]:
    sent = [(d.meeting, d.sheet_sent) for d in decisions if d.sheet_sent is not None]
    return len(sent), sum(1 for meeting, day in sent if on_time(meeting, day, sheet_days))


def quarter_figures(
    quarter: Quarter,
    cases: Sequence[CaseRow],
    decisions: Sequence[DecisionRow],
    received_months: Iterable[date],
    *,
    sheet_days: int,
    panel: str | None = None,
) -> QuarterFigures:
    """The quarter's figures: `cases` received in it, `decisions` made at its meetings, and
    `received_months` the days every referral of the last twelve months arrived."""
    cases = [c for c in cases if c.received in quarter]
    decisions = [d for d in decisions if d.meeting in quarter]
    timed = [c for c in cases if c.deferred or not c.waiting]
    sent, within = _sheets(decisions, sheet_days)
    outcomes = Counter(d.outcome for d in decisions)
    # An outcome a later version no longer offers is still counted, as "Other".
    other = sum(n for o, n in outcomes.items() if o not in {o.value for o in Outcome})
    shown = tuple((o.value, outcomes[o.value]) for o in Outcome)
    return QuarterFigures(
        quarter=quarter.label,
        panel=panel,
        referrals=len(cases),
        by_agency=_agencies(cases),
        by_reason=_tally(cases, "reasons", {k: _short(v) for k, v in REASONS.items()}),
        by_request=_tally(cases, "request_types", REQUEST_TYPES),
        timed=len(timed),
        on_time=sum(1 for c in timed if not c.deferred),
        deferred=sum(1 for c in cases if c.deferred or c.carried),
        cut_off=sum(1 for c in cases if c.deferred),
        not_heard=sum(1 for c in cases if c.carried),
        outcomes=(*shown, ("Other", other)) if other else shown,
        decisions=len(decisions),
        sheets_sent=sent,
        sheets_within=within,
        sheet_days=sheet_days,
        demand=demand(quarter, received_months),
    )


def _short(label: str) -> str:
    """A reason's label without the form's 'Reason: ' lead-in, for a chart's axis."""
    text = label.removeprefix("Reason: ")
    return text[:1].upper() + text[1:]


def headline(figures: QuarterFigures, top: int = 3) -> list[str]:
    """The quarter in a few lines: the agenda's section 4, the command's output, the email."""
    agencies = ", ".join(f"{name} {n}" for name, n in figures.by_agency[:top]) or "none"
    outcomes = ", ".join(f"{name} {n}" for name, n in figures.outcomes if n) or "none recorded"
    return [
        f"Referrals received in {figures.quarter}: {figures.referrals} (most from: {agencies}).",
        f"On time: {percent(figures.on_time_rate)} of {figures.timed}; "
        f"deferred to a later meeting: {percent(figures.deferred_rate)} "
        f"({figures.deferred} of {figures.referrals}).",
        f"Decisions: {figures.decisions}; outcomes: {outcomes}.",
        f"Decision sheets sent within {figures.sheet_days} days: "
        f"{figures.sheets_within} of {figures.decisions} ({percent(figures.sheets_rate)}).",
    ]
