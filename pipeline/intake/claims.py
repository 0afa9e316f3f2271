"""Which worker files which email. Every worker files mail, not only the one polling the
mailbox: each claims a few ledgered emails at a time, reads and files them, and claims more.

A claim is a lease (`claimed_until`), taken in one short transaction that skips the rows
another worker is claiming at that instant (SKIP LOCKED on PostgreSQL; SQLite has one writer
at a time anyway). A worker that died lets go of its emails when their lease runs out. The
claim only saves reading an email twice: filing itself locks the email's row and files it
once whoever gets there (`filing._file_row`).

One sender's emails are filed one after another, in the order they were received: an email is
claimed only when no earlier email from the same sender is still to be filed, so a referral's
follow-up (its chronology, a correction) never overtakes the referral on another worker.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import aliased

from pipeline.app import App
from pipeline.states import MessageState
from pipeline.store.locks import worker_name
from pipeline.store.models import Message

# Long enough for a whole batch, each email read within its own budget: a lease that ran out
# early only lets another worker read an email again, never file it twice.
LEASE = timedelta(minutes=10)
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
    query = (
        select(Message.id, Message.raw_path, Message.size)
        .where(
            Message.status == MessageState.NEW,
            or_(
                Message.claimed_until.is_(None),
                Message.claimed_until <= now,
                Message.claimed_by == me,
            ),
            ~waits_behind,
        )
        .order_by(Message.received_at, Message.id)
        .limit(count)
        .with_for_update(skip_locked=True, of=Message)
    )
    with app.store.session() as session:
        rows = [(row_id, path, size) for row_id, path, size in session.execute(query)]
        if rows:
            session.execute(
                update(Message)
                .where(Message.id.in_([row[0] for row in rows]))
                .values(claimed_by=me, claimed_until=now + LEASE)
                .execution_options(synchronize_session=False)
            )
    return rows


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
