"""SPEC §7: whom we may send email to — the people configured, and addresses at allowed domains."""

from __future__ import annotations

from collections.abc import Collection


def domain_of(address: str) -> str:
    """The part of an address after its last '@', in lower case."""
    return address.rpartition("@")[2].lower()


def is_allowed_recipient(
    address: str, configured: Collection[str], domains: Collection[str]
) -> bool:
    """Whether `address` is one of `configured` (lower case: the people in the configuration,
    and whoever else the caller trusts) or at one of the allowed recipient `domains`."""
    lowered = address.lower()
    return lowered in configured or domain_of(lowered) in {d.lower() for d in domains}
