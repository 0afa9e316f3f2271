"""How the service's log lines look: plain text, or one JSON object a line (`logging.format`).

Either way they go to standard error, which systemd hands to journald.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from pipeline.errors import PipelineError

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _reference(record: logging.LogRecord) -> str | None:
    """The case a line is about: given as `extra={"reference": …}`, or carried by one of our
    errors that the line logs."""
    given = getattr(record, "reference", None)
    if isinstance(given, str) and given:
        return given
    errors: list[Any] = list(record.args) if isinstance(record.args, tuple) else []
    if record.exc_info and record.exc_info[1] is not None:
        errors.append(record.exc_info[1])
    for value in errors:
        if isinstance(value, PipelineError) and value.reference:
            return value.reference
    return None


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC), level, logger, message, and the case reference when
    the line is about a case, so a log collector can pick out one case's story."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        reference = _reference(record)
        if reference:
            entry["reference"] = reference
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def use_format(kind: str) -> None:
    """Switch every handler on the root logger to `kind` ("text" or "json")."""
    formatter = JsonLines() if kind == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
