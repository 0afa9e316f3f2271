"""One exception tree for the whole service; every error says what to do next."""

from __future__ import annotations

import traceback
from pathlib import Path


class PipelineError(Exception):
    """Root of every error the service raises on purpose."""

    def __init__(self, message: str, *, reference: str | None = None) -> None:
        self.reference = reference
        prefix = f"{reference}: " if reference else ""
        super().__init__(prefix + message)


class ConfigError(PipelineError):
    """The configuration is missing, unreadable or invalid; the message names the key."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"config key '{key}': {message}")


class MailboxError(PipelineError):
    """The mailbox could not be reached or refused an operation.

    `login_refused` is True when the server refused the service's credentials (a changed
    password, a revoked token): `masp health` reports it until a poll signs in again.
    """

    def __init__(
        self, message: str, *, reference: str | None = None, login_refused: bool = False
    ) -> None:
        self.login_refused = login_refused
        super().__init__(message, reference=reference)


class SendError(PipelineError):
    """An email could not be handed to the mail server; it stays in the outbox for retry.

    `temporary` is True when the server could not be reached or said 'try later' (4xx):
    the email waits without using up an attempt. False means the server refused it (5xx).
    `refused` names the recipients the server refused, for the administrator's alert; the
    message never does (it is logged). `login_refused`: the server refused the service's
    credentials, as for MailboxError.
    """

    def __init__(
        self,
        message: str,
        *,
        reference: str | None = None,
        temporary: bool = True,
        refused: tuple[str, ...] = (),
        login_refused: bool = False,
    ) -> None:
        self.temporary = temporary
        self.refused = refused
        self.login_refused = login_refused
        super().__init__(message, reference=reference)


class PartialDelivery(SendError):
    """The server accepted the email for some recipients and refused the others."""

    def __init__(self, message: str, refused: tuple[str, ...]) -> None:
        super().__init__(message, temporary=False, refused=refused)


class StoreError(PipelineError):
    """The database or the file store refused an operation."""


class IntakeError(PipelineError):
    """An email could not be filed; it is quarantined with its raw bytes."""


class IllegalTransition(PipelineError):
    """A step tried to move a case between two states no rule allows; nothing was changed."""

    def __init__(self, old: str | None, new: str, *, reference: str | None = None) -> None:
        self.old = old
        self.new = new
        start = "a new case" if old is None else f"a case that is {old}"
        super().__init__(f"{start} cannot become {new}", reference=reference)


class DocumentError(PipelineError):
    """An attachment could not be read; the referrer is told why in plain English."""


class ConversionError(DocumentError):
    """A document could not be turned into PDF; the reason is plain English."""


class Stopped(PipelineError):
    """The service was asked to stop (SIGTERM) in the middle of a step: what the step had begun
    was ended and rolled back, and it is done again at the next tick, by whichever worker runs."""


class NotFound(PipelineError):
    """A case, message or outbox row named on the command line does not exist."""


class ScreeningError(PipelineError):
    """A screening decision cannot be applied to this case as it stands."""


class Unsendable(SendError):
    """The email can never be sent as it stands (an address the server cannot carry, no
    recipient at all): it fails at once instead of after every retry, and the administrator
    is told whom it was for."""

    def __init__(self, message: str, refused: tuple[str, ...] = ()) -> None:
        super().__init__(message, temporary=False, refused=refused)


def describe_failure(exc: BaseException) -> str:
    """What went wrong, fit for a log line or an audit entry.

    Our own errors' messages are written to name no one. Any other exception's message may
    quote what it choked on (a child's name in a form field), so only its type and the place
    it was raised are given.
    """
    if isinstance(exc, PipelineError):
        return str(exc)
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        where = f" at {Path(last.filename).name}:{last.lineno}"
    return f"{type(exc).__name__}{where}"
