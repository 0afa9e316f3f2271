"""Screening tokens: what a manager's reply must carry, and what in a reply reads as one."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.mime.tokens import read_tokens, token_for, token_is_valid

KEY = b"k" * 32
NONCES = st.text("0123456789abcdef", min_size=16, max_size=16)


@given(st.binary(min_size=16, max_size=64), NONCES)
def test_a_token_reads_back_and_is_valid_for_its_key_only(key: bytes, nonce: str) -> None:
    tokens, malformed = read_tokens(f"Re: Referral {token_for(key, nonce).upper()} please")
    assert not malformed
    assert len(tokens) == 1 and tokens[0][0] == nonce
    assert token_is_valid(key, *tokens[0])
    assert not token_is_valid(key + b"x", *tokens[0])


def test_the_same_token_twice_is_one_claim() -> None:
    token = token_for(KEY, "0123456789abcdef")
    tokens, malformed = read_tokens(f"{token}\n> {token}")
    assert len(tokens) == 1 and not malformed


def test_a_mangled_token_is_reported_not_ignored() -> None:
    token = token_for(KEY, "0123456789abcdef")
    assert read_tokens(f"{token[:-3]}]") == ((), True)
    assert read_tokens(f"{token} and [screen:nonsense]")[1]
    assert read_tokens("no token here") == ((), False)
