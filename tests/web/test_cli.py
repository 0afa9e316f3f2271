"""`masp users add|list|remove` and `masp web`, run as the real command in a child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml
from sqlalchemy import select

from pipeline.config import load_config
from pipeline.store.db import Store
from pipeline.store.models import AuditEvent, WebUser
from tests.helpers import ROOT, config_tree, masp


def config_file(folder: Path) -> Path:
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config_tree()))
    return path


def rows(config: Path) -> list[WebUser]:
    store = Store.open(load_config(config).database_url)
    try:
        with store.session() as session:
            found = list(session.scalars(select(WebUser).order_by(WebUser.email)))
            session.expunge_all()
            return found
    finally:
        store.close()


def test_users_add_list_and_remove(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    secret = tmp_path / "password"
    secret.write_text("a long enough password\n")
    added = masp(
        "--config",
        str(config),
        *("users", "add", "Ada.Admin@Example.org", "--role", "administrator"),
        *("--name", "Ada Admin", "--password-file", str(secret)),
    )
    assert added.returncode == 0, added.stderr
    assert "Account ada.admin@example.org (administrator) saved." in added.stdout
    [row] = rows(config)
    assert row.email == "ada.admin@example.org" and row.name == "Ada Admin"
    # Only the argon2 hash is kept, never the password.
    assert row.password_hash is not None and row.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in row.password_hash
    listed = masp("--config", str(config), "users", "list")
    assert "ada.admin@example.org administrator (local) last signed in never" in listed.stdout
    removed = masp("--config", str(config), "users", "remove", "ada.admin@example.org")
    assert removed.returncode == 0, removed.stderr
    assert rows(config) == []
    again = masp("--config", str(config), "users", "remove", "ada.admin@example.org")
    assert again.returncode == 1 and "no console account" in again.stderr
    store = Store.open(load_config(config).database_url)
    with store.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    store.close()
    assert actions == ["web-user-added", "web-user-removed"]


def test_a_bad_role_or_a_short_password_is_refused_with_exit_2(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    secret = tmp_path / "password"
    secret.write_text("short")
    role = masp("--config", str(config), "users", "add", "a@example.org", "--role", "king")
    assert role.returncode == 2 and "unknown role 'king'" in role.stderr
    short = masp(
        *("--config", str(config), "users", "add", "a@example.org", "--role", "chair"),
        *("--password-file", str(secret)),
    )
    assert short.returncode == 2 and "at least 12 characters" in short.stderr
    assert rows(config) == []


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_masp_web_serves_the_console_on_loopback_and_stops_cleanly(tmp_path: Path) -> None:
    config = config_file(tmp_path)
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "pipeline", "--config", str(config), "web", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=5)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[1]
                assert time.monotonic() < deadline, "masp web did not start"
                time.sleep(0.2)
        assert page.status_code == 200 and "Sign in" in page.text
        assert "default-src 'self'" in page.headers["content-security-policy"]
        assert "server" not in page.headers
        # The session key was generated once, owner-only, in data_dir.
        key = tmp_path / "data" / "web-session.key"
        assert key.stat().st_mode & 0o077 == 0
    finally:
        process.send_signal(signal.SIGTERM)
        stdout, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    # Uvicorn's access log: the path of each request, which carries references and ids only.
    assert '"GET /sign-in HTTP/1.1" 200' in stdout
