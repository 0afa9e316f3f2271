"""R1: which of the installation's panels a new referral goes to.

One shared mailbox serves every panel. The address the email was sent to decides first: a
panel's own alias (`panels[].addresses`, e.g. masg-north@example.org) or a plus address of the
mailbox (panel+masg-north@example.org). Then the panel or locality its form names. Else the
first panel.

When the address names a panel and the form names another, the address wins: the referrer
chose that address (or a council's mail rules did), while the form's "panel/locality" box is
often left as the template had it. The case is flagged so that the administrator checks it. The
form decides only when the email came to the plain shared inbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from pipeline.config import PanelConfig

# How the flag asking which panel is meant begins.
ROUTING_NOTE = "routed to panel "


class How(StrEnum):
    """What decided a referral's panel."""

    ADDRESS = "address"
    FORM = "form"
    FIRST = "first"


@dataclass(frozen=True)
class Routed:
    """The panel a referral goes to, what decided it, and a different panel its form named
    when the address decided (for the administrator to check)."""

    panel: PanelConfig
    how: How
    address: str | None = None
    form_named: PanelConfig | None = None

    @property
    def note(self) -> str | None:
        """The case's flag when the form and the address disagree, else None."""
        if self.form_named is None:
            return None
        return (
            f"{ROUTING_NOTE}{self.panel.id} by the address it was sent to ({self.address}); "
            f"its form names panel {self.form_named.id}: check which is meant"
        )


def is_routing_note(flag: str) -> bool:
    """Whether a case's flag is the routing question above (answered by moving the case)."""
    return flag.startswith(ROUTING_NOTE)


def panel_named(panels: Sequence[PanelConfig], named: str | None) -> PanelConfig | None:
    """The panel whose id, name or locality the form `named` (the most specific match)."""
    wanted = " ".join((named or "").lower().split())
    best: tuple[int, PanelConfig] | None = None
    for panel in panels:
        for candidate in (panel.id, panel.name.lower(), (panel.locality or "").lower()):
            # A name of one or two letters would match inside any longer text; it must be exact.
            matches = candidate == wanted or (len(candidate) > 2 and candidate in wanted)
            if candidate and matches and (best is None or len(candidate) > best[0]):
                best = (len(candidate), panel)
    return best[1] if best else None


def route_panel(panels: Sequence[PanelConfig], named: str | None) -> PanelConfig:
    """The panel whose id, name or locality the form `named`, else the first panel."""
    return panel_named(panels, named) or panels[0]


def panel_of_address(panels: Sequence[PanelConfig], inbox: str, address: str) -> PanelConfig | None:
    """The panel one address means: one of its aliases, or the inbox with `+<panel id>`."""
    wanted = address.strip().lower()
    for panel in panels:
        if wanted in panel.addresses:
            return panel
    local, _, domain = inbox.lower().partition("@")
    name, at, where = wanted.rpartition("@")
    if not at or where != domain or not name.startswith(f"{local}+"):
        return None
    detail = name.removeprefix(f"{local}+")
    return next((p for p in panels if p.id == detail), None)


def route(
    panels: Sequence[PanelConfig], inbox: str, addressed: Sequence[str], named: str | None
) -> Routed:
    """The panel a new referral goes to: by the first of `addressed` (envelope first, then
    To and Cc) that means a panel, else by what its form `named`, else the first panel."""
    on_form = panel_named(panels, named)
    for address in addressed:
        panel = panel_of_address(panels, inbox, address)
        if panel is not None:
            other = on_form if on_form is not None and on_form.id != panel.id else None
            return Routed(panel, How.ADDRESS, address.strip().lower(), other)
    if on_form is not None:
        return Routed(on_form, How.FORM)
    return Routed(panels[0], How.FIRST)
