"""The database and its WAL are owner-only even when the store is opened outside `masp`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.store.db import Store

# About the SQLite file itself: its mode, and its WAL's.
pytestmark = pytest.mark.sqlite_only

# A script that embeds the store (as bench/pack.py does) runs with its caller's umask: it
# never passes through the entry point that makes files private.
EMBEDDING_SCRIPT = """
import json, os, stat, sys
from pathlib import Path

import pytest
from sqlalchemy import text
from pipeline.store.db import Store

os.umask(0o022)
path = Path(sys.argv[1])
store = Store.open(f"sqlite:///{path}")
with store.session() as session:
    session.execute(text("CREATE TABLE probe (x)"))
    session.execute(text("INSERT INTO probe VALUES (1)"))
names = [path.name, f"{path.name}-wal", f"{path.name}-shm"]
modes = {name: stat.S_IMODE((path.parent / name).stat().st_mode) for name in names}
store.close()
print(json.dumps(modes))
"""


def modes_when_embedded(path: Path) -> dict[str, int]:
    result = subprocess.run(
        [sys.executable, "-c", EMBEDDING_SCRIPT, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    modes: dict[str, int] = json.loads(result.stdout)
    return modes


def test_a_store_opened_under_a_permissive_umask_writes_owner_only_files(tmp_path: Path) -> None:
    modes = modes_when_embedded(tmp_path / "data" / "masp.sqlite")
    assert set(modes) == {"masp.sqlite", "masp.sqlite-wal", "masp.sqlite-shm"}
    for name, mode in modes.items():
        assert mode & 0o077 == 0, f"{name} is readable by others ({oct(mode)})"


def test_an_existing_database_readable_by_others_loses_only_those_bits(tmp_path: Path) -> None:
    path = tmp_path / "masp.sqlite"
    Store.open(f"sqlite:///{path}").close()
    os.chmod(path, 0o644)
    modes = modes_when_embedded(path)
    assert modes["masp.sqlite"] == 0o600
    assert all(mode & 0o077 == 0 for mode in modes.values())


def test_an_in_memory_database_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    Store.open("sqlite:///:memory:").close()
    assert list(tmp_path.iterdir()) == []
