"""IMAP back-end: reads the panel inbox O(new) by UIDVALIDITY/UIDNEXT, with IDLE as the wake-up."""

from __future__ import annotations

import imaplib
import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone

from imap_tools import MailBox, MailBoxStartTls, MailBoxUnencrypted
from imap_tools.errors import ImapToolsError
from imap_tools.mailbox import BaseMailBox
from imap_tools.utils import encode_folder

from pipeline.closing import Closing
from pipeline.config import ImapConfig
from pipeline.errors import MailboxError
from pipeline.mailbox.base import Cursor, InboundMessage, Known, LastSeen, Location
from pipeline.mailbox.oauth import TokenProvider, refused_token_message, xoauth2

log = logging.getLogger(__name__)

# Messages per FETCH, and bytes per FETCH: together they bound the memory one batch can use.
FETCH_BATCH = 50
FETCH_BATCH_BYTES = 25_000_000
# UIDs per MOVE/COPY command, which keeps command lines short even when UIDs are scattered.
MOVE_BATCH = 500
# RFC 2177: a client must re-issue IDLE within 29 minutes or the server may log it off.
IDLE_LIMIT_SECONDS = 29 * 60
# How often a blocking wait looks at the stop event.
STOP_CHECK_SECONDS = 1.0
# Polls that return at once with nothing in a row: the socket is at EOF, not merely readable.
MAX_EMPTY_WAKEUPS = 50

CHECK_SERVER = "mailbox.imap.host, mailbox.imap.port and mailbox.imap.security"
CHECK_LOGIN = "the credentials in mailbox.imap.username and mailbox.imap.password"
# What Exchange Online needs before it takes the app's token for a mailbox over IMAP.
IMAP_PERMISSION = "IMAP.AccessAsApp"
FAILURES = (imaplib.IMAP4.error, OSError, ImapToolsError)

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {name: number for number, name in enumerate(_MONTH_NAMES, 1)}
_INTERNALDATE = re.compile(
    r"\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})"
)
_RESPONSE_START = re.compile(rb"^\d+ \(")
_NEW_MAIL = re.compile(rb"^\* \d+ (EXISTS|RECENT)\b", re.IGNORECASE)


class ImapSource(Closing):
    """The panel inbox on an IMAP server; use it as a context manager to hold one session."""

    name = "imap"

    def __init__(
        self,
        cfg: ImapConfig,
        *,
        timeout: float = 30.0,
        tokens: TokenProvider | None = None,
        address: str = "",
    ) -> None:
        """`tokens` and `address` (the mailbox's address, which XOAUTH2 signs in as) are for
        `auth: oauth2`; a password login needs neither."""
        self._cfg = cfg
        self._timeout = timeout
        self._tokens = tokens
        # Exchange Online wants the mailbox's own address, whatever the password login was.
        self._user = address if cfg.auth == "oauth2" else cfg.username
        self._box: BaseMailBox | None = None
        self._caps: frozenset[str] = frozenset()
        self._processed_ready = False
        # UIDNEXT as last seen by fetch_new, so wait_for_mail notices mail that came in between.
        self._uidnext: int | None = None

    # -- session ---------------------------------------------------------------------------

    def __enter__(self) -> ImapSource:
        box = self._connect()
        try:
            self._login(box)
            self._caps = self._read_capabilities(box)
        except MailboxError:
            _close_quietly(box)
            raise
        self._box = box
        self._processed_ready = False
        return self

    def close(self) -> None:
        box, self._box = self._box, None
        if box is not None:
            _logout_quietly(box)

    @property
    def capabilities(self) -> frozenset[str]:
        """What the server offers after login (upper case), e.g. IDLE, MOVE, UIDPLUS."""
        return self._caps

    def _connect(self) -> BaseMailBox:
        cfg = self._cfg
        try:
            if cfg.security == "ssl":
                return MailBox(cfg.host, cfg.port, timeout=self._timeout)
            if cfg.security == "starttls":
                return MailBoxStartTls(cfg.host, cfg.port, timeout=self._timeout)
            return MailBoxUnencrypted(cfg.host, cfg.port, timeout=self._timeout)
        except (*FAILURES, ValueError) as exc:
            raise MailboxError(
                f"could not connect to the IMAP server at {self._where()} "
                f"({type(exc).__name__}); check {CHECK_SERVER}"
            ) from exc

    def _login(self, box: BaseMailBox) -> None:
        if self._cfg.auth == "oauth2":
            self._login_oauth(box)
            return
        try:
            box.login(self._cfg.username, self._cfg.password, initial_folder=None)
        except FAILURES as exc:
            raise MailboxError(
                f"the IMAP server at {self._where()} refused the login; check {CHECK_LOGIN}",
                login_refused=True,
            ) from exc

    def _login_oauth(self, box: BaseMailBox) -> None:
        """SASL XOAUTH2 with the app's own token; a refused token once more with a new one."""
        tokens = self._tokens
        if tokens is None or not self._user:
            raise MailboxError(
                "mailbox.imap.auth is oauth2, which needs mailbox.oauth (the app registration) "
                "and mailbox.address"
            )
        for attempt in (1, 2):
            try:
                _authenticate_xoauth2(box, self._user, tokens.token())
                return
            except (imaplib.IMAP4.abort, OSError) as exc:
                raise MailboxError(
                    f"the connection to the IMAP server at {self._where()} failed while signing "
                    f"in ({type(exc).__name__}); check {CHECK_SERVER}"
                ) from exc
            except imaplib.IMAP4.error:
                # Expired early or revoked: msal would hand out the same token, so drop it.
                tokens.forget()
                if attempt == 1:
                    log.info("the IMAP server refused the app's token; asking for a new one")
        raise MailboxError(
            refused_token_message("IMAP", self._where(), tokens, IMAP_PERMISSION, self._user),
            login_refused=True,
        )

    def _read_capabilities(self, box: BaseMailBox) -> frozenset[str]:
        # imaplib keeps the list it saw before login, which lacks MOVE on Dovecot: ask again.
        with self._guard("reading capabilities", CHECK_SERVER):
            _, data = box.client.capability()
        words = b" ".join(d for d in data if isinstance(d, bytes)).decode("ascii", "replace")
        caps = tuple(dict.fromkeys(words.upper().split()))
        # imap-tools decides between MOVE and COPY by this attribute, so keep it truthful.
        box.client.capabilities = caps
        return frozenset(caps)

    def _require(self) -> BaseMailBox:
        if self._box is None:
            raise MailboxError("the IMAP session is not open; use ImapSource in a 'with' block")
        return self._box

    def _where(self) -> str:
        return f"{self._cfg.host}:{self._cfg.port}"

    @contextmanager
    def _guard(self, doing: str, check: str) -> Iterator[None]:
        """Turn any protocol or socket failure into a MailboxError that says what to check."""
        try:
            yield
        except FAILURES as exc:
            raise MailboxError(
                f"IMAP {doing} failed on {self._where()} ({type(exc).__name__}); check {check}"
            ) from exc

    def _select(self, folder: str, *, readonly: bool) -> tuple[int, int | None]:
        """Open `folder`; return its UIDVALIDITY and UIDNEXT (None if the server omits it)."""
        box = self._require()
        check = "that the folder exists (mailbox.imap.folder) and the connection"
        with self._guard(f"opening folder '{folder}'", check):
            box.folder.set(folder, readonly=readonly)
            validity = _first_int(box.client.response("UIDVALIDITY")[1])
            uidnext = _first_int(box.client.response("UIDNEXT")[1])
        if validity is None:
            raise MailboxError(f"the IMAP server sent no UIDVALIDITY for folder '{folder}'")
        return validity, uidnext

    # -- reading -----------------------------------------------------------------------------

    def fetch_new(
        self, last_seen: LastSeen, known: Known, cursor: Cursor | None = None
    ) -> Iterator[InboundMessage]:
        """Yield messages not yet in the ledger, oldest first, without changing any flag."""
        folder = self._cfg.folder
        # EXAMINE (read-only) as well as BODY.PEEK: reading must never touch \Seen or \Recent.
        validity, uidnext = self._select(folder, readonly=True)
        self._uidnext = uidnext
        uids = self._new_uids(last_seen(folder, validity), uidnext)
        for chunk in _chunks(uids, FETCH_BATCH):
            wanted = [u for u in chunk if not known(_location(folder, validity, u))]
            for batch in self._size_batches(wanted):
                yield from self._fetch_batch(folder, validity, batch)

    def _new_uids(self, after: int | None, uidnext: int | None) -> list[int]:
        # UIDNEXT tells whether anything arrived since `after` without a SEARCH round trip.
        if after is not None and uidnext is not None and uidnext <= after + 1:
            return []
        criteria = "ALL" if after is None else f"UID {after + 1}:*"
        with self._guard("searching for new messages", CHECK_SERVER):
            found = self._require().uids(criteria, charset=None)
        # "N:*" always matches the newest message, even when its UID is below N.
        return sorted(u for u in map(int, found) if after is None or u > after)

    def _size_batches(self, uids: list[int]) -> Iterator[list[int]]:
        """Split `uids` so that no FETCH carries much more than FETCH_BATCH_BYTES."""
        if not uids:
            return
        sizes = self._sizes(uids)
        batch: list[int] = []
        total = 0
        for uid in (u for u in uids if u in sizes):
            if batch and total + sizes[uid] > FETCH_BATCH_BYTES:
                yield batch
                batch, total = [], 0
            batch.append(uid)
            total += sizes[uid]
        if batch:
            yield batch

    def _sizes(self, uids: list[int]) -> dict[int, int]:
        with self._guard("reading message sizes", CHECK_SERVER):
            _, data = self._require().client.uid("FETCH", _uid_set(uids), "(UID RFC822.SIZE)")
        sizes: dict[int, int] = {}
        for item in data:
            text = item[0] if isinstance(item, tuple) else item
            uid, size = _search_int(rb"UID (\d+)", text), _search_int(rb"RFC822\.SIZE (\d+)", text)
            if uid is not None and size is not None:
                sizes[uid] = size
        return sizes

    def _fetch_batch(self, folder: str, validity: int, uids: list[int]) -> list[InboundMessage]:
        with self._guard("fetching messages", CHECK_SERVER):
            typ, data = self._require().client.uid(
                "FETCH", _uid_set(uids), "(UID INTERNALDATE BODY.PEEK[])"
            )
        if typ != "OK":
            raise MailboxError(f"the IMAP server refused to fetch messages from '{folder}'")
        wanted = set(uids)
        found = [fetched(folder, validity, wanted, meta, raw) for meta, raw in _fetch_records(data)]
        return sorted((m for m in found if m is not None), key=lambda m: int(m.location.uid))

    # -- moving ------------------------------------------------------------------------------

    def mark_processed(self, locations: Sequence[Location]) -> list[Location]:
        """Move these messages to the processed folder; return the ones actually moved."""
        by_folder: dict[str, list[Location]] = {}
        for loc in locations:
            if loc.backend == self.name and loc.folder != self._cfg.processed_folder:
                by_folder.setdefault(loc.folder, []).append(loc)
        moved: list[Location] = []
        for folder, group in by_folder.items():
            moved.extend(self._move_from(folder, group))
        return moved

    def _move_from(self, folder: str, group: list[Location]) -> list[Location]:
        self._ensure_processed_folder()
        validity, _ = self._select(folder, readonly=False)
        # A UID from another UIDVALIDITY may now name a different message: leave it alone.
        current = {int(loc.uid): loc for loc in group if loc.uidvalidity == validity}
        if len(current) < len(group):
            stale = len(group) - len(current)
            log.warning("not moving %d message(s) whose UIDVALIDITY changed", stale)
        present = self._existing(sorted(current))
        for chunk in _chunks(present, MOVE_BATCH):
            self._move(chunk)
        return [current[uid] for uid in present]

    def _existing(self, uids: list[int]) -> list[int]:
        """The subset of `uids` still in the selected folder (a person may have moved some)."""
        if not uids:
            return []
        found: set[int] = set()
        for chunk in _chunks(uids, MOVE_BATCH):
            with self._guard("searching for processed messages", CHECK_SERVER):
                found.update(map(int, self._require().uids(f"UID {_uid_set(chunk)}", charset=None)))
        return [u for u in uids if u in found]

    def _move(self, uids: list[int]) -> None:
        client = self._require().client
        uid_set = _uid_set(uids)
        target = encode_folder(self._cfg.processed_folder).decode("ascii")
        with self._guard(f"moving messages to '{self._cfg.processed_folder}'", CHECK_SERVER):
            if "MOVE" in self._caps:
                _ok(client.uid("MOVE", uid_set, target), "UID MOVE")
                return
            _ok(client.uid("COPY", uid_set, target), "UID COPY")
            _ok(client.uid("STORE", uid_set, "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE")
            if "UIDPLUS" in self._caps:
                # UID EXPUNGE removes just these; plain EXPUNGE would take others' \Deleted too.
                _ok(client.uid("EXPUNGE", uid_set), "UID EXPUNGE")
            else:
                log.warning("server lacks MOVE and UIDPLUS: copies made, originals left \\Deleted")

    def _ensure_processed_folder(self) -> None:
        if self._processed_ready:
            return
        name = self._cfg.processed_folder
        box = self._require()
        check = "mailbox.imap.processed_folder and the account's rights to create folders"
        with self._guard(f"creating folder '{name}'", check):
            if not box.folder.exists(name):
                box.folder.create(name)
                box.folder.subscribe(name, True)
        self._processed_ready = True

    # -- waiting -----------------------------------------------------------------------------

    def wait_for_mail(self, timeout: float, stop: threading.Event) -> bool:
        """Block until new mail may have arrived (True), or `timeout` passes or `stop` is set."""
        if stop.is_set():
            return False
        if "IDLE" not in self._caps:
            _sleep(timeout, stop)
            return False
        _, uidnext = self._select(self._cfg.folder, readonly=True)
        # Mail that came after the last fetch is already counted, so IDLE would not report it.
        seen = self._uidnext
        if uidnext is not None and seen is not None and uidnext > seen:
            return True
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0 and not stop.is_set():
            idle_for = min(remaining, self._cfg.idle_seconds, IDLE_LIMIT_SECONDS)
            if self._idle_once(idle_for, stop):
                return True
        return False

    def _idle_once(self, seconds: float, stop: threading.Event) -> bool:
        """One IDLE command of at most `seconds`; True if the server announced new mail."""
        box = self._require()
        with self._guard("waiting for new mail (IDLE)", CHECK_SERVER):
            tag, announced = _idle_start(box)
            try:
                announced = announced or self._idle_poll(seconds, stop)
            finally:
                # EXISTS may come just before the reply to DONE; it counts as much as any other.
                announced = _idle_done(box, tag) or announced
        return announced

    def _idle_poll(self, seconds: float, stop: threading.Event) -> bool:
        idle = self._require().idle
        deadline = time.monotonic() + seconds
        empty_wakeups = 0
        while not stop.is_set() and (remaining := deadline - time.monotonic()) > 0:
            started = time.monotonic()
            lines = idle.poll(timeout=min(STOP_CHECK_SECONDS, remaining))
            if any(_NEW_MAIL.match(line) for line in lines):
                return True
            if any(line.startswith(b"* BYE") for line in lines):
                raise imaplib.IMAP4.abort("server said BYE during IDLE")
            quick = not lines and time.monotonic() - started < 0.01
            empty_wakeups = empty_wakeups + 1 if quick else 0
            if empty_wakeups > MAX_EMPTY_WAKEUPS:
                raise imaplib.IMAP4.abort("connection closed during IDLE")
        return False

    # -- facts -------------------------------------------------------------------------------

    def describe(self) -> list[str]:
        """Plain-English facts for `masp check-config`: server, capabilities, folders, counts."""
        if self._box is None:
            with self:
                return self._facts()
        return self._facts()

    def _facts(self) -> list[str]:
        box = self._require()
        cfg = self._cfg
        with self._guard("listing folders", CHECK_SERVER):
            folders = [f.name for f in box.folder.list()]
            count = box.folder.status(cfg.folder, ["MESSAGES"]).get("MESSAGES")
        has = {cap: "yes" if cap in self._caps else "no" for cap in ("IDLE", "MOVE", "UIDPLUS")}
        processed = "exists" if cfg.processed_folder in folders else "does not exist yet"
        return [
            f"IMAP server {self._where()} (security: {cfg.security}); {self._signed_in()}",
            f"Capabilities after login: {' '.join(sorted(self._caps))}",
            f"IDLE: {has['IDLE']}, MOVE: {has['MOVE']}, UIDPLUS: {has['UIDPLUS']}",
            f"Folders: {', '.join(sorted(folders))}",
            f"Inbox folder '{cfg.folder}' holds {count} message(s)",
            f"Processed folder '{cfg.processed_folder}' {processed}",
        ]

    def _signed_in(self) -> str:
        if self._cfg.auth == "oauth2" and self._tokens is not None:
            tenant = self._tokens.config.tenant_id
            return f"signed in as {self._user} with the app's OAuth 2.0 token (tenant {tenant})"
        return "login succeeded"


# -- helpers -----------------------------------------------------------------------------------


def _authenticate_xoauth2(box: BaseMailBox, user: str, token: str) -> None:
    """AUTHENTICATE XOAUTH2 with the initial response; imaplib raises IMAP4.error on NO/BAD."""
    # On refusal the server may send a challenge (an error in JSON) that wants an empty answer.
    answers = iter([xoauth2(user, token).encode("utf-8")])
    box.client.authenticate("XOAUTH2", lambda _: next(answers, b""))


def parse_internaldate(text: str) -> datetime:
    """An IMAP INTERNALDATE such as '28-Nov-2026 06:15:00 +0000' as an aware UTC datetime."""
    match = _INTERNALDATE.fullmatch(text)
    if match is None or match.group(2).title() not in _MONTHS:
        raise MailboxError(f"the IMAP server sent an unreadable INTERNALDATE {text!r}")
    day, month, year, hour, minute, second, sign, off_h, off_m = match.groups()
    offset = timedelta(hours=int(off_h), minutes=int(off_m)) * (-1 if sign == "-" else 1)
    fields = (int(year), _MONTHS[month.title()], int(day), int(hour), int(minute), int(second))
    local = datetime(*fields, tzinfo=timezone(offset))
    return local.astimezone(UTC)


def fetched(
    folder: str, validity: int, wanted: set[int], meta: bytes, raw: bytes
) -> InboundMessage | None:
    """One FETCH record as a message, or None if it is not one we asked for."""
    uid = _search_int(rb"UID (\d+)", meta)
    date = _search_text(rb'INTERNALDATE "([^"]+)"', meta)
    # A message expunged meanwhile, or an unsolicited response, is not ours to yield.
    if uid is None or uid not in wanted or date is None:
        return None
    received: datetime | None
    try:
        received = parse_internaldate(date)
    except (MailboxError, ValueError, OverflowError):
        # One message's unreadable date must not stop the ones after it (nor be skipped for
        # ever once a later UID is ledgered): the ledger uses the time it read it instead.
        log.warning("message UID %d has an unreadable INTERNALDATE; using the time read", uid)
        received = None
    return InboundMessage(_location(folder, validity, uid), raw, received)


def _fetch_records(data: Sequence[object]) -> Iterator[tuple[bytes, bytes]]:
    """(metadata, literal) per message in an imaplib FETCH result, whatever the item order."""
    meta: bytes | None = None
    raw = b""
    for item in data:
        if isinstance(item, tuple) and len(item) == 2:
            if meta is not None:
                yield meta, raw
            meta, raw = bytes(item[0]), bytes(item[1])
        elif isinstance(item, bytes) and meta is not None:
            if _RESPONSE_START.match(item):
                # An unsolicited FETCH (e.g. flags changed by another client) ends the record.
                yield meta, raw
                meta = None
            else:
                meta += b" " + item
    if meta is not None:
        yield meta, raw


def _idle_start(box: BaseMailBox) -> tuple[bytes, bool]:
    """Send IDLE and read up to the server's '+' go-ahead; True if EXISTS came first."""
    client = box.client
    tag: bytes = client._command("IDLE")
    announced = False
    while (line := client._get_response()) is not None:
        if client.tagged_commands.get(tag):
            raise imaplib.IMAP4.error("the server refused IDLE")
        announced = announced or bool(_NEW_MAIL.match(line))
    return tag, announced


def _idle_done(box: BaseMailBox, tag: bytes) -> bool:
    """End IDLE; True if the responses before the server's OK announced new mail."""
    box.client.send(b"DONE\r\n")
    _, lines = box.consume_until_tagged_response(tag)
    return any(isinstance(line, bytes) and _NEW_MAIL.match(line) for line in lines)


def _uid_set(uids: Sequence[int]) -> str:
    """An IMAP sequence set with runs collapsed: [1, 2, 3, 7] -> '1:3,7'."""
    parts: list[str] = []
    ordered = sorted(set(uids))
    start = prev = ordered[0]
    for uid in [*ordered[1:], None]:
        if uid is not None and uid == prev + 1:
            prev = uid
            continue
        parts.append(str(start) if start == prev else f"{start}:{prev}")
        if uid is not None:
            start = prev = uid
    return ",".join(parts)


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _location(folder: str, validity: int, uid: int) -> Location:
    return Location("imap", folder, validity, str(uid))


def _first_int(values: Sequence[object]) -> int | None:
    for value in values:
        if isinstance(value, bytes) and value.strip().isdigit():
            return int(value)
    return None


def _search_int(pattern: bytes, text: object) -> int | None:
    found = re.search(pattern, text) if isinstance(text, bytes) else None
    return int(found.group(1)) if found else None


def _search_text(pattern: bytes, text: bytes) -> str | None:
    found = re.search(pattern, text)
    return found.group(1).decode("ascii", "replace") if found else None


def _ok(result: tuple[str, object], command: str) -> None:
    if result[0] != "OK":
        raise MailboxError(f"the IMAP server refused {command}; check the account's rights")


def _sleep(seconds: float, stop: threading.Event) -> None:
    # Event.wait wakes as soon as stop is set, so this never overshoots a shutdown.
    stop.wait(max(0.0, seconds))


def _close_quietly(box: BaseMailBox) -> None:
    try:
        box.client.shutdown()
    except FAILURES:
        log.debug("closing a failed IMAP connection raised; ignored")


def _logout_quietly(box: BaseMailBox) -> None:
    # The session is over either way; a failed LOGOUT must not hide the caller's own error.
    try:
        box.client.logout()
    except FAILURES:
        _close_quietly(box)
