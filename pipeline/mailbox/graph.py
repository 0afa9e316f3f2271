"""Microsoft Graph back-end: the panel mailbox in Exchange Online, read by delta and sent as MIME.

Shapes and limits from the Microsoft Graph v1.0 documentation: "message: delta" (pages linked by
`@odata.nextLink`, the last one carrying `@odata.deltaLink`, kept in the database as the cursor;
410 Gone when it expired), "Get MIME content of a message" (`$value`), "message: move",
"user: sendMail" (MIME as base64 `text/plain`, at most 4 MB a request), "attachment:
createUploadSession" (files of 3 MB or more, PUT in byte ranges), "Microsoft Graph throttling
guidance" (429/503 with Retry-After), and "Obtain immutable identifiers for Outlook resources"
(`Prefer: IdType="ImmutableId"`: an id that survives a move, so it is the ledger's key).
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from pipeline.closing import Closing
from pipeline.config import Config
from pipeline.errors import MailboxError, SendError, Unsendable
from pipeline.mailbox.base import Cursor, InboundMessage, Known, LastSeen, Location
from pipeline.mailbox.oauth import GRAPH, TokenProvider

log = logging.getLogger(__name__)

# Every request asks for ids that do not change when a message moves between folders.
PREFER_IMMUTABLE = 'IdType="ImmutableId"'
# A delta page of this many messages at most (Graph's own ceiling is larger).
PAGE_SIZE = 100
# sendMail and a MIME draft take at most 4 MB a request; base64 adds a third, so the MIME
# itself must stay under this.
MAX_MIME = 2_900_000
# Attachments of 3 MB or more go through an upload session, in ranges of this many bytes
# (a multiple of 320 KiB, as the upload documentation asks).
BIG_ATTACHMENT = 3 * 1024 * 1024
UPLOAD_CHUNK = 10 * 320 * 1024
# Throttling (429, 503): wait as Retry-After says, but never more than this often or this long,
# so one poll cannot hang; the next poll tries again.
MAX_WAITS = 3
MAX_WAIT_SECONDS = 30.0
TIMEOUT = httpx.Timeout(60.0, connect=15.0)
# Graph's well-known folder names ("mailFolder resource type"), by how a person writes them.
WELL_KNOWN = {
    "inbox": "inbox",
    "archive": "archive",
    "drafts": "drafts",
    "sent items": "sentitems",
    "deleted items": "deleteditems",
    "junk email": "junkemail",
}


class GraphFailure(MailboxError):
    """A request Graph refused or could not be reached for (status None)."""

    def __init__(self, status: int | None, code: str, detail: str) -> None:
        self.status, self.code, self.detail = status, code, detail
        super().__init__(f"{status} {code}: {detail}")

    @property
    def temporary(self) -> bool:
        return self.status is None or self.status in (401, 408, 429) or self.status >= 500


class GraphClient:
    """One connection pool and one token for every request to Graph, retrying what Graph says
    to retry (401 once with a new token; 429 and 503 after Retry-After, a bounded number of
    times)."""

    def __init__(self, config: Config, sleep: Callable[[float], None] = time.sleep) -> None:
        self.mailbox = config.mailbox.graph.mailbox
        if not self.mailbox:
            raise MailboxError("mailbox.graph.mailbox is empty: give the panel mailbox's address")
        self.base = config.mailbox.graph.base_url.rstrip("/")
        oauth = config.mailbox.oauth
        self.tokens = TokenProvider(oauth, GRAPH, Path(config.base_dir))
        verify: ssl.SSLContext | bool = True
        if oauth.ca_file:
            verify = ssl.create_default_context(cafile=str(config.path(oauth.ca_file)))
        self.sleep = sleep
        self.http = httpx.Client(
            verify=verify,
            timeout=TIMEOUT,
            headers={"Prefer": PREFER_IMMUTABLE},
            limits=httpx.Limits(max_keepalive_connections=4, max_connections=8),
        )

    def close(self) -> None:
        self.http.close()

    def user(self, path: str) -> str:
        """The address of `path` under the panel mailbox."""
        return f"{self.base}/users/{quote(self.mailbox, safe='@')}{path}"

    def call(
        self,
        method: str,
        url: str,
        *,
        body: Any = None,
        mime: bytes | None = None,
        prefer: str = "",
        auth: bool = True,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send one request; return the response if it succeeded, else raise GraphFailure."""
        extra = dict(headers or {})
        if prefer:
            extra["Prefer"] = f"{PREFER_IMMUTABLE}, {prefer}"
        if mime is not None:
            content, extra["Content-Type"] = base64.b64encode(mime), "text/plain"
        elif body is not None:
            content, extra["Content-Type"] = json.dumps(body).encode(), "application/json"
        waits, renewed = 0, False
        while True:
            if auth:
                extra["Authorization"] = f"Bearer {self.tokens.token()}"
            try:
                response = self.http.request(method, url, content=content, headers=extra)
            except httpx.HTTPError as exc:
                raise GraphFailure(None, type(exc).__name__, "Graph could not be reached") from exc
            status = response.status_code
            if status == 401 and auth and not renewed:
                # Expired early or revoked: one new token, then Graph's answer stands.
                self.tokens.forget()
                renewed = True
                continue
            if status in (429, 503) and waits < MAX_WAITS:
                waits += 1
                wait = _retry_after(response)
                log.info("Microsoft Graph asked us to wait %.0f s (%d)", wait, status)
                self.sleep(wait)
                continue
            if status >= 400:
                raise _failure(response)
            return response

    def json(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        found = self.call(method, url, **kwargs).json()
        if not isinstance(found, dict):
            raise GraphFailure(200, "UnexpectedResponse", "Graph answered with no JSON object")
        return found


def _retry_after(response: httpx.Response) -> float:
    try:
        seconds = float(response.headers.get("Retry-After", "5"))
    except ValueError:
        seconds = 5.0
    return min(max(seconds, 0.0), MAX_WAIT_SECONDS)


def _failure(response: httpx.Response) -> GraphFailure:
    """Graph's error object (`{"error": {"code", "message"}}`) as a GraphFailure."""
    code, detail = "", ""
    try:
        error = response.json().get("error", {})
        code, detail = str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        pass
    return GraphFailure(response.status_code, code or response.reason_phrase, detail)


def _explain(failure: GraphFailure, doing: str, mailbox: str, permission: str) -> str:
    """A plain sentence for the administrator, naming what to check."""
    if failure.status is None:
        return (
            f"Microsoft Graph could not be reached while {doing} ({failure.code}); "
            "check the network and mailbox.graph.base_url"
        )
    if failure.status == 403 or failure.code == "ErrorAccessDenied":
        return (
            f"the app has no {permission} permission on {mailbox} (Graph refused {doing}: "
            f"{failure.code}); grant it with admin consent and check the mailbox scoping "
            "(docs/microsoft-365.md)"
        )
    if failure.status == 401:
        return f"Microsoft Graph refused the app's token while {doing}; check mailbox.oauth"
    if failure.status == 404 and failure.code in ("ErrorInvalidUser", "ResourceNotFound"):
        return f"Microsoft Graph has no mailbox {mailbox}; check mailbox.graph.mailbox"
    if failure.status in (429, 503):
        return f"Microsoft Graph is throttling us while {doing}; the next poll tries again"
    return f"Microsoft Graph refused {doing} ({failure.status} {failure.code}: {failure.detail})"


def _received(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
    except ValueError:
        return None


class _Folders:
    """Folder ids by display name (top level, or Graph's well-known names), found once."""

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph
        self.ids: dict[str, str] = {}

    def find(self, name: str) -> str | None:
        if name in self.ids:
            return self.ids[name]
        graph = self.graph
        known = WELL_KNOWN.get(name.strip().lower())
        found: str | None = None
        if known:
            found = str(graph.json("GET", graph.user(f"/mailFolders/{known}?$select=id"))["id"])
        else:
            quoted = name.replace("'", "''")
            url = graph.user(f"/mailFolders?$filter=displayName eq '{quote(quoted)}'&$select=id")
            folders = graph.json("GET", url).get("value", [])
            found = str(folders[0]["id"]) if folders else None
        if found is not None:
            self.ids[name] = found
        return found

    def ensure(self, name: str) -> str:
        found = self.find(name)
        if found is None:
            made = self.graph.json(
                "POST", self.graph.user("/mailFolders"), body={"displayName": name}
            )
            found = self.ids[name] = str(made["id"])
            log.info("created the folder '%s' in %s", name, self.graph.mailbox)
        return found

    def names(self) -> list[str]:
        url: str | None = self.graph.user("/mailFolders?$select=displayName&$top=100")
        names: list[str] = []
        while url:
            page = self.graph.json("GET", url)
            names += [str(f.get("displayName", "")) for f in page.get("value", [])]
            url = page.get("@odata.nextLink")
        return names


class GraphSource(Closing):
    """The panel folder of an Exchange Online mailbox, read through Microsoft Graph."""

    name = "graph"

    def __init__(self, config: Config, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._config = config
        self._cfg = config.mailbox.graph
        self._sleep = sleep
        self._graph: GraphClient | None = None
        self._folders: _Folders | None = None

    def __enter__(self) -> GraphSource:
        self._graph = GraphClient(self._config, self._sleep)
        self._folders = _Folders(self._graph)
        return self

    def close(self) -> None:
        graph, self._graph = self._graph, None
        if graph is not None:
            graph.close()

    def _require(self) -> tuple[GraphClient, _Folders]:
        if self._graph is None or self._folders is None:
            raise MailboxError("the Graph session is not open; use GraphSource in a 'with' block")
        return self._graph, self._folders

    def _doing(self, doing: str) -> AbstractContextManager[None]:
        return _guard(doing, self._cfg.mailbox, "Mail.ReadWrite", sending=False)

    def _folder(self) -> str:
        _, folders = self._require()
        with self._doing(f"finding the folder '{self._cfg.folder}'"):
            found = folders.find(self._cfg.folder)
        if found is None:
            where = f"{self._cfg.mailbox} has no folder '{self._cfg.folder}'"
            raise MailboxError(f"{where}; check mailbox.graph.folder")
        return found

    # -- reading -----------------------------------------------------------------------------

    def fetch_new(
        self, last_seen: LastSeen, known: Known, cursor: Cursor | None = None
    ) -> Iterator[InboundMessage]:
        """Yield messages not yet in the ledger, oldest first, without changing any flag."""
        graph, _ = self._require()
        folder = self._folder()
        name = f"delta:{folder}"
        entries, delta = self._changes(folder, cursor.get(name) if cursor else None)
        if delta is None and cursor is not None:
            cursor.put(name, None)
        new = [e for e in entries if not known(Location(self.name, folder, 0, e["id"]))]
        new.sort(key=lambda e: (str(e.get("receivedDateTime") or ""), e["id"]))
        for entry in new:
            raw = self._raw(graph, entry["id"])
            if raw is not None:
                location = Location(self.name, folder, 0, entry["id"])
                yield InboundMessage(location, raw, _received(entry.get("receivedDateTime")))
        # Put only now: the ledger writes it with the batch holding the last message above.
        if cursor is not None and delta is not None:
            cursor.put(name, delta)

    def _changes(self, folder: str, link: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """Every message added since `link` (all of them without one), and the next link."""
        graph, _ = self._require()
        start = graph.user(
            f"/mailFolders/{quote(folder, safe='')}/messages/delta"
            "?$select=id,internetMessageId,receivedDateTime"
        )
        url, entries = link or start, list[dict[str, Any]]()
        while True:
            try:
                with self._doing("reading new mail (delta)"):
                    page = self._page(graph, url)
            except _Expired:
                if url == start:
                    raise MailboxError(
                        "Graph refused a fresh delta query; try again later"
                    ) from None
                # The delta token expired: read the folder afresh. The ledger knows every
                # message already filed (by id, and by content and Message-ID), so none is twice.
                log.warning("the Graph delta link for the panel folder expired; reading it afresh")
                url, entries = start, []
                continue
            entries += [e for e in page.get("value", []) if "@removed" not in e and "id" in e]
            if next_link := page.get("@odata.nextLink"):
                url = str(next_link)
                continue
            delta = page.get("@odata.deltaLink")
            return entries, str(delta) if delta else None

    def _page(self, graph: GraphClient, url: str) -> dict[str, Any]:
        try:
            return graph.json("GET", url, prefer=f"odata.maxpagesize={PAGE_SIZE}")
        except GraphFailure as failure:
            if failure.status == 410 or failure.code in ("syncStateNotFound", "resyncRequired"):
                raise _Expired("the delta link expired") from failure
            raise

    def _raw(self, graph: GraphClient, message_id: str) -> bytes | None:
        url = graph.user(f"/messages/{quote(message_id, safe='')}/$value")
        raw: bytes | None = None
        try:
            with self._doing("downloading a message"):
                raw = graph.call("GET", url).content
        except _NotFound:
            # Deleted or moved away between the delta and now: nothing to file.
            log.info("a message went from the panel folder before it could be read")
        return raw

    # -- moving ------------------------------------------------------------------------------

    def mark_processed(self, locations: Sequence[Location]) -> list[Location]:
        """Move these messages to the processed folder; return the ones actually moved."""
        graph, folders = self._require()
        mine = [loc for loc in locations if loc.backend == self.name]
        if not mine:
            return []
        with self._doing(f"creating the folder '{self._cfg.processed_folder}'"):
            target = folders.ensure(self._cfg.processed_folder)
        # An immutable id follows a message wherever a person puts it: move only what is still
        # in the folder it was read in. One listing per folder (a page holds up to 1,000 ids)
        # rather than a request per message.
        with self._doing("listing the folder's messages"):
            still = {f: self._ids_in(graph, f) for f in {loc.folder for loc in mine} - {target}}
        moved = []
        for loc in mine:
            if loc.uid in still.get(loc.folder, ()) and self._move(graph, loc, target):
                moved.append(loc)
        return moved

    def _ids_in(self, graph: GraphClient, folder: str) -> set[str]:
        """The (immutable) ids of every message in a folder now."""
        path = f"/mailFolders/{quote(folder, safe='')}/messages?$select=id&$top=1000"
        url: str | None = graph.user(path)
        found: set[str] = set()
        while url:
            page = graph.json("GET", url)
            found |= {str(m["id"]) for m in page.get("value", []) if "id" in m}
            url = page.get("@odata.nextLink")
        return found

    def _move(self, graph: GraphClient, loc: Location, target: str) -> bool:
        message = graph.user(f"/messages/{quote(loc.uid, safe='')}")
        try:
            with self._doing("moving a processed message"):
                graph.call("POST", f"{message}/move", body={"destinationId": target})
        except _NotFound:
            # Deleted (or moved) by a person since the folder was listed.
            return False
        return True

    # -- waiting and facts -------------------------------------------------------------------

    def wait_for_mail(self, timeout: float, stop: threading.Event) -> bool:
        # No push here: a delta query that finds nothing is cheap, so the next poll asks.
        stop.wait(max(0.0, timeout))
        return False

    def describe(self) -> list[str]:
        """Plain-English facts for `masp check-config`: mailbox, folders, counts."""
        if self._graph is None:
            with self:
                return self._facts()
        return self._facts()

    def _facts(self) -> list[str]:
        graph, folders = self._require()
        cfg, oauth = self._cfg, self._config.mailbox.oauth
        with self._doing(f"listing the folders of {cfg.mailbox}"):
            names = folders.names()
        folder = self._folder()
        with self._doing(f"reading the folder '{cfg.folder}'"):
            info = graph.json("GET", graph.user(f"/mailFolders/{quote(folder, safe='')}"))
            processed = folders.find(cfg.processed_folder)
        state = "exists" if processed else "does not exist yet (it is created at the first move)"
        return [
            f"Microsoft Graph {graph.base}: signed in as app {oauth.client_id}",
            f"Mailbox {cfg.mailbox}: folders {', '.join(sorted(names))}",
            f"Inbox folder '{cfg.folder}' holds {info.get('totalItemCount', '?')} message(s)",
            f"Processed folder '{cfg.processed_folder}' {state}",
        ]


class _Expired(MailboxError):
    """The delta link is no longer valid (410 Gone)."""


class _NotFound(MailboxError):
    """Graph has no such message (any more)."""


@contextmanager
def _guard(doing: str, mailbox: str, permission: str, sending: bool) -> Iterator[None]:
    """Turn a GraphFailure into the caller's error, with a sentence naming what to check."""
    try:
        yield
    except GraphFailure as exc:
        if exc.status == 404 and exc.code == "ErrorItemNotFound":
            raise _NotFound("Graph has no such message") from exc
        message = _explain(exc, doing, mailbox, permission)
        # A 401 that outlived a fresh token is a refusal of the app's credentials, which
        # `masp health` reports as a login refusal until a poll signs in again.
        refused = exc.status == 401
        if sending:
            raise SendError(message, temporary=exc.temporary, login_refused=refused) from exc
        raise MailboxError(message, login_refused=refused) from exc
    except MailboxError as exc:
        # Entra ID refused (or could not be asked for) the token before Graph was called.
        if sending:
            raise SendError(str(exc), login_refused=exc.login_refused) from exc
        raise


# -- sending -----------------------------------------------------------------------------------


class GraphSender:
    """Sends the rendered MIME, unchanged, as the panel mailbox through Microsoft Graph."""

    name = "graph"

    def __init__(self, config: Config, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self._config = config
        self._mailbox = config.mailbox.graph.mailbox
        self._sleep = sleep
        self._graph: GraphClient | None = None

    def _client(self) -> GraphClient:
        if self._graph is None:
            try:
                self._graph = GraphClient(self._config, self._sleep)
            except MailboxError as exc:
                raise SendError(str(exc)) from exc
        return self._graph

    def _doing(self, doing: str) -> AbstractContextManager[None]:
        return _guard(doing, self._mailbox, "Mail.Send", sending=True)

    def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        """Deliver `raw` to exactly `recipients`; raise SendError if it may not be accepted."""
        if not recipients:
            raise Unsendable("the message has no recipients, so there is nothing to send")
        graph = self._client()
        try:
            if len(raw) <= MAX_MIME and _headed_to(raw) == _folded(recipients):
                with self._doing("sending an email (sendMail)"):
                    graph.call("POST", graph.user("/sendMail"), mime=raw)
                return
            self._send_by_draft(graph, raw, list(recipients))
        except _NotFound as exc:
            raise SendError(
                f"Microsoft Graph lost the draft while sending as {self._mailbox}"
            ) from exc
        except MailboxError as exc:
            # The token could not be had: the email waits in the outbox.
            raise SendError(str(exc)) from exc

    def _send_by_draft(self, graph: GraphClient, raw: bytes, recipients: list[str]) -> None:
        """A MIME draft without its big attachments, which follow by upload session (and the
        recipients set exactly), then sent: for what one sendMail request cannot carry."""
        head, big, small = _split(raw)
        with self._doing("creating a draft to send"):
            draft = graph.json("POST", graph.user("/messages"), mime=head)
        message = graph.user(f"/messages/{quote(str(draft['id']), safe='')}")
        try:
            with self._doing("setting the draft's recipients"):
                if _headed_to(raw) != _folded(recipients):
                    graph.call("PATCH", message, body=_recipients(raw, recipients))
            with self._doing("attaching a file to the draft"):
                for part in small:
                    graph.call("POST", f"{message}/attachments", body=_file_attachment(part))
                for part in big:
                    self._upload(graph, message, part)
            with self._doing("sending the draft"):
                graph.call("POST", f"{message}/send")
        except BaseException:
            self._discard(graph, message)
            raise

    def _upload(self, graph: GraphClient, message: str, part: Message) -> None:
        data = _payload(part)
        item = {
            "attachmentType": "file",
            "name": part.get_filename() or "attachment",
            "size": len(data),
            "contentType": part.get_content_type(),
        }
        url = f"{message}/attachments/createUploadSession"
        session = graph.json("POST", url, body={"AttachmentItem": item})
        upload = str(session["uploadUrl"])
        for start in range(0, len(data), UPLOAD_CHUNK):
            chunk = data[start : start + UPLOAD_CHUNK]
            end = start + len(chunk) - 1
            # The upload URL carries its own authorisation: a bearer token must not be sent.
            graph.call(
                "PUT",
                upload,
                content=chunk,
                auth=False,
                headers={
                    "Content-Range": f"bytes {start}-{end}/{len(data)}",
                    "Content-Type": "application/octet-stream",
                },
            )

    def _discard(self, graph: GraphClient, message: str) -> None:
        try:
            graph.call("DELETE", message)
        except (GraphFailure, MailboxError):
            log.warning("a draft could not be removed from %s after a failed send", self._mailbox)

    def close(self) -> None:
        graph, self._graph = self._graph, None
        if graph is not None:
            graph.close()

    def describe(self) -> list[str]:
        """Sends nothing: says where mail goes and whether the app's token grants Mail.Send."""
        graph = self._client()
        try:
            roles = _roles(graph.tokens.token())
        except MailboxError as exc:
            raise SendError(str(exc)) from exc
        where = f"emails are sent as {self._mailbox} through Microsoft Graph (sendMail)"
        if roles is None:
            return [
                where,
                "the token does not list its permissions; Mail.Send is proven at the first send",
            ]
        if "Mail.Send" not in roles:
            raise SendError(
                f"the app has no Mail.Send permission on {self._mailbox} (its token grants "
                f"{', '.join(sorted(roles)) or 'nothing'}); grant Mail.Send with admin consent"
            )
        return [where, f"the app's token grants: {', '.join(sorted(roles))}"]


def _roles(token: str) -> set[str] | None:
    """The application permissions (`roles`) an Entra access token lists, read without checking
    its signature (Graph checks it; this only informs check-config). None if it is not a JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    roles = claims.get("roles") if isinstance(claims, dict) else None
    return {str(r) for r in roles} if isinstance(roles, list) else set()


def _folded(addresses: Sequence[str]) -> set[str]:
    return {a.strip().lower() for a in addresses if a.strip()}


def _headers(raw: bytes) -> Message:
    head = raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
    return message_from_bytes(head + b"\n\n", policy=compat32)


def _addresses(headers: Message, name: str) -> list[str]:
    return [a for _, a in getaddresses([str(v) for v in headers.get_all(name, [])]) if a]


def _headed_to(raw: bytes) -> set[str]:
    """Whom Graph would send the MIME to: its To and Cc (and Bcc) headers."""
    headers = _headers(raw)
    return _folded([a for n in ("To", "Cc", "Bcc") for a in _addresses(headers, n)])


def _recipients(raw: bytes, recipients: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Exactly `recipients`: those the MIME shows in To or Cc stay there, the rest go Bcc."""
    headers = _headers(raw)
    to, cc = _folded(_addresses(headers, "To")), _folded(_addresses(headers, "Cc"))

    def shaped(addresses: list[str]) -> list[dict[str, Any]]:
        return [{"emailAddress": {"address": a}} for a in addresses]

    return {
        "toRecipients": shaped([r for r in recipients if r.lower() in to]),
        "ccRecipients": shaped([r for r in recipients if r.lower() in cc - to]),
        "bccRecipients": shaped([r for r in recipients if r.lower() not in to | cc]),
    }


def _payload(part: Message) -> bytes:
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _split(raw: bytes) -> tuple[bytes, list[Message], list[Message]]:
    """The MIME without the attachments one request cannot carry; the big ones (for upload
    sessions) and the smaller ones taken out to make room (posted one by one)."""
    message = message_from_bytes(raw, policy=compat32)
    if not message.is_multipart():
        return raw, [], []
    attachments = [p for p in message.walk() if p.get_filename() and not p.is_multipart()]
    big = [p for p in attachments if len(_payload(p)) >= BIG_ATTACHMENT]
    small: list[Message] = []
    rest = sorted((p for p in attachments if p not in big), key=lambda p: -len(_payload(p)))
    _remove(message, big)
    head = message.as_bytes() if big else raw
    while len(head) > MAX_MIME and rest:
        small.append(rest.pop(0))
        _remove(message, small[-1:])
        head = message.as_bytes()
    return head, big, small


def _remove(message: Message, parts: list[Message]) -> None:
    for container in message.walk():
        if container.is_multipart():
            payload = container.get_payload()
            if isinstance(payload, list):
                container.set_payload([p for p in payload if all(p is not q for q in parts)])


def _file_attachment(part: Message) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.fileAttachment",
        "name": part.get_filename() or "attachment",
        "contentType": part.get_content_type(),
        "contentBytes": base64.b64encode(_payload(part)).decode("ascii"),
    }
