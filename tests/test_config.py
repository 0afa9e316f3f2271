"""The config loader: the shipped config.yaml is valid, and every error names its key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipeline.config import load_config, parse_config
from pipeline.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def shipped() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_shipped_config_is_valid_and_frozen() -> None:
    config = load_config(ROOT / "config.yaml")
    assert config.mailbox.backend == "maildir"
    assert config.panels[0].prefix == "MASP"
    with pytest.raises(Exception, match="frozen"):
        config.timezone = "UTC"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("timezone",), "Mars/Olympus", "timezone"),
        (("mailbox", "backend"), "pigeon", "mailbox.backend"),
        (("mailbox", "imap", "port"), 70000, "mailbox.imap.port"),
        (("panels", 0, "meetings", "rrule"), "EVERY TUESDAY", "panels.0.meetings.rrule"),
        (("people", "administrator", "email"), "not-an-address", "people.administrator.email"),
        (("limits", "unknown_limit"), 3, "limits.unknown_limit"),
    ],
)
def test_errors_name_the_key(path: tuple[str, ...], value: object, key: str) -> None:
    tree = shipped()
    node = tree
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    with pytest.raises(ConfigError) as caught:
        parse_config(tree, ROOT, env={})
    assert caught.value.key == key
    assert key in str(caught.value)


def test_secrets_come_from_the_environment() -> None:
    config = parse_config(shipped(), ROOT, env={"MASP_IMAP_PASSWORD": "from-env"})
    assert config.mailbox.imap.password == "from-env"


def test_bad_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    tree = shipped()
    tree["panels"][0]["deadline"]["days_before"] = -1
    bad = tmp_path / "config.yaml"
    bad.write_text(yaml.safe_dump(tree))
    result = subprocess.run(
        [sys.executable, "-m", "pipeline", "--config", str(bad), "meetings"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "panels.0.deadline.days_before" in result.stdout + result.stderr
