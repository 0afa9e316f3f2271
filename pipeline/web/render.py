"""Pages are Jinja2 templates under `templates/`, escaped everywhere and strict about names."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from pipeline.rules.identifiers import initials

# The GOV.UK tag colour of each case state (`state_tag` in templates/_macros.html).
STATE_COLOURS = {
    "incomplete": "yellow",
    "complete": "blue",
    "screening": "purple",
    "more_info": "orange",
    "approved": "green",
    "declined": "grey",
    "held": "red",
    "decided": "turquoise",
    "closed": "grey",
}


@dataclass(frozen=True)
class NavItem:
    """One link in the service navigation, shown to the roles that may open it."""

    label: str
    path: str
    roles: frozenset[str]


def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("pipeline.web", "templates"),
        # Every value is escaped, in every template: senders write names, subjects and files.
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["state_colours"] = STATE_COLOURS
    env.filters["initials"] = initials
    env.filters["when"] = _when
    env.filters["day"] = _day
    return env


def _when(value: datetime | None, tz: Any) -> str:
    """'Tue 8 Dec 2026, 10:00' in the panel's time zone."""
    if value is None:
        return "—"
    local = value.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b %Y, %H:%M}"


def _day(value: datetime | None, tz: Any) -> str:
    if value is None:
        return "—"
    local = value.astimezone(tz)
    return f"{local:%A} {local.day} {local:%B %Y}"
