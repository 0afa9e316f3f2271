"""The console answers over HTTP: sign in, the board, and the refusals around them."""

from __future__ import annotations

from pipeline.web.users import Role
from tests.web.conftest import FIRST, Console, signed_in


def test_the_board_lists_the_cases_by_reference(console: Console) -> None:
    client = signed_in(console, Role.ADMINISTRATOR)
    page = client.get("/board")
    assert page.status_code == 200
    assert FIRST in page.text
