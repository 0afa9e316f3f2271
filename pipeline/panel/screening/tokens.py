"""Screening tokens: a request's random nonce signed with the installation key, in brackets.

A manager's reply must carry the token of the request it answers; anything that looks like a
token but is not a well-formed one is reported, so a mangled token is refused, not ignored.
"""

from __future__ import annotations

import hashlib
import hmac
import re

TOKEN = re.compile(r"\[screen:([0-9a-f]{16})\.([0-9a-f]{20})\]", re.IGNORECASE)
# Something that looks like a token, valid or not: a mangled one is refused, not ignored.
TOKEN_LIKE = re.compile(r"\[screen:[^\]\s]{0,80}\]", re.IGNORECASE)


def _signature(key: bytes, nonce: str) -> str:
    return hmac.new(key, f"screen:{nonce}".encode(), hashlib.sha256).hexdigest()[:20]


def token_for(key: bytes, nonce: str) -> str:
    """The text a manager's reply must carry: the nonce and its HMAC, in brackets."""
    return f"[screen:{nonce}.{_signature(key, nonce)}]"


def token_is_valid(key: bytes, nonce: str, signature: str) -> bool:
    return hmac.compare_digest(signature.lower(), _signature(key, nonce.lower()))


def read_tokens(text: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    """The well-formed tokens in the text as (nonce, signature), lower case and each once, and
    whether it also carries something token-like that is not well formed."""
    found = TOKEN.findall(text)
    tokens = tuple(dict.fromkeys((n.lower(), s.lower()) for n, s in found))
    return tokens, len(TOKEN_LIKE.findall(text)) > len(found)
