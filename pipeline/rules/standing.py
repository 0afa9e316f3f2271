"""R5 rules about people: who may add to a case by quoting its reference, and whom a referral
sent in by someone else is answered to. Pure functions of addresses and settings."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pipeline.mime.addresses import is_machine_address, normalise
from pipeline.rules.recipients import domain_of

# Mail services anyone can sign up to, and address spaces shared by many organisations
# (NHSmail is one domain for the whole NHS in England): two people sharing one of these
# domains need not work together, so it never vouches for anyone. `intake.shared_mail_domains`
# adds to this list.
SHARED_MAIL_DOMAINS = frozenset(
    {
        "aol.com",
        "btinternet.com",
        "fastmail.com",
        "gmail.com",
        "gmx.co.uk",
        "gmx.com",
        "googlemail.com",
        "hotmail.co.uk",
        "hotmail.com",
        "icloud.com",
        "live.co.uk",
        "live.com",
        "mac.com",
        "mail.com",
        "me.com",
        "msn.com",
        "nhs.net",
        "ntlworld.com",
        "outlook.com",
        "proton.me",
        "protonmail.com",
        "sky.com",
        "talktalk.net",
        "tutanota.com",
        "virginmedia.com",
        "yahoo.co.uk",
        "yahoo.com",
        "yandex.com",
        "zoho.com",
    }
)


@dataclass(frozen=True)
class ReferencePolicy:
    """How far a quoted case reference is trusted (`intake` in config.yaml)."""

    by_domain: bool
    shared_domains: frozenset[str]


def may_quote_reference(
    senders: Iterable[str],
    referrer: str,
    others: Iterable[str | None],
    policy: ReferencePolicy,
) -> bool:
    """Whether an email that quotes a case's reference may add to that case.

    Every address it came from or asks answers to (From and Reply-To) must be the case's
    referrer or one of `others` (its forwarder, the From of a first email that asked answers
    to a Reply-To): an answer goes to Reply-To, so a stranger's Reply-To beside the
    referrer's From would read the case. With `by_domain`, the referrer's own organisation
    domain counts too, never a shared mail service's.
    """
    known = {referrer.lower(), *((o or "").lower() for o in others)} - {""}
    organisation = domain_of(referrer)
    vouched = policy.by_domain and organisation not in policy.shared_domains
    addresses = {s.lower() for s in senders if s}
    if not addresses:
        return False
    return all(a in known or (vouched and domain_of(a) == organisation) for a in addresses)


@dataclass(frozen=True)
class NamedReferrer:
    """What to do with the referrer a form names when someone else sent it in."""

    # The address to answer, or None to keep answering the sender.
    address: str | None
    # Why the sender is still answered, for the case's flags; empty when there is nothing to say.
    note: str = ""


NOT_ALLOWED = (
    "the form names a referrer whose address is not an allowed recipient: "
    "answers go to the sender; check the referrer's address"
)
UNUSABLE = (
    "the form names a referrer address we cannot write to (mistyped, a no-reply or system "
    "address, or the panel's own): answers go to the sender; check the referrer's address"
)


def named_referrer(
    form_address: str | None, sender: str, allowed: bool, own_address: str
) -> NamedReferrer:
    """R5: a referral sent by someone other than the referrer named on its form is answered
    to that referrer (the sender in copy), if we may write to them.

    Only an address that is well formed (`normalise`), read by a person (not a mail-system or
    no-reply one) and not the panel's own is adopted: adopting a mistyped one would leave the
    real sender, a duty desk, hearing nothing, and every later email from them held.
    """
    written = (form_address or "").strip()
    named = normalise(written)
    if not written or (named or written.lower()) == sender.lower():
        return NamedReferrer(None)
    if named is None or is_machine_address(named) or named == normalise(own_address):
        return NamedReferrer(None, UNUSABLE)
    if not allowed:
        return NamedReferrer(None, NOT_ALLOWED)
    return NamedReferrer(named)
