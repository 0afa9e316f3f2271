"""R5: our signed Message-IDs prove which case a reply belongs to, and cannot be forged."""

from __future__ import annotations

from pipeline.mime.threading import Signer, references_in_subject, references_in_thread

SIGNER = Signer(b"k" * 32, "example.org")


def test_round_trip_and_forgery() -> None:
    message_id = SIGNER.new_message_id("MASP-2026-0007")
    assert SIGNER.reference_from_id(f"<{message_id}>") == "MASP-2026-0007"
    forged = message_id.replace("MASP-2026-0007", "MASP-2026-0008")
    assert SIGNER.reference_from_id(forged) is None
    other_key = Signer(b"x" * 32, "example.org")
    assert other_key.reference_from_id(message_id) is None


def test_thread_prefers_the_newest_reference() -> None:
    older = SIGNER.new_message_id("MASP-2026-0001")
    newer = SIGNER.new_message_id("MASP-2026-0002")
    assert references_in_thread(SIGNER, [older, "someone@else", newer]) == [
        "MASP-2026-0002",
        "MASP-2026-0001",
    ]


def test_subject_references() -> None:
    assert references_in_subject("RE: masp-2026-0012 chronology (was MASG-2026-0003)") == [
        "MASP-2026-0012",
        "MASG-2026-0003",
    ]
    assert references_in_subject("Referral for panel") == []
