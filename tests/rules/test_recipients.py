"""SPEC §7: whom we may send to — a configured person, or anyone at an allowed domain."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.rules.recipients import domain_of, is_allowed_recipient

CONFIGURED = frozenset({"chair@panel.example.org", "admin@panel.example.org"})
DOMAINS = ("School.Example.org", "council.example.gov.uk")
LOCALS = st.from_regex(r"[a-z][a-z0-9.]{0,10}[a-z0-9]", fullmatch=True)
HOSTS = st.from_regex(r"[a-z]{2,8}\.(org|com|net)", fullmatch=True)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("chair@panel.example.org", True),
        ("Chair@Panel.Example.org", True),
        ("jo@school.example.org", True),
        ("JO@SCHOOL.EXAMPLE.ORG", True),
        ("jo@council.example.gov.uk", True),
        # Someone else at the panel's domain is not a configured person.
        ("stranger@panel.example.org", False),
        # Neither a subdomain nor a look-alike of an allowed domain is that domain.
        ("jo@evil.school.example.org", False),
        ("jo@school.example.org.evil.com", False),
        ("", False),
    ],
)
def test_a_recipient_is_a_configured_person_or_at_an_allowed_domain(
    address: str, allowed: bool
) -> None:
    assert is_allowed_recipient(address, CONFIGURED, DOMAINS) is allowed


def test_the_domain_is_what_follows_the_last_at() -> None:
    assert domain_of('"a@b"@School.Example.ORG') == "school.example.org"
    assert domain_of("no-at-sign") == "no-at-sign"


@given(LOCALS, HOSTS)
def test_anyone_at_an_allowed_domain_may_be_written_to_in_any_case(local: str, host: str) -> None:
    address = f"{local}@{host}"
    assert is_allowed_recipient(address.upper(), frozenset(), [host.title()])
    assert is_allowed_recipient(address, frozenset({address}), ())


@given(LOCALS, HOSTS, st.lists(HOSTS, max_size=3))
def test_nobody_else_may(local: str, host: str, domains: list[str]) -> None:
    configured = frozenset(f"{local}x@{d}" for d in domains)
    expected = host in domains
    assert is_allowed_recipient(f"{local}@{host}", configured, domains) is expected
