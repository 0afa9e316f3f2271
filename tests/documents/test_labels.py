"""Which field a form's label names, however it is written, and what its answers say."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.documents.labels import (
    clean,
    email,
    field_for,
    field_name,
    label_field,
    normalise_label,
    normalise_lines,
    requested,
    section_of,
    tick_line,
    written,
    yes_no,
)
from pipeline.documents.vocabulary import CHILD, FIELD_LABELS, FIRST_LABELS, REFERRER

# Every synonym in the tables, with its field and a section where it counts ("" is outside
# every section: a row that counts anywhere counts there).
SYNONYMS = [
    (key, synonym, section)
    for key, synonyms, where in (*FIRST_LABELS, *FIELD_LABELS)
    for synonym in synonyms
    for section in (sorted(where) if where is not None else [""])
]

# Words no form uses for a field.
UNRELATED = (
    *("weather", "bicycle", "purple", "kitchen", "tuesday", "umbrella", "orchestra"),
    *("lighthouse", "volcano", "marmalade", "saxophone", "zebra", "quartz", "pebble"),
)


@pytest.mark.parametrize(("key", "synonym", "section"), SYNONYMS)
def test_every_synonym_names_its_own_field(key: str, synonym: str, section: str) -> None:
    assert field_for(normalise_label(synonym), section) == key


@st.composite
def written_like_a_person(draw: st.DrawFn, synonym: str) -> str:
    """A synonym as a form might print it: any case, any spacing, a colon or a star after."""
    words = [
        "".join(c.upper() if draw(st.booleans()) else c for c in word) for word in synonym.split()
    ]
    spaces = [draw(st.sampled_from([" ", "  ", "\t", " \u00a0"])) for _ in words[1:]]
    text = words[0] + "".join(space + word for space, word in zip(spaces, words[1:], strict=True))
    before = draw(st.sampled_from(["", " ", "  "]))
    after = draw(st.sampled_from(["", ":", " :", "*", " *:", "?", ": ", "\t"]))
    return before + text + after


@given(
    st.sampled_from(SYNONYMS).flatmap(
        lambda row: st.tuples(st.just(row), written_like_a_person(row[1]))
    )
)
def test_case_spacing_and_punctuation_do_not_change_the_field(
    found: tuple[tuple[str, str, str], str],
) -> None:
    (key, _, section), written = found
    assert field_for(normalise_label(written), section) == key


@pytest.mark.parametrize(
    ("label", "key"),
    [
        ("Child's name:", "child_name"),
        ("CHILD’S NAME", "child_name"),
        ("D.O.B.", "child_dob"),
        ("Date of birth / EDD", "child_dob"),
        ("Forename(s)", "forename"),
        ("Referrer's e-mail address", "referrer_email"),
        ("Name of person completing this form", "referrer_name"),
        ("Has consent been given?", "consent"),
        ("Is a genogram required?", "genogram_required"),
        ("Type of request", "request"),
    ],
)
def test_labels_as_councils_print_them(label: str, key: str) -> None:
    assert label_field(label) == key


@given(
    st.lists(st.sampled_from(UNRELATED), min_size=1, max_size=6),
    st.sampled_from(["", ":", "?"]),
    st.sampled_from(["", CHILD, REFERRER]),
)
def test_unrelated_words_name_no_field(words: list[str], after: str, section: str) -> None:
    assert field_for(normalise_label(" ".join(words) + after), section) is None


@pytest.mark.parametrize("label", ["", "   ", ":", "***", "Please describe " + "at length " * 10])
def test_empty_or_long_labels_name_no_field(label: str) -> None:
    assert label_field(label) is None


def test_a_generic_label_means_what_its_section_says() -> None:
    assert field_for("name", CHILD) == "child_name"
    assert field_for("name", REFERRER) == "referrer_name"
    assert field_for("name", "") is None
    assert field_for("email", REFERRER) == "referrer_email"
    assert field_for("email", CHILD) is None


def test_the_childs_details_are_never_the_referrers() -> None:
    assert field_for("date of birth", CHILD) == "child_dob"
    assert field_for("date of birth", REFERRER) is None
    assert field_for("school", CHILD) == "child_school"
    assert field_for("school", REFERRER) is None
    # A label that starts like a name but names something else is no one's name.
    assert field_for(normalise_label("Name of school"), CHILD) is None
    assert field_for(normalise_label("Name of referrer"), CHILD) == "referrer_name"


def test_headings_start_sections() -> None:
    assert section_of("Section 2: Details of the referrer", CHILD) == REFERRER
    assert section_of("About the child or young person", "") == CHILD
    # A numbered heading about something else leaves every section.
    assert section_of("3. Education", CHILD) == ""
    # A heading that names no part keeps the current one.
    assert section_of("Further details", CHILD) == CHILD


@given(st.lists(st.text(max_size=40), max_size=8))
def test_lines_normalise_together_as_one_by_one(lines: list[str]) -> None:
    assert normalise_lines(lines) == [normalise_label(line) for line in lines]


@given(st.text(max_size=60))
def test_normalising_twice_changes_nothing(text: str) -> None:
    once = normalise_label(text)
    assert normalise_label(once) == once


@pytest.mark.parametrize(
    ("answer", "meaning"),
    [
        ("Yes", True),
        ("no - family declined", False),
        ("☒ Yes ☐ No", True),
        ("Yes ☐ No ☒", False),
        ("Yes / No", None),
        ("N/A", None),
        ("Not known", None),
        ("", None),
    ],
)
def test_yes_no_answers(answer: str, meaning: bool | None) -> None:
    assert yes_no(answer) is meaning


def test_ticked_boxes_and_their_question() -> None:
    question, boxes = tick_line("Is a genogram required? ☐ Yes ☒ No")
    assert question == "Is a genogram required?"
    assert boxes == [("Yes", False), ("No", True)]
    assert requested("☒ Section 20 admission ☐ Advice") == {"section20"}
    assert requested("Advice; step down") == {"advice", "step_down"}


def test_typed_answers_are_tidied() -> None:
    assert clean("  Noa   Fakeley :") == "Noa Fakeley"
    assert clean("Click or tap here to enter text.") is None
    assert clean("☐") is None
    # A lone mark is what was written in a field that takes text; only `clean`, for a cell
    # that may be a tick box, drops it.
    assert [written(mark) for mark in ("X", "x", "✓", "☒", "[x]")] == ["X", "x", "✓", "☒", "[x]"]
    assert [clean(mark) for mark in ("X", "✓", "☒")] == [None, None, None]
    assert written("☐") is None and written("[ ]") is None
    assert email("Contact: A.Person@School.Example.org (work)") == "a.person@school.example.org"


def test_form_designers_field_names() -> None:
    assert field_name("Child.DateOfBirth") == ("child", "Date Of Birth")
    assert field_name("txtRefEmail") == ("", "Ref Email")
    assert field_name("Child's name") == ("", "Child's name")
    assert label_field(field_name("Child.DateOfBirth")[1]) == "child_dob"
