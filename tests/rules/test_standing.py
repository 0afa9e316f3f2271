"""R5: who may add to a case by quoting its reference, and whom a forwarded referral answers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.rules.standing import (
    NOT_ALLOWED,
    SHARED_MAIL_DOMAINS,
    UNUSABLE,
    NamedReferrer,
    ReferencePolicy,
    may_quote_reference,
    named_referrer,
)

REFERRER = "jo@school.example.org"
FORWARDER = "duty@council.example.org"
STRICT = ReferencePolicy(by_domain=False, shared_domains=SHARED_MAIL_DOMAINS)
BY_DOMAIN = ReferencePolicy(by_domain=True, shared_domains=SHARED_MAIL_DOMAINS)
OWN = "panel@masp.example.org"
ADDRESSES = st.sampled_from(
    [
        REFERRER,
        REFERRER.upper(),
        FORWARDER,
        "colleague@school.example.org",
        "stranger@evil.example.com",
        "someone@gmail.com",
        "",
    ]
)


@pytest.mark.parametrize(
    ("senders", "policy", "may"),
    [
        ([REFERRER], STRICT, True),
        (["Jo@School.Example.org", ""], STRICT, True),
        ([FORWARDER], STRICT, True),
        ([REFERRER, FORWARDER], STRICT, True),
        (["stranger@evil.example.com"], STRICT, False),
        # The answer would go to the stranger's Reply-To: the referrer's From does not vouch.
        ([REFERRER, "stranger@evil.example.com"], STRICT, False),
        (["colleague@school.example.org"], STRICT, False),
        (["colleague@school.example.org"], BY_DOMAIN, True),
        ([], STRICT, False),
        ([""], BY_DOMAIN, False),
    ],
)
def test_who_may_quote_a_reference(senders: list[str], policy: ReferencePolicy, may: bool) -> None:
    assert may_quote_reference(senders, REFERRER, [FORWARDER, None], policy) is may


def test_a_shared_mail_service_never_vouches_for_a_colleague() -> None:
    referrer = "jo.social.worker@nhs.net"
    assert not may_quote_reference(["other@nhs.net"], referrer, [], BY_DOMAIN)
    own = ReferencePolicy(True, frozenset({"school.example.org"}))
    assert not may_quote_reference(["colleague@school.example.org"], REFERRER, [], own)


@given(st.lists(ADDRESSES, max_size=4), ADDRESSES, st.booleans())
def test_another_address_never_gives_standing_it_lacked(
    senders: list[str], extra: str, by_domain: bool
) -> None:
    policy = BY_DOMAIN if by_domain else STRICT
    if may_quote_reference([*senders, extra], REFERRER, [FORWARDER], policy):
        assert may_quote_reference(senders, REFERRER, [FORWARDER], policy) or not any(senders)


@given(st.lists(ADDRESSES, max_size=4))
def test_the_domain_policy_only_widens_standing(senders: list[str]) -> None:
    if may_quote_reference(senders, REFERRER, [FORWARDER], STRICT):
        assert may_quote_reference(senders, REFERRER, [FORWARDER], BY_DOMAIN)


@pytest.mark.parametrize(
    ("written", "allowed", "decision"),
    [
        (None, True, NamedReferrer(None)),
        ("  ", True, NamedReferrer(None)),
        ("Duty@Council.Example.org", True, NamedReferrer(None)),
        (" Jo@School.Example.org ", True, NamedReferrer(REFERRER)),
        (REFERRER, False, NamedReferrer(None, NOT_ALLOWED)),
        ("jo@school", True, NamedReferrer(None, UNUSABLE)),
        ("not an address", True, NamedReferrer(None, UNUSABLE)),
        ("noreply@school.example.org", True, NamedReferrer(None, UNUSABLE)),
        ("Panel@MASP.example.org", True, NamedReferrer(None, UNUSABLE)),
    ],
)
def test_a_forwarded_referral_is_answered_to_the_referrer_its_form_names(
    written: str | None, allowed: bool, decision: NamedReferrer
) -> None:
    assert named_referrer(written, FORWARDER, allowed, OWN) == decision
