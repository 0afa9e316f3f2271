"""Which of our emails an incoming one answers: the signed tokens it carries, and the thread
it is in (our own Message-IDs, which we sign, in its In-Reply-To and References).

A screening decision, a decisions workbook and a follow-up answer each prove themselves this
way; the handler then checks the sender and what the token or thread names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.app import App
from pipeline.mime.message import ParsedEmail
from pipeline.mime.tokens import TokenKind
from pipeline.store.models import FollowUp, OutboxItem, ScreeningRequest

# A request whose email carries a signed token (its nonce) that a reply must bring back.
Request = TypeVar("Request", bound=ScreeningRequest | FollowUp)


@dataclass(frozen=True)
class Claim:
    """What in an email claims to answer one of our requests: tokens, and the thread."""

    tokens: tuple[tuple[str, str], ...]
    malformed: bool
    # The ids (after the colon of the outbox purpose) of the requests its thread answers.
    threaded: tuple[int, ...]


def answered(app: App, session: Session, parsed: ParsedEmail) -> list[str]:
    """The outbox purposes of our emails this one replies to (only our signed Message-IDs)."""
    ids = [i for i in (*parsed.in_reply_to, *parsed.references) if app.signer.is_ours(i)]
    if not ids:
        return []
    query = select(OutboxItem.purpose).where(OutboxItem.message_id.in_(ids))
    return list(session.scalars(query))


def threaded_ids(purposes: Sequence[str], prefixes: tuple[str, ...]) -> tuple[int, ...]:
    """The request ids named by the purposes that start with one of `prefixes`, each once."""
    found = (p.partition(":")[2] for p in purposes if p.startswith(prefixes))
    return tuple(dict.fromkeys(int(i) for i in found if i.isdigit()))


def find_claim(
    app: App, session: Session, parsed: ParsedEmail, kind: TokenKind, prefixes: tuple[str, ...]
) -> Claim | None:
    """None when the email does not claim to answer a request of this kind at all."""
    tokens, malformed = kind.read(f"{parsed.subject}\n{parsed.body_text}")
    threaded = threaded_ids(answered(app, session, parsed), prefixes)
    if not tokens and not malformed and not threaded:
        return None
    return Claim(tokens, malformed, threaded)


def claimed(
    app: App, session: Session, claim: Claim, kind: TokenKind, model: type[Request]
) -> list[Request] | None:
    """The requests the claim names, by token and by thread; None when any token is forged,
    mangled or unknown (then nothing the email says may count)."""
    key = app.signer.key
    if claim.malformed or not all(kind.is_valid(key, n, s) for n, s in claim.tokens):
        return None
    nonces = [n for n, _ in claim.tokens]
    by_token = list(session.scalars(select(model).where(model.nonce.in_(nonces))))
    if len(by_token) != len(nonces):
        return None
    by_thread = [session.get(model, i) for i in claim.threaded]
    found = {r.id: r for r in [*by_token, *by_thread] if r is not None}
    return list(found.values()) or None
