"""`copy_store`: every row reaches the new database, however many batches it takes and
whichever way the cases link, or none does."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from pipeline.errors import StoreError
from pipeline.states import CaseState
from pipeline.store import copy
from pipeline.store.copy import copy_store, target_url
from pipeline.store.db import Store, open_engine
from pipeline.store.models import Base, Case, Counter
from tests.helpers import open_service
from tests.postgres import STORE_ENV

NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def case(n: int) -> Case:
    return Case(
        reference=f"MASP-2026-{n:04d}",
        panel_id="masp",
        state=CaseState.INCOMPLETE,
        referrer_email=f"ref{n}@school.example.org",
        received_at=NOW,
    )


def test_linked_cases_come_across_whole_in_many_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = open_service(tmp_path, NOW)
    with service.store.session() as session:
        cases = [case(n) for n in range(1, 8)]
        session.add_all(cases)
        session.flush()
        # A case may point at a later one: it is copied before the row it points at exists.
        cases[0].linked_case_id = cases[6].id
        cases[4].linked_case_id = cases[1].id
        session.add(Counter(prefix="MASP", year=2026, last=7))
    service.close()
    # Seven cases in batches of two: four batches, the last one short.
    monkeypatch.setattr(copy, "BATCH", 2)

    target = tmp_path / "moved.sqlite"
    copied = copy_store(service.config, target_url(f"sqlite:///{target}"), NOW)
    assert dict(copied.tables)["cases"] == 7
    assert [name for name, _ in copied.tables] == [t.name for t in Base.metadata.sorted_tables]

    moved = Store.open(f"sqlite:///{target}")
    with moved.session() as session:
        links = dict(session.execute(select(Case.reference, Case.linked_case_id)).all())
        assert session.scalar(select(Counter.last)) == 7
    moved.close()
    assert links == {
        **{f"MASP-2026-{n:04d}": None for n in range(1, 8)},
        "MASP-2026-0001": 7,
        "MASP-2026-0005": 2,
    }


@pytest.mark.pg_native
def test_a_row_postgresql_refuses_leaves_the_target_empty(
    tmp_path: Path, empty_pg: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SQLite store is the one copied, on either pass.
    monkeypatch.setenv(STORE_ENV, "sqlite")
    service = open_service(tmp_path, NOW)
    with service.store.session() as session:
        session.add(case(1))
        # SQLite keeps a string longer than its column allows; PostgreSQL refuses it.
        session.add(Counter(prefix="MASP-TOO-LONG-A-PREFIX", year=2026, last=1))
    service.close()

    with pytest.raises(StoreError) as refused:
        copy_store(service.config, target_url(empty_pg), NOW)
    assert str(refused.value) == (
        "copying the table counters failed (value too long for type character varying(16)): "
        "the target was rolled back and is left empty; the configured database is unchanged"
    )
    # The cases copied before it, and the schema itself, went with the transaction.
    engine = open_engine(empty_pg)
    assert inspect(engine).get_table_names() == []
    engine.dispose()
