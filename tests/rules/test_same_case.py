"""R5: a newer usable document supersedes the older one of its kind; a form for a different
child never does."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.documents.kinds import Kind, Status
from pipeline.rules.same_case import Child, different_child, supersedes

KEYS = st.one_of(st.none(), st.sampled_from(["k1", "k2"]))
NAMES = st.one_of(st.none(), st.sampled_from(["", "Robin Test", "robin  test", "Sam Test"]))
DOBS = st.one_of(st.none(), st.sampled_from(["2015-03-01", "2016-04-02"]))
CHILDREN = st.builds(Child, KEYS, NAMES, DOBS)


@pytest.mark.parametrize("kind", [k for k in Kind if k != Kind.OTHER])
def test_a_usable_document_of_a_named_kind_supersedes(kind: Kind) -> None:
    assert supersedes(kind, Status.OK)
    assert supersedes(kind, Status.NEEDS_REVIEW)
    assert not supersedes(kind, Status.REFUSED)


def test_another_document_only_adds() -> None:
    assert not supersedes(Kind.OTHER, Status.OK)


@pytest.mark.parametrize(
    ("before", "now", "other"),
    [
        # Both forms give name and date of birth: their keyed hashes decide.
        (Child("k1", "Robin Test", "2015-03-01"), Child("k1", "Robin Test", "2015-03-01"), False),
        (Child("k1", "Robin Test", "2015-03-01"), Child("k2", "Robin Test", "2016-04-02"), True),
        # Else the names, read without case or spacing.
        (Child(None, "Robin Test", None), Child("k1", " ROBIN   test ", "2015-03-01"), False),
        (Child(None, "Robin Test", None), Child(None, "Sam Test", None), True),
        # Else a date of birth on a form that names nobody.
        (Child(None, "Robin Test", "2015-03-01"), Child(None, None, "2016-04-02"), True),
        (Child(None, "Robin Test", "2015-03-01"), Child(None, "", "2015-03-01"), False),
        # A form naming neither, or a case without a form, cannot tell: the same child.
        (Child(None, "Robin Test", "2015-03-01"), Child(None, None, None), False),
        (Child(None, None, None), Child("k1", "Sam Test", "2016-04-02"), False),
        (Child(None, None, "2015-03-01"), Child(None, "Sam Test", "2016-04-02"), False),
    ],
)
def test_which_forms_are_about_another_child(before: Child, now: Child, other: bool) -> None:
    assert different_child(before, now) is other


@given(CHILDREN)
def test_a_child_is_never_a_different_child_from_itself(child: Child) -> None:
    assert not different_child(child, child)


@given(CHILDREN, st.sampled_from(["Robin Test", "Sam Test"]), DOBS)
def test_a_name_s_case_and_spacing_do_not_matter(before: Child, name: str, dob: str | None) -> None:
    shouted = Child(None, f"  {name.upper()}  ", dob)
    assert different_child(before, shouted) == different_child(before, Child(None, name, dob))
