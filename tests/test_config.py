"""The config loader: the shipped config.yaml is valid, and every error names its key."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from pipeline.config import SECRET_ENV, Config, load_config, parse_config
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


def _sections(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, type[BaseModel]]]:
    """Every section of the config (a nested model reached without a list), by dotted key."""
    yield prefix, model
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            yield from _sections(kind, f"{prefix}{name}.")


def test_every_key_of_every_section_is_in_the_shipped_config() -> None:
    """config.yaml is where a council reads what each key means (each has its comment there):
    a key the loader knows but the file leaves out is a key nobody can find."""
    missing = []
    for prefix, model in _sections(Config):
        node: Any = shipped()
        for part in prefix.strip(".").split(".") if prefix else ():
            node = node.get(part) if isinstance(node, dict) else None
        # Mailbox back-ends and OAuth are documented in their own guides when not in use.
        if node is None and prefix.startswith(("mailbox.", "web.oidc")):
            continue
        for name in model.model_fields:
            # base_dir is where the file was found, not a key anyone writes.
            if name != "base_dir" and (not isinstance(node, dict) or name not in node):
                missing.append(prefix + name)
    assert missing == []


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        (("timezone",), "Mars/Olympus", "timezone"),
        (("mailbox", "backend"), "pigeon", "mailbox.backend"),
        (("mailbox", "imap", "port"), 70000, "mailbox.imap.port"),
        (("panels", 0, "meetings", "rrule"), "EVERY TUESDAY", "panels[0].meetings.rrule"),
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
    assert "panels[0].deadline.days_before" in result.stdout + result.stderr


@pytest.mark.parametrize("var", sorted(SECRET_ENV))
def test_every_secret_can_come_from_a_file(tmp_path: Path, var: str) -> None:
    secret = tmp_path / "secret"
    # What `echo secret > file` or an editor writes: the newline is not part of the secret.
    secret.write_text("s3cret-from-file\n")
    config = parse_config(shipped(), ROOT, env={f"{var}_FILE": str(secret)})
    node: Any = config
    for key in SECRET_ENV[var]:
        node = getattr(node, key)
    assert node == "s3cret-from-file"


def test_a_missing_secret_file_names_the_variable(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(ConfigError) as caught:
        parse_config(shipped(), ROOT, env={"MASP_IMAP_PASSWORD_FILE": str(missing)})
    assert caught.value.key == "MASP_IMAP_PASSWORD_FILE"
    assert str(missing) in str(caught.value)


def test_an_empty_secret_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    with pytest.raises(ConfigError, match=r"MASP_SMTP_PASSWORD_FILE.*is empty"):
        parse_config(shipped(), ROOT, env={"MASP_SMTP_PASSWORD_FILE": str(empty)})


def test_a_secret_and_its_file_together_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("one")
    env = {"MASP_IMAP_PASSWORD": "two", "MASP_IMAP_PASSWORD_FILE": str(secret)}
    with pytest.raises(ConfigError, match="not both"):
        parse_config(shipped(), ROOT, env=env)


def test_systemd_credentials_are_read_by_the_variables_name(tmp_path: Path) -> None:
    # What `LoadCredential=masp_imap_password:/etc/masp/credentials/imap_password` gives.
    (tmp_path / "masp_imap_password").write_text("from-systemd\r\n")
    config = parse_config(shipped(), ROOT, env={"CREDENTIALS_DIRECTORY": str(tmp_path)})
    assert config.mailbox.imap.password == "from-systemd"
    # A credential the unit does not load leaves the file's value alone.
    assert (
        config.mailbox.smtp.password == parse_config(shipped(), ROOT, env={}).mailbox.smtp.password
    )


def test_the_environment_wins_over_a_credential(tmp_path: Path) -> None:
    (tmp_path / "masp_imap_password").write_text("from-systemd")
    env = {"CREDENTIALS_DIRECTORY": str(tmp_path), "MASP_IMAP_PASSWORD": "from-env"}
    assert parse_config(shipped(), ROOT, env=env).mailbox.imap.password == "from-env"


def test_logging_and_health_have_defaults_and_are_checked() -> None:
    config = parse_config(shipped(), ROOT, env={})
    assert config.logging.format == "text"
    assert config.health.missed_polls == 3
    tree = shipped()
    tree["logging"] = {"format": "xml"}
    with pytest.raises(ConfigError) as caught:
        parse_config(tree, ROOT, env={})
    assert caught.value.key == "logging.format"
