"""Row locks for read-then-write steps that another process may run at the same moment.

On PostgreSQL `SELECT … FOR UPDATE` makes a second transaction that wants the same row wait
until the first commits, and then read what it committed; on SQLite the statement carries no
lock (SQLAlchemy leaves `FOR UPDATE` out) because every writing transaction there already
begins by taking the database's write lock (`BEGIN IMMEDIATE`, see `db.open_engine`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session


def lock(session: Session, row: object, *dependents: object) -> None:
    """Hold `row` until this transaction ends, and read it and `dependents` again as they are
    once the lock is held: what a concurrent writer committed meanwhile is seen, not lost.

    Changes not yet flushed to these objects are discarded: lock before changing them.
    """
    session.refresh(row, with_for_update=True)
    for other in dependents:
        session.refresh(other)
