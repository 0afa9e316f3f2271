"""The board over many cases (issue 15): each meeting's counts by state and the cases to look
at first, and every case reachable through the meeting's own pages, never a stale figure."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from starlette.applications import Starlette

from pipeline.app import App
from pipeline.states import CaseState
from pipeline.store.models import Case
from pipeline.web.board import FIRST_ROWS, PAGE_ROWS
from pipeline.web.users import Role
from tests.helpers import open_service
from tests.postgres import Postgres, on_postgres
from tests.web.conftest import NOW, Console, add_accounts, serve, signed_in
from tests.web.test_pages import text_of

DECEMBER = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)
JANUARY = datetime(2027, 1, 12, 10, 0, tzinfo=UTC)
STATES = [CaseState.INCOMPLETE, CaseState.COMPLETE, CaseState.SCREENING, CaseState.APPROVED]
# More than two pages of the meeting's list, and far more than the board shows.
DECEMBER_CASES = 2 * PAGE_ROWS + 37
JANUARY_CASES = 5
JANUARY_INCOMPLETE = f"MASP-2026-{DECEMBER_CASES + 4:04d}"
# A row of a case table, as a person reads it: reference, initials, state.
ROW = re.compile(r"(MASP-2026-\d{4}) \S+ (incomplete|complete|screening|approved|more info)")


def add_cases(service: App) -> None:
    """December's cases in turn through four states, every 40th a Section 20 case; and a few
    in January. Closed cases are never listed."""
    with service.store.session() as session:
        for n in range(DECEMBER_CASES + JANUARY_CASES + 2):
            december = n < DECEMBER_CASES
            session.add(
                Case(
                    reference=f"MASP-2026-{n + 1:04d}",
                    panel_id="masp",
                    meeting=DECEMBER if december else JANUARY,
                    state=CaseState.CLOSED
                    if n >= DECEMBER_CASES + JANUARY_CASES
                    else STATES[n % 4],
                    referrer_email=f"ref{n}@school.example.org",
                    received_at=NOW,
                    section20=december and n % 40 == 39,
                    fields={"child_name": f"Child Number{n}"},
                )
            )


@pytest.fixture(scope="module")
def many(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    folder = tmp_path_factory.mktemp("board")
    with ExitStack() as stack:
        overrides: dict[str, object] = {}
        if on_postgres():
            postgres: Postgres = request.getfixturevalue("postgres")
            overrides["database"] = stack.enter_context(postgres.database())
        service = open_service(folder, NOW, **overrides)
        stack.callback(service.close)
        add_cases(service)
        add_accounts(service)
        server, thread, port = serve(service)
        web = server.config.app
        assert isinstance(web, Starlette)
        yield Console(f"http://127.0.0.1:{port}", service, web, server, folder)
        server.should_exit = True
        thread.join(timeout=10)


def references(html: str) -> list[str]:
    return [found.group(1) for found in ROW.finditer(text_of(html))]


def test_the_board_counts_each_meeting_and_shows_the_cases_to_look_at_first(
    many: Console,
) -> None:
    page = signed_in(many, Role.ADMINISTRATOR).get("/board")
    assert page.status_code == 200
    words = text_of(page.text)
    # 237 cases in turn through four states: 60 incomplete, 59 of each other; 5 Section 20.
    assert (
        f"{DECEMBER_CASES} cases, of which 5 Section 20: "
        "60 incomplete 59 complete 59 screening 59 approved" in words
    )
    assert "5 cases: 1 incomplete 2 complete 1 screening 1 approved" in words
    shown = references(page.text)
    # December's first rows, then all of January's: closed cases nowhere.
    assert len(shown) == FIRST_ROWS + JANUARY_CASES
    december = shown[:FIRST_ROWS]
    # Section 20 cases first, then the incomplete ones, in reference order.
    section20 = [f"MASP-2026-{n + 1:04d}" for n in range(DECEMBER_CASES) if n % 40 == 39]
    assert december[:5] == section20
    incomplete = [
        f"MASP-2026-{n + 1:04d}" for n in range(DECEMBER_CASES) if n % 4 == 0 and n % 40 != 39
    ]
    assert december[5:] == incomplete[: FIRST_ROWS - 5]
    assert f'href="/board/masp/2026-12-08">All {DECEMBER_CASES} cases for this meeting' in page.text
    assert 'href="/board/masp/2027-01-12">This meeting' in page.text
    assert "MASP-2026-0243" not in page.text and "MASP-2026-0244" not in page.text


def test_the_meeting_pages_reach_every_case_once_in_reference_order(many: Console) -> None:
    client = signed_in(many, Role.CHAIR)
    seen: list[str] = []
    path: str | None = "/board/masp/2026-12-08"
    pages = 0
    while path is not None:
        page = client.get(path)
        assert page.status_code == 200, page.text
        pages += 1
        rows = references(page.text)
        assert len(rows) == min(PAGE_ROWS, DECEMBER_CASES - len(seen))
        words = text_of(page.text)
        assert (
            f"Cases {len(seen) + 1} to {len(seen) + len(rows)} of {DECEMBER_CASES}, "
            "in reference order" in words
        )
        seen.extend(rows)
        following = re.search(r'href="([^"]+)" rel="next"', page.text)
        path = following.group(1) if following else None
    assert pages == 3
    assert seen == [f"MASP-2026-{n + 1:04d}" for n in range(DECEMBER_CASES)]
    assert Counter(seen).most_common(1)[0][1] == 1
    # Each page links to every other, and says which one it is.
    assert 'aria-label="Page 3" aria-current="page"' in page.text
    assert 'href="/board/masp/2026-12-08?page=2" rel="prev"' in page.text


def test_the_board_and_the_meeting_pages_show_a_change_at_once(many: Console) -> None:
    client = signed_in(many, Role.ADMINISTRATOR)
    before = text_of(client.get("/board").text)
    assert "5 cases: 1 incomplete 2 complete 1 screening 1 approved" in before
    with many.app.store.session() as session:
        # January's one incomplete case (its fourth).
        first = session.scalar(select(Case).where(Case.reference == JANUARY_INCOMPLETE))
        assert first is not None and first.state == CaseState.INCOMPLETE
        session.execute(update(Case).where(Case.id == first.id).values(state=CaseState.APPROVED))
    try:
        after = text_of(client.get("/board").text)
        assert "5 cases: 2 complete 1 screening 2 approved" in after
        listed = text_of(client.get("/board/masp/2027-01-12").text)
        assert f"{JANUARY_INCOMPLETE} C.N. approved" in listed
    finally:
        with many.app.store.session() as session:
            session.execute(
                update(Case).where(Case.id == first.id).values(state=CaseState.INCOMPLETE)
            )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/board/masp/2026-12-08?page=4", "has 3 page(s), not 4"),
        ("/board/masp/2026-12-08?page=0", "pages are numbered from 1"),
        ("/board/masp/2026-12-08?page=two", "pages are numbered from 1"),
        ("/board/nowhere/2026-12-08", "There is no panel"),
        ("/board/masp/8-12-2026", "give a date as 2026-12-08"),
    ],
)
def test_a_page_that_is_not_there_says_why(many: Console, path: str, reason: str) -> None:
    answer = signed_in(many, Role.ADMINISTRATOR).get(path)
    assert answer.status_code == 404
    assert reason in answer.text.replace("&#39;", "'")


def test_a_meeting_with_no_cases_says_so_and_a_service_manager_may_not_open_it(
    many: Console,
) -> None:
    page = signed_in(many, Role.ADMINISTRATOR).get("/board/masp/2027-02-09")
    assert page.status_code == 200
    assert "No cases are listed for this meeting." in page.text
    assert signed_in(many, Role.SERVICE_MANAGER).get("/board/masp/2026-12-08").status_code == 403
