"""R4 on plain values: which kinds a referral still needs, whatever documents it holds, and which
of its form's questions are unanswered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pipeline.documents.kinds import Kind, Status
from pipeline.rules.completeness import (
    ALWAYS_REQUIRED,
    GENOGRAM_REQUESTS,
    REQUIRED_FIELDS,
    DocumentView,
    genogram_needed,
    missing_fields,
    missing_kinds,
    required_kinds,
    usable_kinds,
)

FORM, CHRONOLOGY, GENOGRAM, ASSESSMENT = (
    Kind.REFERRAL_FORM,
    Kind.CHRONOLOGY,
    Kind.GENOGRAM,
    Kind.ASSESSMENT,
)


def ok(kind: Kind) -> DocumentView:
    return DocumentView(kind, Status.OK)


DOCUMENTS = st.lists(
    st.builds(
        DocumentView,
        st.sampled_from(list(Kind)),
        st.sampled_from(list(Status)),
        st.booleans(),
    ),
    max_size=8,
)
REQUESTS = st.lists(
    st.sampled_from(["admission_to_care", "section20", "family_support", "respite", ""]),
    max_size=3,
)
GENOGRAM_FLAG = st.sampled_from([True, False, None])


def test_an_empty_referral_needs_form_chronology_and_assessment_in_reading_order() -> None:
    assert missing_kinds([], None) == [FORM, CHRONOLOGY, ASSESSMENT]


def test_a_genogram_is_needed_when_the_form_says_so_or_the_request_calls_for_one() -> None:
    assert missing_kinds([], True) == [FORM, CHRONOLOGY, GENOGRAM, ASSESSMENT]
    assert missing_kinds([], False, ["admission_to_care"]) == [
        FORM,
        CHRONOLOGY,
        GENOGRAM,
        ASSESSMENT,
    ]
    assert missing_kinds([], None, ["section20"])[2] == GENOGRAM
    assert not genogram_needed(False, ["family_support"])
    assert not genogram_needed(None, [])


def test_a_complete_referral_needs_nothing() -> None:
    documents = [ok(FORM), ok(CHRONOLOGY), ok(ASSESSMENT)]
    assert missing_kinds(documents, False) == []
    assert missing_kinds(documents, True) == [GENOGRAM]
    assert missing_kinds([*documents, ok(GENOGRAM)], True) == []


def test_a_refused_or_superseded_document_does_not_count_but_one_needing_review_does() -> None:
    assert missing_kinds([DocumentView(CHRONOLOGY, Status.REFUSED)], None) == [
        FORM,
        CHRONOLOGY,
        ASSESSMENT,
    ]
    assert CHRONOLOGY in missing_kinds([DocumentView(CHRONOLOGY, Status.OK, True)], None)
    assert CHRONOLOGY not in missing_kinds([DocumentView(CHRONOLOGY, Status.NEEDS_REVIEW)], None)


def test_an_other_document_never_stands_in_for_a_required_kind() -> None:
    assert usable_kinds([ok(Kind.OTHER)]) == {Kind.OTHER}
    assert missing_kinds([ok(Kind.OTHER)], True) == required_kinds(True, [])


@given(DOCUMENTS, GENOGRAM_FLAG, REQUESTS)
def test_missing_kinds_are_the_required_ones_not_held_in_the_required_order(
    documents: list[DocumentView], genogram: bool | None, requests: list[str]
) -> None:
    required = required_kinds(genogram, requests)
    missing = missing_kinds(documents, genogram, requests)
    assert missing == [k for k in required if k in missing]
    assert set(required) - set(missing) <= usable_kinds(documents)
    assert set(ALWAYS_REQUIRED) <= set(required)
    assert (GENOGRAM in required) == (bool(genogram) or bool(GENOGRAM_REQUESTS & set(requests)))


@given(DOCUMENTS, DOCUMENTS, GENOGRAM_FLAG, REQUESTS)
def test_a_superseded_document_never_counts(
    documents: list[DocumentView],
    others: list[DocumentView],
    genogram: bool | None,
    requests: list[str],
) -> None:
    superseded = [DocumentView(d.kind, d.status, True) for d in others]
    assert missing_kinds(documents + superseded, genogram, requests) == missing_kinds(
        documents, genogram, requests
    )


@given(DOCUMENTS, st.sampled_from(list(Kind)), st.sampled_from([Status.OK, Status.NEEDS_REVIEW]))
def test_adding_a_present_document_never_adds_a_missing_kind(
    documents: list[DocumentView], kind: Kind, status: Status
) -> None:
    before = missing_kinds(documents, True)
    after = missing_kinds([*documents, DocumentView(kind, status)], True)
    assert set(after) <= set(before)
    assert kind not in after
    assert set(before) - set(after) <= {kind}


@given(DOCUMENTS, st.sampled_from(list(Kind)))
def test_adding_a_refused_document_changes_nothing(
    documents: list[DocumentView], kind: Kind
) -> None:
    refused = DocumentView(kind, Status.REFUSED)
    assert missing_kinds([*documents, refused], None) == missing_kinds(documents, None)


ANSWERED = {
    "child_name": "Robin Test",
    "child_dob": "2015-03-01",
    "referrer_name": "Jo Teacher",
    "referrer_email": "jo@school.example.org",
    "request_types": ["section20"],
    "consent": False,
}


def test_a_form_answering_every_question_misses_no_field() -> None:
    assert missing_fields(ANSWERED) == []


def test_no_form_yet_misses_no_field() -> None:
    assert missing_fields({}) == []


def test_an_unanswered_question_is_named_as_the_referrer_reads_it() -> None:
    fields = ANSWERED | {"child_dob": None, "request_types": [], "referrer_name": ""}
    assert missing_fields(fields) == [
        "the child's date of birth (or due date)",
        "your name",
        "what you are asking the panel for (request type)",
    ]


@given(st.dictionaries(st.sampled_from(list(REQUIRED_FIELDS)), st.sampled_from([None, "", []])))
def test_each_blank_field_is_missing_in_the_form_s_order(blanks: dict[str, object]) -> None:
    found = missing_fields(ANSWERED | blanks)
    assert found == [label for key, label in REQUIRED_FIELDS.items() if key in blanks]
