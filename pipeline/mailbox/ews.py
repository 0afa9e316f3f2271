"""EWS back-end for on-premises Exchange Server (exchangelib): a given endpoint, no autodiscover.

Reading follows SyncFolderItems: the sync state is kept in the database (the `Cursor`) and put
only after every message it covers was yielded, so a crash reads again what the ledger already
holds, never skips what it does not. An invalid sync state starts the sync afresh; `known()`
and the ledger's dedupe keep that from filing anything twice. Processed mail is moved in bulk
(MoveItem); sending hands the rendered MIME to CreateItem with SendAndSaveCopy, unchanged.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlparse

import requests
from exchangelib import (
    BASIC,
    DELEGATE,
    GSSAPI,
    NTLM,
    OAUTH2,
    Account,
    Build,
    Configuration,
    Credentials,
    FaultTolerance,
    Folder,
    Message,
    OAuth2AuthorizationCodeCredentials,
    Version,
)
from exchangelib.errors import (
    ErrorAccessDenied,
    ErrorInvalidSyncStateData,
    ErrorItemNotFound,
    ErrorNonExistentMailbox,
    EWSError,
    RateLimitError,
    UnauthorizedError,
)
from exchangelib.fields import FieldPath
from exchangelib.folders import SHALLOW, FolderCollection
from exchangelib.protocol import BaseProtocol, Protocol
from oauthlib.oauth2 import OAuth2Token  # type: ignore[import-untyped]

from pipeline.closing import Closing
from pipeline.config import MailboxConfig
from pipeline.errors import ConfigError, MailboxError, SendError, Unsendable
from pipeline.mailbox.base import Cursor, InboundMessage, Known, LastSeen, Location

log = logging.getLogger(__name__)

BACKEND = "ews"
# Items per GetItem: bounds the memory one batch of MIME can use.
FETCH_BATCH = 20
# Items per MoveItem.
MOVE_BATCH = 200
ONLINE_WARNING = (
    "EWS in Exchange Online is being disabled from 1 Oct 2026 and removed on 1 Apr 2027: "
    "use backend graph"
)
CHECK_SERVER = "mailbox.ews.server and the network"
CHECK_LOGIN = "mailbox.ews.auth, mailbox.ews.username and mailbox.ews.password"
BUILDS = {"2013": Build(15, 0, 847), "2016": Build(15, 1), "2019": Build(15, 2)}
AUTH_TYPES = {"ntlm": NTLM, "kerberos": GSSAPI, "oauth2": OAUTH2, "basic": BASIC}
FAILURES = (EWSError, requests.RequestException, OSError, ValueError)


def is_exchange_online(server: str) -> bool:
    host = (urlparse(server).hostname or "").lower()
    return host == "office365.com" or host.endswith(".office365.com")


class _TrustAdapter(requests.adapters.HTTPAdapter):
    """exchangelib's HTTP adapter, with a configured CA file given on every request to its
    endpoint. (A session-wide `verify` loses to REQUESTS_CA_BUNDLE in the environment.)"""

    ca_files: ClassVar[dict[str, str]] = {}

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        url = str(request.url or "")
        for prefix, ca_file in self.ca_files.items():
            if url.startswith(prefix):
                kwargs["verify"] = ca_file
        return super().send(request, *args, **kwargs)


def _trust(endpoint: str, ca_file: str) -> None:
    _TrustAdapter.ca_files[endpoint] = ca_file
    if BaseProtocol.HTTP_ADAPTER_CLS is not _TrustAdapter:
        BaseProtocol.HTTP_ADAPTER_CLS = _TrustAdapter


class _Patience(FaultTolerance):  # type: ignore[misc]
    """exchangelib's back-off on throttling (bounded by max_wait), except that a refused
    sign-in (HTTP 401) is said at once: exchangelib would wait on it as if it were throttling."""

    def raise_response_errors(self, response: Any) -> Any:
        if response.status_code == 401:
            raise UnauthorizedError(f"Invalid credentials for {response.url}")
        return super().raise_response_errors(response)


class _StaleState(MailboxError):
    """The server no longer knows the sync state we gave it."""


class _Connection:
    """One exchangelib Account on the configured endpoint, with errors in plain English."""

    def __init__(self, mailbox: MailboxConfig, base_dir: Path | None = None) -> None:
        self.mailbox = mailbox
        self.cfg = mailbox.ews
        self.base = base_dir or Path(".")
        if not self.cfg.server:
            raise ConfigError("mailbox.ews.server", "give the EWS address, e.g. "
                              "https://mail.council.example/EWS/Exchange.asmx")  # fmt: skip
        if is_exchange_online(self.cfg.server):
            log.warning(ONLINE_WARNING)
        self._account: Account | None = None
        self._tokens: Any = None

    @property
    def where(self) -> str:
        return urlparse(self.cfg.server).netloc or self.cfg.server

    def account(self) -> Account:
        if self._account is None:
            config = self._configuration()
            # A fresh protocol each time: exchangelib would otherwise share one (its retry
            # policy and its sessions) between every account on the same endpoint.
            with suppress(KeyError):
                del Protocol[config]
            with self.guard("connecting"):
                account = Account(
                    primary_smtp_address=self.mailbox.address,
                    config=config,
                    autodiscover=False,
                    access_type=DELEGATE,
                )
            account.protocol.TIMEOUT = self.cfg.timeout_seconds
            self._account = account
        return self._account

    def _configuration(self) -> Configuration:
        cfg = self.cfg
        if cfg.ca_file:
            path = Path(cfg.ca_file).expanduser()
            path = path if path.is_absolute() else self.base / path
            if not path.is_file():
                raise ConfigError("mailbox.ews.ca_file", f"cannot read {path}")
            _trust(cfg.server, str(path))
        else:
            _TrustAdapter.ca_files.pop(cfg.server, None)
        if cfg.auth == "kerberos" and importlib.util.find_spec("requests_gssapi") is None:
            raise ConfigError(
                "mailbox.ews.auth",
                "kerberos needs the requests-gssapi package (pip install requests-gssapi)",
            )
        return Configuration(
            service_endpoint=cfg.server,
            credentials=self._credentials(),
            auth_type=AUTH_TYPES[cfg.auth],
            version=Version(build=BUILDS[cfg.version]),
            retry_policy=_Patience(max_wait=cfg.max_wait_seconds),
            max_connections=1,
        )

    def _credentials(self) -> Any:
        cfg = self.cfg
        if cfg.auth == "kerberos":
            return None  # the service's own Kerberos ticket (kinit / keytab)
        if cfg.auth == "oauth2":
            return OAuth2AuthorizationCodeCredentials(
                access_token=OAuth2Token({"access_token": self._token(), "token_type": "Bearer"})
            )
        if not cfg.username:
            raise ConfigError("mailbox.ews.username", f"{cfg.auth} sign-in needs a username")
        return Credentials(cfg.username, cfg.password)

    def _token(self) -> str:
        from pipeline.mailbox.oauth import TokenProvider

        if self._tokens is None:
            # Hybrid modern auth: the token's audience is the Exchange server's own address.
            parsed = urlparse(self.cfg.server)
            scope = f"{parsed.scheme}://{parsed.netloc}/.default"
            self._tokens = TokenProvider(self.mailbox.oauth, scope, self.base)
        token: str = self._tokens.token()
        return token

    def close(self) -> None:
        account, self._account = self._account, None
        if account is not None:
            with suppress(Exception):
                account.protocol.close()

    @contextmanager
    def guard(self, doing: str) -> Iterator[None]:
        try:
            yield
        except FAILURES as exc:
            refused = isinstance(exc, UnauthorizedError)
            raise MailboxError(self.explain(exc, doing), login_refused=refused) from exc

    def explain(self, exc: BaseException, doing: str) -> str:
        where = self.where
        if isinstance(exc, ErrorAccessDenied | ErrorNonExistentMailbox):
            who = self.cfg.username or "the service account"
            return (
                f"the Exchange server at {where} says {who} has no access to "
                f"{self.mailbox.address}'s mailbox ({type(exc).__name__}); give it FullAccess "
                "(Add-MailboxPermission) and Send As (Add-ADPermission)"
            )
        if isinstance(exc, UnauthorizedError):
            return f"the Exchange server at {where} refused the sign-in; check {CHECK_LOGIN}"
        if isinstance(exc, RateLimitError):
            return (
                f"the Exchange server at {where} is busy (throttling) for longer than "
                f"mailbox.ews.max_wait_seconds; the next poll tries again"
            )
        if isinstance(exc, requests.exceptions.SSLError) or "SSL" in str(exc)[:200]:
            return (
                f"the Exchange server at {where} has a certificate this machine does not trust; "
                "check mailbox.ews.ca_file"
            )
        return f"EWS {doing} failed on {where} ({type(exc).__name__}); check {CHECK_SERVER}"


class EwsSource(Closing):
    """The panel folder in an Exchange Server mailbox; a `with` block holds one connection."""

    name = BACKEND

    def __init__(self, mailbox: MailboxConfig, base_dir: Path | None = None) -> None:
        self._conn = _Connection(mailbox, base_dir)
        self._cfg = mailbox.ews
        self._processed: Folder | None = None

    def close(self) -> None:
        self._conn.close()
        self._processed = None

    # -- folders ---------------------------------------------------------------------------

    def _folder(self, name: str, *, create: bool = False) -> Folder:
        account = self._conn.account()
        with self._conn.guard(f"opening folder '{name}'"):
            if name.lower() == "inbox":
                found: Folder = account.inbox
                return found
            root = account.msg_folder_root
            for folder in FolderCollection(account=account, folders=[root]).find_folders(
                depth=SHALLOW, additional_fields={_NAME}
            ):
                if isinstance(folder, Folder) and (folder.name or "").lower() == name.lower():
                    return folder
            if not create:
                raise MailboxError(
                    f"there is no folder '{name}' in {self._conn.mailbox.address}'s mailbox; "
                    "check mailbox.ews.folder"
                )
            made = Folder(parent=root, name=name)
            made.save()
            log.info("created folder '%s' for processed mail", name)
            return made

    # -- reading ---------------------------------------------------------------------------

    def fetch_new(
        self, last_seen: LastSeen, known: Known, cursor: Cursor | None = None
    ) -> Iterator[InboundMessage]:
        """Yield messages not yet in the ledger, oldest first, without changing any flag."""
        name = self._cfg.folder
        key = f"sync:{name}"
        folder = self._folder(name)
        state = cursor.get(key) if cursor is not None else None
        created, new_state = self._sync(folder, state)
        wanted = [i for i in created if not known(_location(name, i))]
        for start in range(0, len(wanted), FETCH_BATCH):
            yield from self._fetch(name, wanted[start : start + FETCH_BATCH])
        if cursor is not None and new_state:
            cursor.put(key, new_state)

    def _sync(self, folder: Folder, state: str | None) -> tuple[list[str], str | None]:
        """The ids of items created since `state`, and the state that covers them."""
        try:
            return self._sync_once(folder, state)
        except _StaleState:
            log.warning("the Exchange server no longer knows our sync state; syncing afresh")
            return self._sync_once(folder, None)

    def _sync_once(self, folder: Folder, state: str | None) -> tuple[list[str], str | None]:
        folder.item_sync_state = None
        created: list[str] = []
        gone: set[str] = set()
        with self._conn.guard("reading the folder's changes (SyncFolderItems)"):
            try:
                for change, item in folder.sync_items(
                    sync_state=state, only_fields=["id", "changekey"]
                ):
                    item_id = getattr(item, "id", None)
                    if not isinstance(item_id, str):
                        continue
                    if change == "create":
                        created.append(item_id)
                    elif change == "delete":
                        gone.add(item_id)
            except ErrorInvalidSyncStateData as exc:
                raise _StaleState("the server forgot the sync state: syncing afresh") from exc
        new_state = folder.item_sync_state
        return [i for i in dict.fromkeys(created) if i not in gone], new_state

    def _fetch(self, name: str, ids: list[str]) -> list[InboundMessage]:
        account = self._conn.account()
        got: list[InboundMessage] = []
        with self._conn.guard("fetching messages (GetItem)"):
            items = list(
                account.fetch(
                    ids=[(i, None) for i in ids], only_fields=["mime_content", "datetime_received"]
                )
            )
        for item_id, item in zip(ids, items, strict=False):
            if isinstance(item, ErrorItemNotFound):
                continue  # a person moved or deleted it since the sync: nothing to read
            if isinstance(item, Exception):
                raise MailboxError(self._conn.explain(item, "fetching messages (GetItem)"))
            raw = getattr(item, "mime_content", None)
            if not isinstance(raw, bytes):
                continue
            received = getattr(item, "datetime_received", None)
            got.append(
                InboundMessage(
                    _location(name, item_id),
                    raw,
                    datetime.fromisoformat(received.isoformat()) if received else None,
                )
            )
        return sorted(got, key=lambda m: (m.received_at is None, m.received_at or _EPOCH))

    # -- moving ----------------------------------------------------------------------------

    def mark_processed(self, locations: Sequence[Location]) -> list[Location]:
        """Move these messages to the processed folder; return the ones actually moved."""
        mine = [
            loc
            for loc in locations
            if loc.backend == BACKEND and loc.folder != self._cfg.processed_folder
        ]
        if not mine:
            return []
        if self._processed is None:
            self._processed = self._folder(self._cfg.processed_folder, create=True)
        account = self._conn.account()
        moved: list[Location] = []
        for start in range(0, len(mine), MOVE_BATCH):
            chunk = mine[start : start + MOVE_BATCH]
            with self._conn.guard("moving processed mail (MoveItem)"):
                results = account.bulk_move(
                    ids=[(loc.uid, None) for loc in chunk], to_folder=self._processed
                )
            for loc, result in zip(chunk, results, strict=False):
                if isinstance(result, ErrorItemNotFound):
                    continue  # a person moved or deleted it first: left alone
                if isinstance(result, Exception):
                    log.warning("could not move a processed message (%s)", type(result).__name__)
                    continue
                moved.append(loc)
        return moved

    def wait_for_mail(self, timeout: float, stop: threading.Event) -> bool:
        # EWS has streaming notifications, but a poll on the sync state is enough here.
        stop.wait(timeout)
        return False

    def describe(self) -> list[str]:
        """Plain-English facts for `masp check-config`: server, version, folders, access."""
        facts = []
        if is_exchange_online(self._cfg.server):
            facts.append(ONLINE_WARNING)
        account = self._conn.account()
        folder = self._folder(self._cfg.folder)
        with self._conn.guard("listing folders"):
            names = [
                f.name
                for f in FolderCollection(
                    account=account, folders=[account.msg_folder_root]
                ).find_folders(depth=SHALLOW, additional_fields={_NAME})
                if isinstance(f, Folder) and f.name
            ]
        build = account.version.build
        facts += [
            f"EWS endpoint {self._cfg.server} (sign-in: {self._cfg.auth}); "
            f"Exchange Server build {build}, API {account.version.api_version}",
            f"mailbox {self._conn.mailbox.address}: folder '{folder.name or self._cfg.folder}' "
            f"found; folders: {', '.join(sorted(names)) or 'none'}",
            f"processed mail is moved to '{self._cfg.processed_folder}' "
            + (
                "(exists)"
                if self._cfg.processed_folder.lower() in {n.lower() for n in names}
                else "(created when first needed)"
            ),
        ]
        return facts


class EwsSender:
    """Sends rendered mail through Exchange (CreateItem, SendAndSaveCopy), MIME unchanged."""

    name = BACKEND

    def __init__(self, mailbox: MailboxConfig, base_dir: Path | None = None) -> None:
        self._conn = _Connection(mailbox, base_dir)

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        """Deliver `raw` to `recipients`; raise SendError if it may not have been accepted."""
        if not recipients:
            raise Unsendable("the message has no recipients, so there is nothing to send")
        mime = _with_recipients(raw, recipients)
        try:
            account = self._conn.account()
            message = Message(account=account, folder=account.sent, mime_content=mime)
            message.send_and_save()
        except MailboxError as exc:
            raise SendError(str(exc), login_refused=exc.login_refused) from exc
        except FAILURES as exc:
            permanent = (
                isinstance(exc, EWSError)
                and not isinstance(exc, RateLimitError | UnauthorizedError)
                and type(exc).__name__ not in {"ErrorServerBusy", "ErrorTimeoutExpired"}
            )
            raise SendError(
                self._conn.explain(exc, "sending (CreateItem)"),
                temporary=not permanent,
                login_refused=isinstance(exc, UnauthorizedError),
            ) from exc

    def close(self) -> None:
        self._conn.close()

    def describe(self) -> list[str]:
        facts = [ONLINE_WARNING] if is_exchange_online(self._conn.cfg.server) else []
        try:
            account = self._conn.account()
            with self._conn.guard("opening Sent Items"):
                sent = account.sent
        except MailboxError as exc:
            raise SendError(str(exc)) from exc
        return [
            *facts,
            f"mail is sent through {self._conn.cfg.server} as {self._conn.mailbox.address} "
            f"(a copy kept in '{sent.name or 'Sent Items'}')",
        ]


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAME = FieldPath(field=Folder.get_field_by_fieldname("name"))


def _location(folder: str, item_id: str) -> Location:
    return Location(BACKEND, folder, 0, item_id)


def _with_recipients(raw: bytes, recipients: Sequence[str]) -> bytes:
    """`raw` as it is when its To/Cc/Bcc name every recipient (Exchange sends to the MIME's
    recipients); otherwise with a Bcc line for the others, which Exchange removes on sending."""
    headers = BytesHeaderParser(policy=default_policy).parsebytes(raw)
    named = {
        address.lower()
        for _, address in getaddresses(
            [str(v) for key in ("To", "Cc", "Bcc") for v in headers.get_all(key, [])]
        )
    }
    missing = [r for r in recipients if r.lower() not in named]
    if not missing:
        return raw
    return b"Bcc: " + ", ".join(missing).encode("utf-8") + b"\r\n" + raw
