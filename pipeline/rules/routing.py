"""R1: which of the installation's panels a referral goes to, from the panel or locality its
form names."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline.config import PanelConfig


def route_panel(panels: Sequence[PanelConfig], named: str | None) -> PanelConfig:
    """The panel whose id, name or locality the form `named` (the most specific match), else
    the first panel."""
    wanted = " ".join((named or "").lower().split())
    best: tuple[int, PanelConfig] | None = None
    for panel in panels:
        for candidate in (panel.id, panel.name.lower(), (panel.locality or "").lower()):
            # A name of one or two letters would match inside any longer text; it must be exact.
            matches = candidate == wanted or (len(candidate) > 2 and candidate in wanted)
            if candidate and matches and (best is None or len(candidate) > best[0]):
                best = (len(candidate), panel)
    return best[1] if best else panels[0]
