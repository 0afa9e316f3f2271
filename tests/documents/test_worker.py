"""The isolated reader's pipe: results cross it unchanged, large files and answers cross it
whole, and a reader that died while idle is replaced without blaming the next file."""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from pipeline import samples
from pipeline.documents.kinds import Kind, Status
from pipeline.documents.read import read_document
from pipeline.documents.results import ReadLimits
from pipeline.documents.worker import (
    HEADER,
    SMALL,
    DocumentWorker,
    from_wire,
    read_message,
    to_wire,
    write_message,
)
from tests.helpers import DATA

CORPUS = DATA / "documents"
TODAY = date(2026, 3, 1)
DOCUMENTS = sorted(
    path for path in CORPUS.iterdir() if path.suffix not in (".json", ".py") and path.is_file()
)


@pytest.fixture(scope="module")
def worker() -> Iterator[DocumentWorker]:
    with DocumentWorker(ReadLimits(seconds=20)) as reader:
        yield reader


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda path: path.name)
def test_every_corpus_result_crosses_the_pipe_unchanged(worker: DocumentWorker, path: Path) -> None:
    data = path.read_bytes()
    here = read_document(path.name, data, ReadLimits(seconds=20), TODAY)
    assert from_wire(to_wire(here)) == here
    assert worker.read(path.name, data, TODAY) == here


def test_a_large_file_and_a_large_answer_cross_whole(worker: DocumentWorker) -> None:
    # 8,000 rows: the file is beyond one write, the answer (every entry) far beyond.
    data = samples.chronology(rows=8000)
    assert len(data) > SMALL
    result = worker.read("Chronology.docx", data, TODAY)
    assert result == read_document("Chronology.docx", data, ReadLimits(seconds=20), TODAY)
    assert result.fields["summary"]["entries"] == len(result.fields["entries"]["value"]) == 8000


def test_a_reader_that_died_while_idle_is_replaced_and_the_next_file_is_not_blamed(
    worker: DocumentWorker,
) -> None:
    first = worker.read("Chronology.docx", samples.chronology())
    pid = worker.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    # The kernel closes the dead child's pipes; give it a moment to be reaped.
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    again = worker.read("Chronology.docx", samples.chronology())
    assert worker.pid != pid
    assert (again.classification.kind, again.classification.status) == (
        Kind.CHRONOLOGY,
        Status.OK,
    )
    assert again == first


class Planted:
    """What a reader taken over by a crafted file might send: a pickle that runs a command."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


def test_an_answer_that_names_a_callable_is_refused_and_nothing_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    reading, writing = os.pipe()
    try:
        payload = pickle.dumps(("ok", Planted(marker)))
        os.write(writing, HEADER.pack(len(payload)) + payload)
        with pytest.raises(pickle.UnpicklingError, match=r"posix\.system"):
            read_message(reading)
        assert not marker.exists()
        # Plain values, dates included, still cross.
        write_message(writing, ("ok", (("pdf", None), date(2019, 4, 3), {"a": [1.5, True]})))
        assert read_message(reading) == (
            "ok",
            (("pdf", None), date(2019, 4, 3), {"a": [1.5, True]}),
        )
    finally:
        os.close(reading)
        os.close(writing)
