"""Mail the administrator looks after: quarantined emails (replay) and held cases (release)."""

from __future__ import annotations

from pipeline.web.guard import Pages

pages = Pages()
