"""Signed tokens in the emails we send, which a reply must carry back: `[screen:nonce.sig]`.

Each kind of request has its own word (screening, the decisions workbook, the 12-week
follow-up), and the word is signed with the nonce, so a token for one kind never answers
another. Anything that looks like a token of the kind but is not a well-formed one is reported,
so a mangled token is refused, not ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import cached_property


@dataclass(frozen=True)
class TokenKind:
    """The tokens of one kind of request, e.g. TokenKind("screen")."""

    word: str

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(rf"\[{self.word}:([0-9a-f]{{16}})\.([0-9a-f]{{20}})\]", re.IGNORECASE)

    @cached_property
    def lookalike(self) -> re.Pattern[str]:
        # Something that looks like a token, valid or not: a mangled one is refused, not ignored.
        return re.compile(rf"\[{self.word}:[^\]\s]{{0,80}}\]", re.IGNORECASE)

    def _signature(self, key: bytes, nonce: str) -> str:
        return hmac.new(key, f"{self.word}:{nonce}".encode(), hashlib.sha256).hexdigest()[:20]

    def token_for(self, key: bytes, nonce: str) -> str:
        """The text a reply must carry: the nonce and its HMAC, in brackets."""
        return f"[{self.word}:{nonce}.{self._signature(key, nonce)}]"

    def is_valid(self, key: bytes, nonce: str, signature: str) -> bool:
        return hmac.compare_digest(signature.lower(), self._signature(key, nonce.lower()))

    def read(self, text: str) -> tuple[tuple[tuple[str, str], ...], bool]:
        """The well-formed tokens in the text as (nonce, signature), lower case and each once,
        and whether it also carries something token-like that is not well formed."""
        found = self.pattern.findall(text)
        tokens = tuple(dict.fromkeys((n.lower(), s.lower()) for n, s in found))
        return tokens, len(self.lookalike.findall(text)) > len(found)


# A Service Manager's screening request (R9).
SCREENING = TokenKind("screen")
# The meeting's decisions workbook sent to the administrator (R13).
DECISIONS = TokenKind("decisions")
# The 12-week follow-up asked of a Lead Professional (R14).
FOLLOW_UP = TokenKind("follow-up")


def token_for(key: bytes, nonce: str) -> str:
    """A screening token (the kind most callers mean)."""
    return SCREENING.token_for(key, nonce)


def token_is_valid(key: bytes, nonce: str, signature: str) -> bool:
    return SCREENING.is_valid(key, nonce, signature)


def read_tokens(text: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    return SCREENING.read(text)
