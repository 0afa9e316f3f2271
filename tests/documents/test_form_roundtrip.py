"""Round trip: whatever code writes into our form is read back exactly, field by field."""

from __future__ import annotations

from datetime import date
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from pipeline.documents.form import REASONS, REQUEST_TYPES, fill_form
from pipeline.documents.read import read_document
from pipeline.documents.results import ReadLimits

# Names as families have them: apostrophes, hyphens, accents, several words.
_LETTERS = st.sampled_from(list("abcdefghijklmnopqrstuvwxyzéèëïôüçñøå"))
_WORD = st.builds(
    lambda first, rest: first.upper() + "".join(rest), _LETTERS, st.lists(_LETTERS, max_size=8)
)
_JOINED = st.builds(
    lambda a, sep, b: f"{a}{sep}{b}", _WORD, st.sampled_from(["-", "'", "’"]), _WORD
)
NAMES = st.builds(lambda parts: " ".join(parts), st.lists(_WORD | _JOINED, min_size=2, max_size=3))
DATES = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31))
_SENTENCE = st.lists(_WORD, min_size=1, max_size=8).map(" ".join)
TEXTS = st.lists(_SENTENCE, min_size=1, max_size=3).map("\n".join)
ANSWERS = st.sampled_from([True, False, None])


def _subset(draw: st.DrawFn, keys: dict[str, str]) -> list[str]:
    chosen = draw(st.sets(st.sampled_from(list(keys))))
    return [key for key in keys if key in chosen]


@st.composite
def forms(draw: st.DrawFn) -> dict[str, Any]:
    """Values for our form, each key as `fill_form` takes it."""
    values: dict[str, Any] = {
        "child_name": draw(NAMES),
        "child_dob": draw(DATES).strftime("%d/%m/%Y"),
        "referrer_name": draw(NAMES),
        "referrer_email": "sam.o'neill-ávila@council.example",
        # Listed in the form's own order, the order they are read back in.
        "request_types": _subset(draw, REQUEST_TYPES),
        "reasons": _subset(draw, REASONS),
        "panel_question": draw(TEXTS),
        "risks": draw(TEXTS),
        "child_school": draw(_SENTENCE),
        "household_1_name": draw(NAMES),
        "household_1_relationship": draw(_WORD),
        "household_1_parental_responsibility": draw(st.sampled_from(["Yes", "No"])),
    }
    for key in ("consent", "genogram_required", "family_informed"):
        if (answer := draw(ANSWERS)) is not None:
            values[key] = answer
    return values


def _expected(values: dict[str, Any]) -> dict[str, Any]:
    expected = {
        key: value for key, value in values.items() if not key.startswith("household_") and value
    }
    expected["child_dob"] = date_of(values["child_dob"]).isoformat()
    expected["referrer_email"] = values["referrer_email"].split("’")[0]
    expected["household"] = [
        {
            "name": values["household_1_name"],
            "relationship": values["household_1_relationship"],
            "parental_responsibility": values["household_1_parental_responsibility"] == "Yes",
            "do_not_disclose": None,
        }
    ]
    return expected


def date_of(text: str) -> date:
    day, month, year = map(int, text.split("/"))
    return date(year, month, day)


def _with(**changes: Any) -> dict[str, Any]:
    """A plain filled form with `changes`, for examples hypothesis once found."""
    values: dict[str, Any] = {
        "child_name": "A A",
        "child_dob": "01/01/2000",
        "referrer_name": "A A",
        "referrer_email": "sam.o'neill-ávila@council.example",
        "request_types": [],
        "reasons": [],
        "panel_question": "A",
        "risks": "A",
        "child_school": "A",
        "household_1_name": "A A",
        "household_1_relationship": "A",
        "household_1_parental_responsibility": "Yes",
        "consent": True,
        "genogram_required": True,
        "family_informed": True,
    }
    return values | changes


@settings(max_examples=60, deadline=None)
@given(values=forms())
# A free-text answer that is a lone mark is text, not a ticked box: the tag names the field.
@example(values=_with(risks="X"))
@example(values=_with(panel_question="✓", child_school="x", household_1_relationship="☒"))
def test_what_code_writes_is_read_back_exactly(values: dict[str, Any]) -> None:
    result = read_document("referral.docx", fill_form(values), ReadLimits())
    found = {key: item["value"] for key, item in result.fields.items() if isinstance(item, dict)}
    for key, value in _expected(values).items():
        assert found.get(key) == value, key
    assert {item["source"] for item in result.fields.values() if isinstance(item, dict)} == {
        "content-control"
    }
    facts = result.facts
    assert facts is not None and facts.child_dob == date_of(values["child_dob"])
    assert facts.section20 == ("section20" in values["request_types"])
