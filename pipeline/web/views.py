"""Small read helpers the pages share: an email's sender and subject, a value as text."""

from __future__ import annotations

from typing import Any

from pipeline.app import App
from pipeline.mime.headers import HEADLINE_BYTES, headline

PURGED_TEXT = "(deleted after the retention period)"


def email_headline(app: App, raw_path: str) -> tuple[str, str]:
    """Who an email says it is from and its subject, reading only the start of its file."""
    if not raw_path:
        return PURGED_TEXT, ""
    try:
        with app.files.absolute(raw_path).open("rb") as handle:
            return headline(handle.read(HEADLINE_BYTES))
    except FileNotFoundError:
        return "(its stored file is missing: restore it from a backup)", ""


def shown(value: Any) -> str:
    """A value read from a document, as a person reads it."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list | tuple):
        return "; ".join(shown(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {shown(v)}" for k, v in value.items() if v not in (None, ""))
    return (
        str(value).replace("_", " ")
        if isinstance(value, str) and value.isidentifier()
        else str(value)
    )
