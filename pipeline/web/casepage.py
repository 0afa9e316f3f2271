"""One case: its facts, emails and documents in order, what was read from each, its audit trail."""

from __future__ import annotations

from pipeline.web.guard import Pages

pages = Pages()
