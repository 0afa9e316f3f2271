"""The golden corpus: every synthetic document under tests/data/documents and its expected result.

Add a sample by adding it to make_corpus.py (with its expected JSON written by hand) and
running that script; a document without an expected JSON fails here.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.documents.classify import classify
from pipeline.documents.form import read_form_facts
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.read import read_document
from pipeline.documents.results import Classification, ReadLimits, Sniffed, resolve_competition
from pipeline.documents.sniff import sniff
from tests.helpers import DATA

CORPUS = DATA / "documents"
DOCUMENTS = sorted(p for p in CORPUS.iterdir() if p.suffix not in (".json", ".py") and p.is_file())


# The corpus is read as if today were 1 March 2026 (chronologies report dates after it).
TODAY = date(2026, 3, 1)


def _facts_json(data: bytes, name: str) -> dict[str, Any]:
    facts = asdict(read_form_facts(data, sniff(data, name)))
    facts["child_dob"] = facts["child_dob"].isoformat() if facts["child_dob"] else None
    facts["request_types"] = list(facts["request_types"])
    return facts


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_corpus_document(path: Path) -> None:
    expected_path = path.with_name(path.name + ".json")
    assert expected_path.exists(), f"{path.name} has no expected result"
    expected = json.loads(expected_path.read_text())
    data = path.read_bytes()
    result = classify(path.name, data, sniff(data, path.name))
    got = (result.kind.value, result.status.value)
    assert got == (expected["kind"], expected["status"]), f"{result.note} | {result.reason}"
    assert (result.reason is None) == (result.status == Status.OK)
    assert expected.get("reason_contains", "") in (result.reason or "")
    assert expected.get("note_contains", "") in result.note
    if "form" in expected:
        assert _facts_json(data, path.name) == expected["form"]


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_corpus_document_parse(path: Path) -> None:
    expected = json.loads(path.with_name(path.name + ".json").read_text())
    result = read_document(path.name, path.read_bytes(), ReadLimits(), today=TODAY)
    assert result.classification.kind.value == expected["kind"]
    # What is stored per document version must be JSON, and the result must cross processes.
    fields = json.loads(json.dumps(result.fields))
    assert pickle.loads(pickle.dumps(result)) == result
    if "form" in expected:
        assert result.facts is not None
        assert _facts_json(path.read_bytes(), path.name) == expected["form"]
    for key, value in expected.get("fields", {}).items():
        assert fields[key]["value"] == value, key
    for key, source in expected.get("sources", {}).items():
        assert fields[key]["source"] == source, key
    if "summary" in expected:
        assert fields["summary"] == expected["summary"]
    if "notes" in expected:
        assert fields["notes"] == expected["notes"] == list(result.notes)
    if "missing" in expected:
        assert fields.get("missing", []) == expected["missing"]
    approximate = {e["row"]: e["approximate"] for e in fields.get("entries", {}).get("value", [])}
    for row, flag in expected.get("entries_approximate", {}).items():
        assert approximate[row] is flag, row


@pytest.mark.parametrize("path", [p for p in DOCUMENTS if p.suffix == ".pdf"], ids=lambda p: p.name)
def test_a_pdf_is_only_read_as_a_pdf(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # An assessment once handed its PDF bytes to the Word reader too, which opened them as a
    # zip: work for nothing, on a hostile file, in every read of every PDF assessment.
    opened: list[str] = []
    monkeypatch.setattr("pipeline.documents.parsing.read_word", lambda *_: opened.append("word"))
    monkeypatch.setattr("pipeline.documents.parsing.read_sheets", lambda *_: opened.append("sheet"))
    expected = json.loads(path.with_name(path.name + ".json").read_text())
    result = read_document(path.name, path.read_bytes(), ReadLimits(), today=TODAY)
    assert result.classification.kind.value == expected["kind"]
    assert opened == []


def _read(name: str) -> Classification:
    data = (CORPUS / name).read_bytes()
    return classify(name, data, sniff(data, name))


def test_two_files_competing_for_one_kind_the_better_keeps_it() -> None:
    table = _read("docs.docx")
    workbook = _read("Example family timeline.xlsx")
    letter = _read("Letter from school.docx")
    assert workbook.score > table.score
    table_now, workbook_now, letter_now = resolve_competition([table, workbook, letter])
    assert (table_now.kind, workbook_now, letter_now) == (Kind.OTHER, workbook, letter)
    assert "also looked like a chronology, but another file in this email scored higher" in (
        table_now.note
    )


def test_a_refused_file_never_takes_a_kind_from_a_readable_one() -> None:
    readable = _read("MASP referral form - Ada Example.docx")
    refused = _read("Referral form.docm")
    assert resolve_competition([refused, readable]) == [refused, readable]


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=4096),
    name=st.sampled_from(["chronology.docx", "genogram.png", "EHA.pdf", "form.xlsx", "x"]),
)
def test_classify_never_raises(data: bytes, name: str) -> None:
    result = classify(name, data, sniff(data, name))
    assert result.status in Status
    assert (result.reason is None) == (result.status == Status.OK)


@pytest.mark.parametrize("rule", ["***", "- - -", "...", "____"])
def test_a_line_of_punctuation_does_not_stop_the_reading(rule: str) -> None:
    # Such a line normalises to nothing; it once raised IndexError, and the file went to a
    # person as "reading failed" however plainly it was a chronology.
    data = f"{rule}\nDate Event Source Impact Action\n01/02/2024 School raised concerns\n".encode()
    result = classify("notes.txt", data, sniff(data, "notes.txt"))
    assert (result.kind, result.status) == (Kind.CHRONOLOGY, Status.OK), result.note
    assert "table headers date, event, source, impact, action" in result.note


@pytest.mark.parametrize("claimed", ["docx", "xlsx", "pdf", "odt", "pptx"])
def test_bytes_that_are_not_what_the_sniff_said_are_refused_as_damaged(claimed: str) -> None:
    result = classify(f"chronology.{claimed}", b"PK\x03\x04 not really", Sniffed(claimed))
    assert (result.kind, result.status) == (Kind.CHRONOLOGY, Status.REFUSED)
    assert result.reason is not None and "damaged" in result.reason


def _edit_parts(data: bytes, edit: Callable[[str, bytes], bytes]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    archive = io.BytesIO()
    with source, zipfile.ZipFile(archive, "w") as target:
        for info in source.infolist():
            target.writestr(info.filename, edit(info.filename, source.read(info)))
    return archive.getvalue()


def test_xml_entity_bombs_are_not_expanded() -> None:
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE w [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;">]><w:document xmlns:w="urn:w"><w:body><w:p><w:r>'
        b"<w:t>&c;</w:t></w:r></w:p></w:body></w:document>"
    )
    original = (CORPUS / "docs.docx").read_bytes()
    data = _edit_parts(original, lambda name, body: laughs if name == "word/document.xml" else body)
    result = classify("chronology.docx", data, sniff(data, "chronology.docx"))
    assert result.status == Status.REFUSED and "lol" not in result.text


def test_strict_open_xml_documents_are_read_like_any_other() -> None:
    transitional = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    strict = b"http://purl.oclc.org/ooxml/wordprocessingml/main"
    original = (CORPUS / "docs.docx").read_bytes()
    data = _edit_parts(original, lambda name, body: body.replace(transitional, strict))
    result = classify("docs.docx", data, sniff(data, "docs.docx"))
    assert (result.kind, result.status) == (Kind.CHRONOLOGY, Status.OK)
