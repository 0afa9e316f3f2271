"""Every email in the golden corpus parses to its hand-written expectation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pipeline.intake.loops import detect_automatic
from pipeline.mime.message import ParsedEmail, parse_email
from tests.helpers import DATA

CORPUS = DATA / "emails"
EMAILS = sorted(CORPUS.glob("*.eml"))


def _actual(parsed: ParsedEmail, expected: dict[str, Any]) -> dict[str, Any]:
    """The parse in the expectation's shape; optional keys are compared only when present."""
    automatic = detect_automatic(parsed.headers, parsed.from_address)
    actual: dict[str, Any] = {
        "message_id": parsed.message_id,
        "from_address": parsed.from_address,
        "from_name": parsed.from_name,
        "subject": parsed.subject,
        "attachments": [
            {
                "filename": a.filename,
                "declared_type": a.declared_type,
                "origin": a.origin,
                "size": len(a.data),
            }
            for a in parsed.attachments
        ],
        "automatic": automatic.category if automatic else None,
        "problems": len(parsed.problems),
    }
    if "in_reply_to" in expected:
        actual["in_reply_to"] = list(parsed.in_reply_to)
    if "references" in expected:
        actual["references"] = list(parsed.references)
    if "body_contains" in expected:
        actual["body_contains"] = [
            text for text in expected["body_contains"] if text in parsed.body_text
        ]
    if "body_excludes" in expected:
        actual["body_excludes"] = [
            text for text in expected["body_excludes"] if text not in parsed.body_text
        ]
    return actual


def test_corpus_is_complete() -> None:
    assert len(EMAILS) >= 20
    for path in EMAILS:
        assert path.with_suffix(".expected.json").exists(), f"{path.name} has no expected JSON"
        assert path.stat().st_size < 50_000, f"{path.name} is too big for the corpus"


@pytest.mark.parametrize("path", EMAILS, ids=[path.stem for path in EMAILS])
def test_corpus_email(path: Path) -> None:
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    parsed = parse_email(path.read_bytes())
    assert _actual(parsed, expected) == expected, parsed.problems
