"""`masp db upgrade`, and every other command refusing an old schema, as one sees it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from alembic import command

from pipeline.store.db import HEAD_REVISION, _alembic_config, open_engine
from tests.helpers import config_tree, masp


def old_install(folder: Path, url: str) -> Path:
    """A data_dir whose database (at `url`, empty) an earlier masp left at 0004_fixintake."""
    tree = config_tree()
    tree["database"] = url
    (folder / "config.yaml").write_text(yaml.safe_dump(tree))
    data = folder / "data"
    data.mkdir(exist_ok=True)
    engine = open_engine(url)
    command.upgrade(_alembic_config(engine), "0004_fixintake")
    engine.dispose()
    return data


def test_every_command_refuses_an_old_schema_and_says_what_to_run(
    tmp_path: Path, empty_store_url: str
) -> None:
    old_install(tmp_path, empty_store_url)
    for args in (("status", "--json"), ("poll",), ("tick",)):
        result = masp(*args, cwd=tmp_path)
        assert result.returncode == 1, args
        assert result.stdout == ""
        assert (
            f"Error: the database is at 0004_fixintake and this masp needs {HEAD_REVISION}; "
            "run `masp db upgrade` (it backs up first)"
        ) in result.stderr


def test_db_upgrade_backs_up_then_reaches_the_head(tmp_path: Path, empty_store_url: str) -> None:
    data = old_install(tmp_path, empty_store_url)
    result = masp("db", "upgrade", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Upgraded the database from 0004_fixintake to {HEAD_REVISION}." in result.stdout
    [backup] = (data / "backups").iterdir()
    assert f"Backed up to {backup}" in result.stdout
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["schema"] == "0004_fixintake"
    copy = "database.pgdump" if empty_store_url.startswith("postgresql") else "database.sqlite"
    assert manifest["database"] == copy and copy in manifest["sha256"]

    status = masp("status", "--json", cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout) == []
    again = masp("db", "upgrade", cwd=tmp_path)
    assert f"The database is already at {HEAD_REVISION}: nothing to upgrade." in again.stdout
    assert len(list((data / "backups").iterdir())) == 1


def test_backup_and_restore_from_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for name in ("a", "b"):
        tree = config_tree(tmp_path / name, security__signing_key="")
        (tmp_path / name / "config.yaml").write_text(yaml.safe_dump(tree))
    # The first command that opens the service makes the signing key (`status` only reads).
    assert masp("tick", cwd=tmp_path / "a").returncode == 0
    made = masp("backup", str(tmp_path / "snap"), cwd=tmp_path / "a")
    assert made.returncode == 0, made.stderr
    # The signing key and what the tick made under data_dir (the sent Maildir's folders).
    assert re.search(
        rf"Backed up the database \(schema {HEAD_REVISION}\) and \d+ files to", made.stdout
    )
    assert masp("tick", cwd=tmp_path / "b").returncode == 0
    refused = masp("restore", str(tmp_path / "snap"), cwd=tmp_path / "b")
    assert refused.returncode == 1 and "add --force" in refused.stderr
    done = masp("restore", str(tmp_path / "snap"), "--force", cwd=tmp_path / "b")
    assert done.returncode == 0, done.stderr
    key = "data/signing.key"
    assert (tmp_path / "b" / key).read_bytes() == (tmp_path / "a" / key).read_bytes()
