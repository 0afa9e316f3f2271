"""The words of other councils' forms (`labels`): tick lines, yes/no answers, questions that ask
for a request, labels run together on a PDF line, and form field names."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.documents import labels

# Each request type as several councils word it on a tick list.
WORDINGS: dict[str, tuple[str, ...]] = {
    "advice": ("Advice and guidance", "Consultation / advice", "Advice or consultation"),
    "lead_professional": ("Identify a lead professional", "Team Around the Family (TAF)"),
    "multi_agency_package": ("Multi-agency support package", "Package of support"),
    "specific_service": ("Access to a specific service", "Specific service (e.g. CAMHS)"),
    "step_down": ("Step-down from Child in Need", "Step down / transition"),
    "threshold_resolution": ("Threshold resolution", "Threshold query"),
    "return_home": ("Return home / kinship support", "Kinship care support"),
    "admission_to_care": ("Admission to care / high cost placement (LARP)", "LARP"),
    "section20": (
        "Section 20 emergency admission",
        "Emergency admission to care (accommodated under s.20)",
        "Child accommodated under Section 20 (emergency)",
        "S20 accommodation",
    ),
}
# (ticked, unticked) as forms draw them.
BOXES = [("☒", "☐"), ("☑", "☐"), ("[x]", "[ ]"), ("[X]", "[ ]"), ("■", "□"), ("✔", "☐")]


@pytest.mark.parametrize(
    ("line", "question", "boxes"),
    [
        ("☒ Yes ☐ No", "", [("Yes", True), ("No", False)]),
        ("Yes ☐ No ☒", "", [("Yes", False), ("No", True)]),
        ("Yes X   No", "", [("Yes", True)]),
        (
            "Request: [X] Advice [ ] Section 20",
            "Request",
            [("Advice", True), ("Section 20", False)],
        ),
        (
            "Is a genogram required for this family? ☐ Yes ☒ No",
            "Is a genogram required for this family?",
            [("Yes", False), ("No", True)],
        ),
        (
            "Parent/carer has agreed to this being discussed at panel: ☒ Yes ☐ No",
            "Parent/carer has agreed to this being discussed at panel",
            [("Yes", True), ("No", False)],
        ),
        ("Consent ☒ Yes ☐ No", "Consent", [("Yes", True), ("No", False)]),
        ("Advice ☐ Lead professional ☒", "", [("Advice", False), ("Lead professional", True)]),
        ("No boxes here", "", []),
    ],
)
def test_a_tick_line_reads_each_box_with_its_own_label(
    line: str, question: str, boxes: list[tuple[str, bool]]
) -> None:
    assert labels.tick_line(line) == (question, boxes)


@st.composite
def tick_lists(draw: st.DrawFn) -> tuple[list[tuple[str, str, bool]], tuple[str, str], str]:
    """Request types with a wording each, ticked or not; a style of box; a layout."""
    keys = draw(st.lists(st.sampled_from(sorted(WORDINGS)), min_size=1, max_size=5, unique=True))
    items = [(key, draw(st.sampled_from(WORDINGS[key])), draw(st.booleans())) for key in keys]
    return (
        items,
        draw(st.sampled_from(BOXES)),
        draw(st.sampled_from(["lines", "one line", "cells"])),
    )


@settings(max_examples=200, deadline=None)
@given(tick_lists())
def test_a_tick_list_reads_the_ticked_items_and_never_the_others(
    case: tuple[list[tuple[str, str, bool]], tuple[str, str], str],
) -> None:
    items, (on, off), layout = case
    rows: list[tuple[str, ...]]
    if layout == "cells":
        rows = [(label, on if ticked else off) for _, label, ticked in items]
    elif layout == "lines":
        rows = [(f"{on if ticked else off} {label}",) for _, label, ticked in items]
    else:
        rows = [(" ".join(f"{on if ticked else off} {label}" for _, label, ticked in items),)]
    read: set[str] = set()
    for cells in rows:
        for label, ticked, question in labels.block_ticks(cells):
            assert question == ""
            if ticked:
                read |= labels.tick_meaning(label)[1]
    assert read == {key for key, _, ticked in items if ticked}


@pytest.mark.parametrize(
    ("value", "answer"),
    [
        # (test_form.py has the boxes as people tick them, read from a Word table.)
        ("Y", True),
        ("N", False),
        ("No — reason: parents could not be reached", False),
        ("Yes – mother agreed by phone", True),
        ("Not required", False),
        ("N/A", None),
        ("Not known", None),
        ("Is it needed? [ ] Yes [x] No", False),
    ],
)
def test_yes_no_answers_no_is_false_and_no_answer_is_none(value: str, answer: bool | None) -> None:
    assert labels.yes_no(value) is answer


@settings(max_examples=150, deadline=None)
@given(
    answer=st.sampled_from([True, False, None]),
    boxes=st.sampled_from(BOXES),
    yes_first=st.booleans(),
    box_first=st.booleans(),
    question=st.sampled_from(["", "Has the family agreed? ", "Consent given: ", "Genogram "]),
)
def test_yes_no_boxes_in_any_order_and_style(
    answer: bool | None, boxes: tuple[str, str], yes_first: bool, box_first: bool, question: str
) -> None:
    on, off = boxes
    choices = [("Yes", answer is True), ("No", answer is False)]
    if not yes_first:
        choices.reverse()
    parts = [
        f"{on if ticked else off} {word}" if box_first else f"{word} {on if ticked else off}"
        for word, ticked in choices
    ]
    # A question before boxes that follow their labels would read as the first box's label.
    line = (question if box_first else "") + "  ".join(parts)
    assert labels.yes_no(line) is answer


@pytest.mark.parametrize(
    ("label", "answer", "keys"),
    [
        ("Is this an emergency admission to care under Section 20?", "Yes", {"section20"}),
        ("Is this an emergency admission to care under Section 20?", "No", set()),
        ("Has the child been accommodated under s.20?", "Yes", {"section20"}),
        ("Has the child ever been accommodated under Section 20?", "Yes", set()),
        ("Has Section 20 been considered?", "Yes", set()),
        ("Section 20 emergency admission", "Yes", {"section20"}),
        ("Section 20 emergency admission", "☐", set()),
        ("Is this a request for advice only?", "Yes", {"advice"}),
        ("Is the family in temporary accommodation?", "Yes", set()),
        ("Is the child known to CAMHS?", "Yes", set()),
    ],
)
def test_a_question_asks_for_a_request_only_when_answered_yes(
    label: str, answer: str, keys: set[str]
) -> None:
    assert labels.asked_requests(labels.normalise_label(label), answer) == keys


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ("Section 20; advice", {"section20", "advice"}),
        ("☒ Advice ☐ Section 20", {"advice"}),
        ("[ ] Advice [x] Section 20 accommodation [ ] TAF", {"section20"}),
        ("☐ Threshold resolution\n☒ Return home / kinship support", {"return_home"}),
        ("Kinship support so that the child can return home", {"return_home"}),
    ],
)
def test_a_typed_request_with_boxes_names_only_the_ticked_ones(text: str, keys: set[str]) -> None:
    assert labels.requested(text) == keys


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Child's name: Noa Fakeley Date of birth: 21/09/2016",
            [("Child's name", "Noa Fakeley"), ("Date of birth", "21/09/2016")],
        ),
        (
            "Referrer's name: Una Sample Referrer's email: una@ashbourne.example",
            [("Referrer's name", "Una Sample"), ("Referrer's email", "una@ashbourne.example")],
        ),
        (
            "Family agreed to panel discussion: No Genogram required: Yes",
            [("Family agreed to panel discussion", "No"), ("Genogram required", "Yes")],
        ),
        # Prose with a second colon keeps it: no label starts there.
        (
            "Reason: worried about school: attendance is 60%",
            [("Reason", "worried about school: attendance is 60%")],
        ),
        ("Meeting: 10:00 at the school", [("Meeting", "10:00 at the school")]),
    ],
)
def test_labels_run_together_on_one_line_are_split(
    line: str, expected: list[tuple[str, str]]
) -> None:
    assert [(a, b.strip()) for a, b in labels.pairs([line], False)] == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Child.DateOfBirth", ("child", "Date Of Birth")),
        ("Referrer.Email", ("referrer", "Email")),
        ("Genogram.Required", ("genogram", "Required")),
        ("txtChildFullName", ("", "Child Full Name")),
        ("Section20Emergency", ("", "Section20 Emergency")),
        ("child_dob", ("", "child dob")),
        ("D.O.B.", ("", "D.O.B.")),
        ("Child's name", ("", "Child's name")),
    ],
)
def test_form_field_names_become_labels_in_their_part_of_the_form(
    name: str, expected: tuple[str, str]
) -> None:
    assert labels.field_name(name) == expected


# Text as forms hold it: words, boxes, marks, colons, dots and line breaks, in any order.
_FORM_TEXT = st.lists(
    st.sampled_from([*"abcXxY .:?/-_\n[]", "☒", "☐", "✓", "Yes", "No", "Section 20", "Name"]),
    max_size=30,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(cells=st.lists(_FORM_TEXT, min_size=1, max_size=4))
def test_reading_any_text_never_raises(cells: list[str]) -> None:
    for label, value in labels.pairs(cells, True):
        labels.asked_requests(labels.normalise_label(label), value)
        labels.yes_no(value)
        labels.requested(value)
    for label, _on, question in labels.block_ticks(cells):
        assert label and len(label) < 120
        labels.answer_word(question)
    for cell in cells:
        _section, label = labels.field_name(cell)
        assert label or not cell
