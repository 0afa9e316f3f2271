"""R1: a referral goes to the panel its address means (an alias, a plus address), else to the
panel or locality its form names, else to the first panel."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.config import PanelConfig
from pipeline.rules.routing import How, panel_named, panel_of_address, route, route_panel


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


# -- by the address the referral was sent to -------------------------------------------------

INBOX = "panel@example.org"


def with_addresses(panel: PanelConfig, *addresses: str) -> PanelConfig:
    return panel.model_copy(update={"addresses": addresses})


A_NORTH = with_addresses(NORTH, "masg-north@example.org", "north.referrals@example.org")
A_SOUTH = configured("masg-s", "MASG South", "Southtown")
ROUTED = (MASP, A_NORTH, A_SOUTH)


@pytest.mark.parametrize(
    ("addressed", "named", "expected", "how"),
    [
        # An alias decides, whatever the form says or leaves out.
        (["masg-north@example.org"], None, A_NORTH, How.ADDRESS),
        (["North.Referrals@Example.ORG"], "Southtown", A_NORTH, How.ADDRESS),
        # A plus address of the shared inbox names the panel by its id.
        (["panel+masg-s@example.org"], None, A_SOUTH, How.ADDRESS),
        (["PANEL+masg-s@EXAMPLE.org"], "masp", A_SOUTH, How.ADDRESS),
        # The plain inbox, or a plus address naming no panel: the form decides.
        ([INBOX], "Southtown", A_SOUTH, How.FORM),
        (["panel+nobody@example.org"], "Southtown", A_SOUTH, How.FORM),
        # The inbox's name at another domain is not the inbox.
        (["panel+masg-s@elsewhere.example"], None, MASP, How.FIRST),
        ([], None, MASP, How.FIRST),
        ([INBOX, "someone@school.example.org"], "nowhere", MASP, How.FIRST),
        # Envelope first: the first address that means a panel decides.
        (["panel+masg-s@example.org", "masg-north@example.org"], None, A_SOUTH, How.ADDRESS),
    ],
)
def test_the_address_decides_first_then_the_form_then_the_first_panel(
    addressed: list[str], named: str | None, expected: PanelConfig, how: How
) -> None:
    routed = route(ROUTED, INBOX, addressed, named)
    assert (routed.panel, routed.how) == (expected, how)


def test_a_form_naming_another_panel_than_the_address_is_flagged_not_followed() -> None:
    routed = route(ROUTED, INBOX, ["masg-north@example.org"], "Southtown locality")
    assert routed.panel == A_NORTH
    assert routed.form_named == A_SOUTH
    assert routed.note == (
        "routed to panel masg-n by the address it was sent to (masg-north@example.org); "
        "its form names panel masg-s: check which is meant"
    )
    # The form agreeing with the address, or naming nothing it knows, is nothing to check.
    assert route(ROUTED, INBOX, ["masg-north@example.org"], "Northtown").note is None
    assert route(ROUTED, INBOX, ["masg-north@example.org"], "Mars").note is None
    assert route(ROUTED, INBOX, [INBOX], "Southtown").note is None


ADDRESSES = st.sampled_from(
    [
        INBOX,
        "masg-north@example.org",
        "north.referrals@example.org",
        "panel+masg-s@example.org",
        "panel+masp@example.org",
        "panel+nobody@example.org",
        "someone@school.example.org",
        "panel@elsewhere.example",
    ]
)
NAMES = st.one_of(st.none(), st.sampled_from(["Northtown", "Southtown", "masp", "Mars", ""]))


@given(st.lists(ADDRESSES, max_size=5), NAMES)
def test_routing_is_the_first_panel_address_else_the_form(
    addressed: list[str], named: str | None
) -> None:
    routed = route(ROUTED, INBOX, addressed, named)
    meant = [p for a in addressed if (p := panel_of_address(ROUTED, INBOX, a)) is not None]
    if meant:
        assert routed.panel == meant[0] and routed.how is How.ADDRESS
        assert (routed.note is not None) == (panel_named(ROUTED, named) not in (None, routed.panel))
    else:
        assert routed.panel == route_panel(ROUTED, named) and routed.note is None
    # Upper case, or spaces around an address, change nothing.
    assert route(ROUTED, INBOX, [f" {a.upper()} " for a in addressed], named) == routed


@given(st.sampled_from(ROUTED), st.lists(ADDRESSES, max_size=3), NAMES)
def test_a_plus_address_in_front_always_wins(
    panel: PanelConfig, others: list[str], named: str | None
) -> None:
    routed = route(ROUTED, INBOX, [f"panel+{panel.id}@example.org", *others], named)
    assert routed.panel == panel
