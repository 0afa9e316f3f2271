"""R5: which case an email belongs to — our own signed Message-IDs, then a reference in the subject.

Every email we send carries a Message-ID of the form
`<masp.REFERENCE.NONCE.SIGNATURE@domain>`. The signature is an HMAC of the reference and
nonce with the installation's secret, so a reply's In-Reply-To/References proves which case
it answers, and nobody can forge one for another case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

_OUR_ID = re.compile(
    r"^masp\.([A-Z][A-Z0-9]{1,9}-\d{4}-\d{4,6}|none)\.([0-9a-f]{8})\.([0-9a-f]{16})@"
)
REFERENCE_IN_TEXT = re.compile(r"\b([A-Z][A-Z0-9]{1,9}-20\d\d-\d{4,6})\b")


@dataclass(frozen=True)
class Signer:
    """Makes and checks our signed Message-IDs with one installation secret."""

    key: bytes
    domain: str

    def _signature(self, reference: str, nonce: str) -> str:
        digest = hmac.new(self.key, f"{reference}.{nonce}".encode(), hashlib.sha256)
        return digest.hexdigest()[:16]

    def new_message_id(self, reference: str | None) -> str:
        """A fresh Message-ID (without angle brackets) carrying `reference`, signed."""
        ref = reference or "none"
        nonce = secrets.token_hex(4)
        return f"masp.{ref}.{nonce}.{self._signature(ref, nonce)}@{self.domain}"

    def reference_from_id(self, message_id: str) -> str | None:
        """The case reference a Message-ID of ours carries, or None if it is not ours or forged."""
        match = _OUR_ID.match(message_id.strip("<> "))
        if match is None:
            return None
        reference, nonce, signature = match.groups()
        if not hmac.compare_digest(signature, self._signature(reference, nonce)):
            return None
        return None if reference == "none" else reference

    def is_ours(self, message_id: str) -> bool:
        match = _OUR_ID.match(message_id.strip("<> "))
        return match is not None and hmac.compare_digest(
            match.group(3), self._signature(match.group(1), match.group(2))
        )


def references_in_thread(signer: Signer, ids: Iterable[str]) -> list[str]:
    """Case references proven by our signed ids among In-Reply-To/References, newest first."""
    found: list[str] = []
    for message_id in reversed(list(ids)):
        reference = signer.reference_from_id(message_id)
        if reference and reference not in found:
            found.append(reference)
    return found


def references_in_subject(subject: str) -> list[str]:
    """Case references written in a subject line, in order of appearance."""
    return list(dict.fromkeys(REFERENCE_IN_TEXT.findall(subject.upper())))
