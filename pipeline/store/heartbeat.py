"""The service's vital signs: written by the poll, the tick and the outbox, read by `masp status`
and `masp health`. Each write is its own short transaction, so a failed step still leaves its
mark."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError

from pipeline.errors import MailboxError, PipelineError, SendError
from pipeline.store.db import Store
from pipeline.store.models import Heartbeat

# The one row.
ROW = 1
LOGIN, FAILURE = "login", "failure"


def failure_kind(exc: PipelineError) -> str:
    """LOGIN when the server refused the service's credentials, else FAILURE."""
    refused = isinstance(exc, MailboxError | SendError) and exc.login_refused
    return LOGIN if refused else FAILURE


def read(store: Store) -> Heartbeat:
    """The vital signs as they stand (all empty before the first poll), detached."""
    with store.session() as session:
        row = session.get(Heartbeat, ROW)
        if row is None:
            return Heartbeat(id=ROW)
        session.expunge(row)
        return row


def _update(store: Store, **values: object) -> None:
    with store.session() as session:
        row = session.get(Heartbeat, ROW)
        if row is None:
            try:
                with session.begin_nested():
                    session.add(Heartbeat(id=ROW))
            # Another worker wrote the first row at this very moment: this one updates it.
            except IntegrityError:
                pass
            row = session.get(Heartbeat, ROW, populate_existing=True)
            assert row is not None
        for name, value in values.items():
            setattr(row, name, value)


def polled(store: Store, when: datetime, poller: str | None = None) -> None:
    """The mailbox was read to the end (by `poller`, "host:pid"): polling is alive and the
    login works."""
    _update(store, last_poll_at=when, poller=poller, mailbox_error_kind=None, mailbox_error=None)


def ticked(store: Store, when: datetime) -> None:
    _update(store, last_tick_at=when)


def mailbox_failed(store: Store, when: datetime, exc: PipelineError) -> None:
    kind = failure_kind(exc)
    _update(store, mailbox_error_kind=kind, mailbox_error=str(exc), mailbox_error_at=when)


def sent(store: Store) -> None:
    """The mail server took an email: whatever it refused before is over."""
    _update(store, send_error_kind=None, send_error=None)


def send_failed(store: Store, when: datetime, exc: SendError) -> None:
    kind = failure_kind(exc)
    _update(store, send_error_kind=kind, send_error=str(exc), send_error_at=when)
