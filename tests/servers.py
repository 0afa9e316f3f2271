"""Real mail servers on loopback for tests: Dovecot (IMAP + LMTP) and an aiosmtpd capture server."""

from __future__ import annotations

import base64
import imaplib
import json
import os
import pwd
import shutil
import smtplib
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult

from pipeline.config import ImapConfig
from tests.stand_ins.introspection import Introspection, running_introspection

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
PASSWORD = "secret"
MISSING_DOVECOT = (
    "Dovecot is not installed: run scripts/test.sh, which installs dovecot-imapd and dovecot-lmtpd"
)

# Written into a private directory per run; nothing under /etc/dovecot is read.
DOVECOT_CONF = """\
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = {auth_mechanisms}
auth_failure_delay = 0
protocols = imap lmtp
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
mail_location = maildir:{root}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
first_valid_gid = 1
imap_idle_notify_interval = 1 secs
mailbox_idle_check_interval = 1 secs
{oauth_passdb}passdb {{
  driver = static
  args = password={password}
  mechanisms = plain login
}}
userdb {{
  driver = static
  # Any user exists: LMTP delivers to fresh mailboxes without asking a passdb.
  args = uid={uid} gid={gid} home={root}/mail/%u allow_all_users=yes
}}
# No socket, no auth penalty: failed logins (some tests fail on purpose) must not make every
# later login from 127.0.0.1 wait longer and longer.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    address = 127.0.0.1
    port = {lmtp_port}
  }}
}}
"""


# Tokens are checked by an introspection endpoint (RFC 7662) the tests serve on loopback.
OAUTH_PASSDB = """\
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/dovecot-oauth2.conf.ext
}}
"""
OAUTH_CONF = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _two_free_ports() -> tuple[int, int]:
    """Two different free ports (two calls to `free_port` may give the same one)."""
    first = free_port()
    while (second := free_port()) == first:
        pass
    return first, second


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def mail_owner() -> tuple[int, int]:
    """Dovecot refuses uid 0 for mail, so mailboxes belong to an unprivileged system user."""
    for name in ("nobody", "dovecot"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return entry.pw_uid, entry.pw_gid
    raise RuntimeError("neither the 'nobody' nor the 'dovecot' user exists to own test mail")


def dovecot_installed() -> bool:
    return Path(DOVECOT).exists() and Path(DOVEADM).exists()


class Dovecot:
    """A private Dovecot in the foreground: IMAP and LMTP on free loopback ports, any user."""

    def __init__(self, introspection_url: str | None = None) -> None:
        """With `introspection_url`, SASL XOAUTH2 and OAUTHBEARER are offered too, and a token
        counts if that endpoint says it is active for the user (Dovecot's oauth2 passdb)."""
        self.introspection_url = introspection_url
        if not dovecot_installed():
            raise RuntimeError(MISSING_DOVECOT)
        # A short path under /tmp keeps Dovecot's unix sockets under the 108-byte limit.
        self.root = Path(tempfile.mkdtemp(prefix="masp-dc-", dir="/tmp"))
        self.config_path = self.root / "dovecot.conf"
        self.log_path = self.root / "dovecot.log"
        self.imap_port, self.lmtp_port = _two_free_ports()
        self.process: subprocess.Popen[bytes] | None = None
        self._stderr: BinaryIO | None = None

    def start(self, wait: float = 15.0, attempts: int = 3) -> None:
        """Start Dovecot; on free ports taken by something else meanwhile, again on new ones.

        A port `free_port` found free can be taken before Dovecot binds it (by another server
        of this run, or the two picks can even coincide): that must not fail a test run.
        """
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(wait)
                return
            except RuntimeError as exc:
                # Only a port taken meanwhile is worth new ports; a broken config is not.
                if attempt == attempts or "in use" not in str(exc).lower():
                    raise
            self.imap_port, self.lmtp_port = _two_free_ports()
            self.log_path.unlink(missing_ok=True)

    def _start_once(self, wait: float) -> None:
        self._write_config()
        self._stderr = (self.root / "stderr.log").open("wb")
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config_path)],
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
        )
        deadline = time.monotonic() + wait
        while not (port_open(self.imap_port) and port_open(self.lmtp_port)):
            if self.process.poll() is not None or time.monotonic() > deadline:
                tail = self.log_tail()
                self.stop()
                raise RuntimeError(f"Dovecot did not start; last log lines:\n{tail}")
            time.sleep(0.05)

    def _write_config(self) -> None:
        uid, gid = mail_owner()
        mail = self.root / "mail"
        mail.mkdir(exist_ok=True)
        os.chown(mail, uid, gid)
        mechanisms, oauth = "plain login", ""
        if self.introspection_url:
            mechanisms = "plain login xoauth2 oauthbearer"
            oauth = OAUTH_PASSDB.format(root=self.root)
            extra = self.root / "dovecot-oauth2.conf.ext"
            extra.write_text(OAUTH_CONF.format(url=self.introspection_url))
            extra.chmod(0o644)
        text = DOVECOT_CONF.format(
            auth_mechanisms=mechanisms,
            oauth_passdb=oauth,
            root=self.root,
            uid=uid,
            gid=gid,
            password=PASSWORD,
            imap_port=self.imap_port,
            lmtp_port=self.lmtp_port,
        )
        self.config_path.write_text(text)
        # mkdtemp makes a 0700 directory; Dovecot's own users must traverse down to the config.
        self.root.chmod(0o755)
        self.config_path.chmod(0o644)

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.doveadm("stop", check=False)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        texts = [p.read_text(errors="replace") for p in (self.log_path, self.root / "stderr.log")]
        return "\n".join("\n".join(t.splitlines()[-lines:]) for t in texts if t)

    def doveadm(self, *args: str, check: bool = True) -> str:
        result = subprocess.run(
            [DOVEADM, "-c", str(self.config_path), *args],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def deliver(self, user: str, raw: bytes, sender: str = "sender@example.org") -> None:
        """Deliver `raw` to `user`'s INBOX over LMTP, as a real mail server would."""
        with smtplib.LMTP("127.0.0.1", self.lmtp_port, timeout=10) as lmtp:
            lmtp.sendmail(sender, [user], raw)

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        out = self.doveadm("mailbox", "status", "-u", user, "uidvalidity", folder)
        return int(out.split("uidvalidity=")[1].split()[0])

    def force_uidvalidity_change(self, user: str, folder: str = "INBOX") -> int:
        """Give `folder` a new UIDVALIDITY (as a server rebuild would); return the new value."""
        new = self.uidvalidity(user, folder) % 4_000_000_000 + 1000
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(new), folder)
        return new

    def imap_config(self, user: str, password: str = PASSWORD) -> ImapConfig:
        return ImapConfig(
            host="127.0.0.1",
            port=self.imap_port,
            security="none",
            username=user,
            password=password,
            folder="INBOX",
            processed_folder="Processed",
            idle_seconds=10,
        )


class ImapAccount:
    """One fresh, empty mailbox on the shared Dovecot."""

    def __init__(self, server: Dovecot, user: str) -> None:
        self.server = server
        self.user = user
        self.password = PASSWORD
        self.config = server.imap_config(user)

    def deliver(self, raw: bytes) -> None:
        self.server.deliver(self.user, raw)

    def append(self, raw: bytes, received: datetime) -> None:
        """Put `raw` in the INBOX received at `received` (its IMAP INTERNALDATE), for a
        service whose clock is frozen on another day than today."""
        with imaplib.IMAP4("127.0.0.1", self.server.imap_port) as imap:
            imap.login(self.user, self.password)
            imap.append("INBOX", None, imaplib.Time2Internaldate(received), raw)

    def force_uidvalidity_change(self, folder: str = "INBOX") -> int:
        return self.server.force_uidvalidity_change(self.user, folder)


def fresh_account(server: Dovecot) -> ImapAccount:
    """A fresh, empty mailbox: a user name nobody has used, which the static passdb accepts."""
    return ImapAccount(server, f"user{uuid.uuid4().hex[:12]}")


class _Capture:
    """aiosmtpd handler: records what each DATA carried, byte for byte."""

    def __init__(self, server: SmtpCapture) -> None:
        self.server = server

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if address.lower() in self.server.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        raw = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogateescape")
        with self.server.lock:
            self.server.messages.append((envelope.mail_from, list(envelope.rcpt_tos), raw))
            self.server.peers.append(session.peer)
            self.server.smtputf8_used.append(bool(envelope.smtp_utf8))
        return "250 OK message captured"


class _XOAuth2Capture(_Capture):
    """As `_Capture`, taking mail only after AUTH XOAUTH2 with a token the server accepts,
    answering a refused one as Exchange Online does: a 334 challenge carrying the error in
    JSON, which the client answers with an empty line, then 535."""

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        # As auth_required would, without aiosmtpd's warning about AUTH outside TLS.
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        if len(args) == 1:
            answer = await server.challenge_auth("")
            if answer is MISSING:
                return AuthResult(success=False, handled=False)
        else:
            answer = base64.b64decode(args[1])
        fields = dict(
            part.split("=", 1) for part in bytes(answer).decode().split("\x01") if "=" in part
        )
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        checker = self.server.xoauth2
        if checker is not None and checker(user, token):
            return AuthResult(success=True, auth_data=user)
        self.server.auth_refused += 1
        error = json.dumps({"status": "401", "schemes": "bearer", "scope": "mail"})
        await server.challenge_auth(error)
        return AuthResult(
            success=False, handled=False, message="535 5.7.3 Authentication unsuccessful"
        )


class SmtpCapture:
    """A real SMTP server on loopback that keeps every message; stop() and start() keep the port.

    `smtputf8` (off by default, as on many servers) makes it offer SMTPUTF8 (RFC 6531) from
    the next start(): `restart(smtputf8=True)` turns it on for a running server.
    """

    def __init__(
        self,
        port: int | None = None,
        smtputf8: bool = False,
        xoauth2: Callable[[str, str], bool] | None = None,
    ) -> None:
        """With `xoauth2` (user, token -> accepted), mail is taken only after AUTH XOAUTH2."""
        self.xoauth2 = xoauth2
        self.auth_refused = 0
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.smtputf8 = smtputf8
        self.messages: list[tuple[str, list[str], bytes]] = []
        # Addresses answered "550 mailbox unavailable", as a real server does for unknown users.
        self.refuse: set[str] = set()
        # The client's (host, port) per message: equal peers mean one reused connection.
        self.peers: list[tuple[str, int]] = []
        # Per message: whether the client asked for SMTPUTF8 in its MAIL command.
        self.smtputf8_used: list[bool] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        if self._controller is not None:
            return
        # A fresh controller each time, because a stopped one cannot be restarted reliably.
        if self.xoauth2 is None:
            controller = Controller(
                _Capture(self), hostname=self.host, port=self.port, enable_SMTPUTF8=self.smtputf8
            )
        else:
            # Loopback only, so no TLS: AUTH is offered in the clear (MAIL wants it first).
            controller = Controller(
                _XOAuth2Capture(self),
                hostname=self.host,
                port=self.port,
                enable_SMTPUTF8=self.smtputf8,
                auth_require_tls=False,
                auth_exclude_mechanism=["PLAIN", "LOGIN"],
            )
        controller.start()
        self._controller = controller

    def restart(self, smtputf8: bool) -> None:
        """Stop and start again on the same port, offering SMTPUTF8 or not."""
        self.stop()
        self.smtputf8 = smtputf8
        self.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list[tuple[str, list[str], bytes]]:
        """Wait until at least `count` messages arrived; return them all."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)


@contextmanager
def running_smtp(xoauth2: Callable[[str, str], bool] | None = None) -> Iterator[SmtpCapture]:
    """A capturing SMTP server on a free loopback port, stopped on the way out."""
    server = SmtpCapture(xoauth2=xoauth2)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class OAuthMailServer:
    """A Dovecot that also takes SASL XOAUTH2, checking tokens at `introspection`, where a
    test grants its Entra stand-in's tokens one mailbox (as Exchange Online would)."""

    dovecot: Dovecot
    introspection: Introspection


@contextmanager
def running_oauth_dovecot() -> Iterator[OAuthMailServer]:
    with running_introspection() as introspection:
        server = Dovecot(introspection.url)
        try:
            server.start()
            yield OAuthMailServer(server, introspection)
        finally:
            server.cleanup()


def fresh_mailbox(server: Dovecot) -> ImapAccount:
    """A fresh, empty mailbox named by an address, as a shared mailbox in Exchange Online is
    (XOAUTH2 signs in as the mailbox's address); a person still opens it with the password."""
    return ImapAccount(server, f"panel-{uuid.uuid4().hex[:12]}@example.org")
