"""The console's people: local accounts (argon2 hashes), those Entra ID signed in, their roles,
and the throttle on password guessing (10 wrong passwords for an account or from an address)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from pipeline.config import WebConfig
from pipeline.errors import NotFound, PipelineError
from pipeline.store.models import SignInAttempt, WebSession, WebUser


class Role(StrEnum):
    """What a person may see and do in the console; the server checks it on every request."""

    # Everything.
    ADMINISTRATOR = "administrator"
    # Reads every case, the agenda and the quarterly report.
    CHAIR = "chair"
    # The cases they are asked to screen.
    SERVICE_MANAGER = "service_manager"
    # The packs sent to them.
    MEMBER = "member"


EVERYONE = frozenset(Role)
# Those who may read every case.
READERS = frozenset({Role.ADMINISTRATOR, Role.CHAIR})
ADMINISTRATORS = frozenset({Role.ADMINISTRATOR})

# A password shorter than this is refused by `masp users add`.
MIN_PASSWORD = 12
# OWASP's argon2id setting (19 MiB, 2 passes, 1 lane): the default's 64 MiB per sign-in would
# be most of the console's memory at a busy moment.
_HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the account does not exist, so a wrong address takes as long as a
# wrong password and the answer does not say which addresses have accounts.
_DUMMY_HASH = _HASHER.hash("not a password anyone has")


class UserError(PipelineError):
    """An account request that cannot be done as asked (bad address, role or password)."""


@dataclass(frozen=True)
class User:
    """The person behind a request, as the pages see them."""

    id: int
    email: str
    name: str
    role: Role

    @property
    def label(self) -> str:
        return self.name or self.email


def user_of(row: WebUser) -> User:
    return User(row.id, row.email, row.name, Role(row.role))


def normal_email(email: str) -> str:
    return email.strip().lower()


def role_of(value: str) -> Role:
    try:
        return Role(value.strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise UserError(f"unknown role {value!r}: choose one of {choices}") from None


def add_local(
    session: Session, email: str, role: Role, password: str, name: str, now: datetime
) -> WebUser:
    """A new local account, or a new password and role for an existing one."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters long")
    address = normal_email(email)
    if "@" not in address or any(c.isspace() for c in address):
        raise UserError(f"{email!r} is not an email address")
    row = session.scalar(select(WebUser).where(WebUser.email == address))
    if row is None:
        row = WebUser(email=address, created_at=now)
        session.add(row)
    row.name, row.role, row.source = name.strip(), role.value, "local"
    row.password_hash = _HASHER.hash(password)
    session.flush()
    return row


def remove(session: Session, email: str) -> None:
    row = session.scalar(select(WebUser).where(WebUser.email == normal_email(email)))
    if row is None:
        raise NotFound(f"no console account for {email!r}: see `masp users list`")
    # Signed out everywhere at once: its sessions go with it.
    session.execute(delete(WebSession).where(WebSession.user_id == row.id))
    session.delete(row)


def all_users(session: Session) -> list[WebUser]:
    return list(session.scalars(select(WebUser).order_by(WebUser.email)))


# A session's last request is written at most this often: most page views then only read.
SEEN_EVERY = timedelta(minutes=1)


@dataclass(frozen=True)
class SignedIn:
    """Whose a session token is, and whether its last-seen time should be written."""

    user: User
    session_id: int
    stale: bool


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user_id: int, now: datetime) -> str:
    """A new signed-in session for the account; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    session.add(
        WebSession(token_sha256=_digest(token), user_id=user_id, created_at=now, seen_at=now)
    )
    return token


def session_user(session: Session, token: str, now: datetime, idle: timedelta) -> SignedIn | None:
    """The person a session token belongs to, if the session is open and was used within
    `idle`; None once it was signed out, timed out, or its account removed."""
    found = session.execute(
        select(WebSession, WebUser)
        .join(WebUser, WebUser.id == WebSession.user_id)
        .where(WebSession.token_sha256 == _digest(token), WebSession.ended_at.is_(None))
    ).first()
    if found is None:
        return None
    row, user = found
    if now - row.seen_at > idle:
        return None
    return SignedIn(user_of(user), row.id, now - row.seen_at >= SEEN_EVERY)


def touch_session(session: Session, session_id: int, now: datetime) -> None:
    row = session.get(WebSession, session_id)
    if row is not None:
        row.seen_at = now


def end_session(session: Session, token: str, now: datetime) -> None:
    """Sign a session out: its cookie, even a copy of it, no longer signs anyone in."""
    row = session.scalar(select(WebSession).where(WebSession.token_sha256 == _digest(token)))
    if row is not None and row.ended_at is None:
        row.ended_at = now


def forget_sessions(session: Session, before: datetime) -> None:
    """Sessions ended or idle since before `before` are of no further use."""
    session.execute(delete(WebSession).where(WebSession.seen_at < before))


def check_password(session: Session, email: str, password: str) -> WebUser | None:
    """The local account if the password is right; None otherwise."""
    row = session.scalar(
        select(WebUser).where(WebUser.email == normal_email(email), WebUser.source == "local")
    )
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    return row if stored is not _DUMMY_HASH else None


def throttled_until(
    session: Session, web: WebConfig, email: str, client: str, now: datetime
) -> datetime | None:
    """When signing in may be tried again, if too many wrong passwords were given lately for
    this account (since its last right one) or from this address; None when it may be now."""
    since = now - timedelta(minutes=web.throttle_minutes)
    address = normal_email(email)
    # By row order, not time: attempts in the same second still come before or after it.
    last_success = session.scalar(
        select(func.max(SignInAttempt.id)).where(
            SignInAttempt.email == address, SignInAttempt.succeeded.is_(True)
        )
    )
    for_account = (SignInAttempt.email == address) & (SignInAttempt.id > (last_success or 0))
    until = [
        _nth_failure(session, for_account, since, web),
        _nth_failure(session, SignInAttempt.client == client, since, web),
    ]
    found = [t + timedelta(minutes=web.throttle_minutes) for t in until if t is not None]
    return max(found) if found else None


def _nth_failure(
    session: Session, which: ColumnElement[bool], since: datetime, web: WebConfig
) -> datetime | None:
    """The time of the max_failed_sign_ins-th most recent wrong password since `since`: once it
    is older than the throttle window, fewer than the limit remain."""
    times = session.scalars(
        select(SignInAttempt.at)
        .where(which, SignInAttempt.succeeded.is_(False), SignInAttempt.at > since)
        .order_by(SignInAttempt.id.desc())
        .limit(web.max_failed_sign_ins)
    ).all()
    return times[-1] if len(times) >= web.max_failed_sign_ins else None


def record_attempt(
    session: Session, email: str, client: str, succeeded: bool, now: datetime
) -> None:
    session.add(
        SignInAttempt(at=now, email=normal_email(email), client=client[:64], succeeded=succeeded)
    )


def forget_attempts(session: Session, before: datetime) -> None:
    """Attempts older than any throttle window are of no further use."""
    session.execute(delete(SignInAttempt).where(SignInAttempt.at < before))


def entra_user(session: Session, email: str, name: str, role: Role, now: datetime) -> WebUser:
    """The row for someone Entra ID signed in: made on first sign-in, role refreshed each time."""
    address = normal_email(email)
    row = session.scalar(select(WebUser).where(WebUser.email == address))
    # A local account of the same address keeps its password; Entra ID's role is the newer word.
    if row is None:
        row = WebUser(email=address, created_at=now, source="entra")
        session.add(row)
    row.name, row.role, row.last_sign_in_at = name.strip()[:200], role.value, now
    session.flush()
    return row
