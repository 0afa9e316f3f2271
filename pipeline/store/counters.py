"""Numbers handed out once each (case references), by the database itself.

One statement inserts the counter row or moves it on, and says the number it reached: two
transactions numbering at once can never read the same last number, and a new year's first
two cases never both insert its row (one waits for the other's row lock, then goes on from
the number it committed). SQLite (3.35 and later) and PostgreSQL both take the statement.

On PostgreSQL the number is taken in a short transaction of its own, as a sequence would be:
the counter's row lock is held for that statement alone, not for the whole filing of the case,
so workers filing side by side never wait for each other's referrals. A filing that fails
after taking its number (the email is quarantined, or the database has it run again) leaves
that number unused: references may skip a number, and never repeat one. On SQLite, which has
one writer at a time anyway, the number is taken in the caller's transaction.
"""

from __future__ import annotations

import importlib
from functools import cache

from sqlalchemy import bindparam
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from pipeline.store.models import Counter


def next_number(session: Session, prefix: str, year: int) -> int:
    """The next number for `prefix` in `year` (1 for the first)."""
    bind = session.get_bind()
    statement = _upsert(bind.dialect.name)
    values = {"prefix": prefix, "year": year}
    number: int
    if bind.dialect.name == "postgresql":
        with bind.engine.connect() as own:
            number = own.execute(statement, values).scalar_one()
            own.commit()
        return number
    # On the session's connection: the counter is no object of the session, so nothing it holds
    # need be written first.
    number = session.connection().execute(statement, values).scalar_one()
    return number


@cache
def _upsert(dialect: str) -> Executable:
    """The statement for `dialect`, built once: its own INSERT (for its ON CONFLICT), imported
    for the dialect in use (a poll on SQLite does not load PostgreSQL's)."""
    insert = importlib.import_module(f"sqlalchemy.dialects.{dialect}").insert
    statement: Executable = (
        insert(Counter)
        .values(prefix=bindparam("prefix"), year=bindparam("year"), last=1)
        .on_conflict_do_update(
            index_elements=[Counter.prefix, Counter.year], set_={"last": Counter.last + 1}
        )
        .returning(Counter.last)
    )
    return statement
