"""Numbers handed out once each (case references), by the database itself.

One statement inserts the counter row or moves it on, and says the number it reached: two
transactions numbering at once can never read the same last number, and a new year's first
two cases never both insert its row (one waits for the other's row lock, then goes on from
the number it committed). SQLite (3.35 and later) and PostgreSQL both take the statement.
"""

from __future__ import annotations

import importlib

from sqlalchemy.orm import Session

from pipeline.store.models import Counter


def next_number(session: Session, prefix: str, year: int) -> int:
    """The next number for `prefix` in `year` (1 for the first), taken in this transaction."""
    # The dialect's own INSERT (for its ON CONFLICT), imported for the one in use: a poll on
    # SQLite does not load PostgreSQL's.
    dialect = session.get_bind().dialect.name
    insert = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
    statement = (
        insert(Counter)
        .values(prefix=prefix, year=year, last=1)
        .on_conflict_do_update(
            index_elements=[Counter.prefix, Counter.year], set_={"last": Counter.last + 1}
        )
        .returning(Counter.last)
    )
    # On the session's connection: the counter is no object of the session, so nothing it holds
    # need be written first.
    number: int = session.connection().execute(statement).scalar_one()
    return number
