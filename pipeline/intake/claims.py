"""Which worker files which email. Every worker files mail, not only the one polling the
mailbox: each claims a few ledgered emails at a time, reads and files them, and claims more.

A claim is a lease (`claimed_until`), taken in one short transaction that skips the rows
another worker is claiming at that instant (SKIP LOCKED on PostgreSQL; SQLite has one writer
at a time anyway), and renewed while the worker files its batch. A worker that died lets go of
its emails when their lease runs out, or at once when it ran on the same machine as the worker
that finds it gone (a restart, the next `masp poll`). The claim only saves reading an email
twice: filing itself locks the email's row and files it once whoever gets there
(`filing._file_row`).

One sender's emails are filed one after another, in the order they were received: an email is
claimed only when no earlier email from the same sender is still to be filed, so a referral's
follow-up (its chronology, a correction) never overtakes the referral on another worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Select, and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from pipeline.app import App
from pipeline.states import MessageState
from pipeline.store.locks import worker_gone, worker_name
from pipeline.store.models import Message

# Renewed at half-time while the batch is filed (`renew`); a lease that ran out early all the
# same (one email read for its whole budget) only lets another worker read an email again,
# never file it twice.
LEASE = timedelta(minutes=2)
# (ledger id, raw path, size): what the filing needs to begin an email.
Claimed = tuple[int, str, int]


def batch_size(readers: int) -> int:
    """Emails claimed at once: enough to keep `readers` busy reading ahead (ahead.py), few
    enough that the other workers find the rest to claim."""
    return 4 * readers + 4


def claim(app: App, count: int) -> list[Claimed]:
    """Claim up to `count` emails to file, in the order received."""
    now = app.clock.now()
    me = worker_name()
    with app.store.session() as session:
        query = _claimable(now, [me, *_gone(session, now)]).limit(count)
        rows = [(row_id, path, size) for row_id, path, size in session.execute(query)]
        if rows:
            session.execute(
                update(Message)
                .where(Message.id.in_([row[0] for row in rows]))
                .values(claimed_by=me, claimed_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
    return rows


def _claimable(now: datetime, holders: list[str]) -> Select[int, str, int]:
    """The emails to file that nobody else holds (or only `holders`: this worker, and those
    known to be gone), each the first of its sender's still to be filed, oldest first."""
    earlier = aliased(Message)
    # An earlier email from the same sender still to be filed (no sender recorded counts as
    # one sender of its own: those are filed one after another).
    waits_behind = exists().where(
        earlier.status == MessageState.NEW,
        func.coalesce(earlier.sender, "") == func.coalesce(Message.sender, ""),
        or_(
            earlier.received_at < Message.received_at,
            and_(earlier.received_at == Message.received_at, earlier.id < Message.id),
        ),
    )
    return (
        select(Message.id, Message.raw_path, Message.size)
        .where(
            Message.status == MessageState.NEW,
            or_(
                Message.claimed_until.is_(None),
                Message.claimed_until <= now,
                Message.claimed_by.in_(holders),
            ),
            ~waits_behind,
        )
        .order_by(Message.received_at, Message.id)
        .with_for_update(skip_locked=True, of=Message)
    )


def _gone(session: Session, now: datetime) -> list[str]:
    """The workers holding claims that are known to have ended (`locks.worker_gone`)."""
    holders = session.scalars(
        select(Message.claimed_by)
        .where(
            Message.status == MessageState.NEW,
            Message.claimed_until > now,
            Message.claimed_by.is_not(None),
        )
        .distinct()
    )
    return [name for name in holders if name is not None and worker_gone(name)]


def renew(app: App, ids: Sequence[int]) -> None:
    """Lengthen this worker's claim on the emails of its batch not yet filed."""
    if not ids:
        return
    with app.store.session() as session:
        session.execute(
            update(Message)
            .where(
                Message.id.in_(ids),
                Message.status == MessageState.NEW,
                Message.claimed_by == worker_name(),
            )
            .values(claimed_until=app.clock.now() + LEASE)
            .execution_options(synchronize_session=False)
        )


def waiting(app: App) -> bool:
    """Whether any ledgered email is still to be filed: a look that takes no write lock, cheap
    enough for a worker that is not polling to make every second."""
    now = app.clock.now()
    query = select(Message.id).where(
        Message.status == MessageState.NEW,
        or_(Message.claimed_until.is_(None), Message.claimed_until <= now),
    )
    with app.store.reading() as session:
        return session.scalar(query.limit(1)) is not None


def release(app: App, ids: Sequence[int]) -> None:
    """Give back emails claimed but not filed (the worker is stopping, or failed between
    them): any worker may take them at once."""
    if not ids:
        return
    with app.store.session() as session:
        session.execute(
            update(Message)
            .where(Message.id.in_(ids), Message.status == MessageState.NEW)
            .values(claimed_until=None)
            .execution_options(synchronize_session=False)
        )
