"""Is the service alive? What `masp status` shows under the cases and `masp health` judges:
the last successful poll and tick, the outbox backlog, held and quarantined mail, and whether
the mail server refused the service's login."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.config import Config
from pipeline.states import CaseState, MessageState, OutboxState
from pipeline.store.heartbeat import LOGIN
from pipeline.store.models import Case, Heartbeat, Message, OutboxItem


@dataclass(frozen=True)
class MailFailure:
    kind: str
    message: str
    at: datetime | None


@dataclass(frozen=True)
class Health:
    checked_at: datetime
    last_poll_at: datetime | None
    # The worker ("host:pid") that polls the mailbox, as of the last poll.
    poller: str | None
    last_tick_at: datetime | None
    outbox_waiting: int
    oldest_waiting_at: datetime | None
    outbox_held: int
    outbox_failed: int
    quarantined: int
    held_cases: int
    mailbox_error: MailFailure | None
    send_error: MailFailure | None
    # What is wrong, in plain English with what to do; empty when the service is healthy.
    problems: tuple[str, ...]

    @property
    def healthy(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        def failure(f: MailFailure | None) -> dict[str, Any] | None:
            return None if f is None else {"kind": f.kind, "message": f.message, "at": _iso(f.at)}

        return {
            "healthy": self.healthy,
            "problems": list(self.problems),
            "checked_at": _iso(self.checked_at),
            "last_poll_at": _iso(self.last_poll_at),
            "poller": self.poller,
            "last_tick_at": _iso(self.last_tick_at),
            "outbox": {
                "waiting": self.outbox_waiting,
                "oldest_waiting_at": _iso(self.oldest_waiting_at),
                "held": self.outbox_held,
                "failed": self.outbox_failed,
            },
            "quarantined": self.quarantined,
            "held_cases": self.held_cases,
            "mailbox_error": failure(self.mailbox_error),
            "send_error": failure(self.send_error),
        }


def _iso(when: datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def _count(session: Session, query: Any) -> int:
    return int(session.scalar(query) or 0)


def _in_outbox(session: Session, state: OutboxState) -> int:
    return _count(session, select(func.count(OutboxItem.id)).where(OutboxItem.status == state))


def _failure(kind: str | None, message: str | None, at: datetime | None) -> MailFailure | None:
    return None if kind is None else MailFailure(kind, message or "", at)


def check(config: Config, session: Session, now: datetime) -> Health:
    """The service's vital signs at `now`, judged by `config.health`."""
    beat = session.get(Heartbeat, 1) or Heartbeat()
    waiting = OutboxItem.status == OutboxState.PENDING
    quarantined = Message.status == MessageState.QUARANTINED
    health = Health(
        checked_at=now,
        last_poll_at=beat.last_poll_at,
        poller=beat.poller,
        last_tick_at=beat.last_tick_at,
        outbox_waiting=_count(session, select(func.count(OutboxItem.id)).where(waiting)),
        oldest_waiting_at=session.scalar(select(func.min(OutboxItem.created_at)).where(waiting)),
        outbox_held=_in_outbox(session, OutboxState.HELD),
        outbox_failed=_in_outbox(session, OutboxState.FAILED),
        quarantined=_count(session, select(func.count(Message.id)).where(quarantined)),
        held_cases=_count(session, select(func.count(Case.id)).where(Case.state == CaseState.HELD)),
        mailbox_error=_failure(beat.mailbox_error_kind, beat.mailbox_error, beat.mailbox_error_at),
        send_error=_failure(beat.send_error_kind, beat.send_error, beat.send_error_at),
        problems=(),
    )
    return replace(health, problems=problems(config, health))


def problems(config: Config, health: Health) -> tuple[str, ...]:
    """What makes the service unhealthy, each with what to do."""
    tz, now, found = config.tz, health.checked_at, []
    allowed = timedelta(seconds=config.health.missed_polls * config.mailbox.poll_interval_seconds)
    if health.last_poll_at is None:
        found.append(
            "the mailbox has never been read: is the service running? "
            "(systemctl status masp; journalctl -u masp)"
        )
    elif now - health.last_poll_at > allowed:
        found.append(
            f"no successful poll since {_local(health.last_poll_at, tz)} "
            f"({_ago(now - health.last_poll_at)} ago; at most {_ago(allowed)} is expected): "
            "check the service is running (systemctl status masp) and its log (journalctl -u masp)"
        )
    found.extend(_stale_ticks(config, health))
    stuck = timedelta(minutes=config.health.outbox_stuck_minutes)
    if health.oldest_waiting_at is not None and now - health.oldest_waiting_at > stuck:
        found.append(
            f"the outbox is stuck: {health.outbox_waiting} email(s) waiting, the oldest since "
            f"{_local(health.oldest_waiting_at, tz)}: masp outbox list says why"
        )
    for side, failure in (("reading", health.mailbox_error), ("sending", health.send_error)):
        if failure is not None and failure.kind == LOGIN:
            found.append(
                f"the mail server refused the service's login when {side} mail "
                f"(at {_local(failure.at, tz)}): {failure.message}; see 'When the mail password "
                "changes' in docs/operations.md"
            )
    return tuple(found)


def _stale_ticks(config: Config, health: Health) -> list[str]:
    """Reminders, cut-offs and packs stop without a tick, even while polling goes on (a cron
    set-up that runs only `masp poll`, a tick that keeps failing)."""
    if health.last_poll_at is None:
        # Never polled either: the poll's problem already says the service is not running.
        return []
    stale = timedelta(minutes=config.health.tick_stale_minutes)
    last, now = health.last_tick_at, health.checked_at
    if last is not None and now - last <= stale:
        return []
    since = "has never run" if last is None else f"has not run since {_local(last, config.tz)}"
    return [
        f"the tick (reminders, cut-offs, packs, decision sheets) {since}, at most "
        f"{_ago(stale)} is expected: check `masp run` is running, or that cron runs `masp tick`, "
        "and its log (journalctl -u masp)"
    ]


def _local(when: datetime | None, tz: ZoneInfo) -> str:
    return "an unknown time" if when is None else f"{when.astimezone(tz):%d/%m/%Y %H:%M}"


def _ago(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} days"


def summary_lines(config: Config, health: Health) -> list[str]:
    """The service's lines under `masp status`'s table."""
    tz, now = config.tz, health.checked_at

    def seen(when: datetime | None) -> str:
        return "never" if when is None else f"{_local(when, tz)} ({_ago(now - when)} ago)"

    oldest = (
        f", the oldest since {_local(health.oldest_waiting_at, tz)}"
        if health.oldest_waiting_at is not None
        else ""
    )
    by = f"; the mailbox is polled by worker {health.poller}" if health.poller else ""
    return [
        f"Last successful poll: {seen(health.last_poll_at)}; last tick: "
        f"{seen(health.last_tick_at)}{by}",
        f"Outbox: {health.outbox_waiting} waiting{oldest}; {health.outbox_held} held, "
        f"{health.outbox_failed} failed; quarantined emails: {health.quarantined}; "
        f"held cases: {health.held_cases}",
        *(f"Unhealthy: {problem}" for problem in health.problems),
    ]
