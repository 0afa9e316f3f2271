"""R1: a referral goes to the panel or locality its form names, else to the first panel."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import PanelConfig
from pipeline.rules.routing import route_panel


def configured(panel_id: str, name: str, locality: str | None = None) -> PanelConfig:
    meetings = {"rrule": "FREQ=MONTHLY;BYDAY=+2TU", "time": "10:00"}
    return PanelConfig.model_validate(
        {"id": panel_id, "name": name, "locality": locality, "meetings": meetings}
    )


MASP = configured("masp", "MASP")
NORTH = configured("masg-n", "MASG", "Northtown")
NORTH_EAST = configured("masg-ne", "MASG North East", "Northtown East")
SHORT = configured("ab", "AB panel")
PANELS = (MASP, NORTH, NORTH_EAST, SHORT)


@pytest.mark.parametrize(
    ("named", "expected"),
    [
        (None, MASP),
        ("", MASP),
        ("somewhere else", MASP),
        ("masg-n", NORTH),
        ("  NORTHTOWN  ", NORTH),
        ("the Northtown locality", NORTH),
        # The most specific name wins: Northtown East is inside Northtown's area name too.
        ("Northtown   East", NORTH_EAST),
        ("masg north east", NORTH_EAST),
        # A name of two letters counts only when it is all the form says.
        ("ab", SHORT),
        ("a bank in abingdon", MASP),
    ],
)
def test_the_form_names_the_panel(named: str | None, expected: PanelConfig) -> None:
    assert route_panel(PANELS, named) == expected


@given(st.text(alphabet=st.characters(max_codepoint=127), max_size=30))
def test_any_text_routes_to_a_configured_panel_whatever_its_case_and_spacing(named: str) -> None:
    found = route_panel(PANELS, named)
    assert found in PANELS
    assert route_panel(PANELS, f"  {named.upper()}\t") == found


@given(st.sampled_from(PANELS))
def test_a_panel_named_by_its_id_alone_is_that_panel(panel: PanelConfig) -> None:
    assert route_panel(PANELS, panel.id) == panel
