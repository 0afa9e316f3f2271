"""A stand-in for Microsoft Graph's mail API on 127.0.0.1 (no real tenant is reachable from here):
contract tests run the `graph` back-end against it. It holds one mailbox's folders and messages
in memory and speaks the documented subset with Microsoft's payload shapes, from the Microsoft
Graph v1.0 documentation pages named below:

- "List mailFolders" / "Get mailFolder" / "Create mailFolder": `GET /users/{id}/mailFolders`
  (`$filter=displayName eq '…'`, pages of `$top` linked by `@odata.nextLink`), well-known names
  (`inbox`, `sentitems`, `drafts`…), `POST /users/{id}/mailFolders {"displayName": …}` → 201.
- "message: delta": `GET …/mailFolders/{id}/messages/delta` answers pages of `value` linked by
  `@odata.nextLink`, the last with `@odata.deltaLink`; a later round with that link gives only
  what changed, removals as `{"id": …, "@removed": {"reason": "deleted"}}`. An expired token is
  `410 Gone` with `{"error": {"code": "syncStateNotFound", …}}` (`expire_delta()`).
- "Get MIME content of a message": `GET /users/{id}/messages/{id}/$value` → the raw MIME.
- "List messages": `GET /users/{id}/mailFolders/{id}/messages?$select=id&$top=…` → pages of
  `value` linked by `@odata.nextLink` (ids immutable when the request says so).
- "message: move": `POST /users/{id}/messages/{id}/move {"destinationId": …}` → 201 and the
  message. Ids change on every move unless the request said `Prefer: IdType="ImmutableId"`
  ("Obtain immutable identifiers for Outlook resources"); an old id is then 404 ErrorItemNotFound.
- "user: sendMail" (MIME): `POST /users/{id}/sendMail` with the MIME base64-encoded as
  `Content-Type: text/plain` → 202; "Create message" in MIME likewise → 201 (a draft);
  "message: send" → 202; requests over 4 MB → 413.
- "attachment: createUploadSession": `POST …/messages/{id}/attachments/createUploadSession
  {"AttachmentItem": {…}}` → `{"uploadUrl", "expirationDateTime", "nextExpectedRanges"}`; `PUT
  uploadUrl` with `Content-Range: bytes a-b/total` and no Authorization header → 200 with the
  next expected range, 201 once whole; "Add attachment" (`fileAttachment`, contentBytes).
- "Microsoft Graph throttling guidance": 429 with `Retry-After` (`throttle(n)`).
- Errors are `{"error": {"code", "message"}}`: 401 InvalidAuthenticationToken for a token the
  Entra stand-in did not issue (or expired), 403 ErrorAccessDenied when the token lacks the
  application permission (`roles`) the call needs (Mail.ReadWrite to read, Mail.Send to send).

Tokens are checked with the Entra stand-in (`entra.tokens.check(token, GRAPH)`); `grant(entra,
roles)` makes it issue JWT-shaped tokens listing `roles`, as Entra's do.
"""

from __future__ import annotations

import base64
import email
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from pipeline.mailbox.oauth import GRAPH
from tests.stand_ins.entra import Entra, Tokens

MAX_REQUEST = 4 * 1024 * 1024
IMMUTABLE = 'IdType="ImmutableId"'
WELL_KNOWN = {"inbox": "Inbox", "sentitems": "Sent Items", "drafts": "Drafts"}


def _new_id() -> str:
    return "AAMkAGI2" + secrets.token_urlsafe(33)


@dataclass
class JwtTokens(Tokens):
    """Entra's tokens as JWTs listing the app's application permissions in `roles`."""

    roles: list[str] = field(default_factory=lambda: ["Mail.ReadWrite", "Mail.Send"])

    def issue(self, scope: str) -> dict[str, Any]:
        issued = super().issue(scope)
        old = issued["access_token"]

        def part(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")

        token = ".".join(
            [part({"typ": "JWT", "alg": "RS256"}), part({"roles": self.roles, "n": old}), "sig"]
        )
        with self.lock:
            self.issued[token] = self.issued.pop(old)
        return issued | {"access_token": token}

    def roles_of(self, token: str) -> list[str]:
        try:
            payload = token.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (IndexError, ValueError):
            return []
        return list(claims.get("roles", []))


def grant(entra: Entra, roles: list[str]) -> JwtTokens:
    """Entra issues tokens with exactly these application permissions from now on."""
    tokens = JwtTokens(roles=list(roles))
    entra.tokens = tokens
    return tokens


@dataclass
class Folder:
    id: str
    name: str


@dataclass
class Stored:
    """A message in the mailbox: its immutable id, its current REST id, where it is."""

    immutable: str
    rest: str
    folder: str
    raw: bytes
    received: str
    read: bool = False
    to: list[str] | None = None
    cc: list[str] | None = None
    bcc: list[str] | None = None
    attachments: list[tuple[str, str, bytes]] = field(default_factory=list)


@dataclass
class Upload:
    message: str
    name: str
    content_type: str
    size: int
    data: bytearray = field(default_factory=bytearray)


class Mailbox:
    """One mailbox's state, and every change as (sequence, folder id, immutable id) for delta."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.lock = threading.RLock()
        self.folders: dict[str, Folder] = {}
        self.messages: dict[str, Stored] = {}
        self.by_rest: dict[str, str] = {}
        self.changes: list[tuple[int, str, str]] = []
        self.seq = 0
        # Delta tokens below this sequence are expired (410 syncStateNotFound).
        self.floor = 0
        self.pages: dict[str, tuple[list[dict[str, Any]], int]] = {}
        self.uploads: dict[str, Upload] = {}
        self.sent: list[tuple[list[str], bytes]] = []
        for name in ("Inbox", "Drafts", "Sent Items", "Deleted Items"):
            self.add_folder(name)

    def add_folder(self, name: str) -> Folder:
        folder = Folder(_new_id(), name)
        self.folders[folder.id] = folder
        return folder

    def folder_named(self, name: str) -> Folder:
        return next(f for f in self.folders.values() if f.name == name)

    def _change(self, folder: str, immutable: str) -> None:
        self.seq += 1
        self.changes.append((self.seq, folder, immutable))

    def add(self, raw: bytes, folder: str = "Inbox", received: str | None = None) -> Stored:
        with self.lock:
            when = received or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            stored = Stored(_new_id(), _new_id(), self.folder_named(folder).id, raw, when)
            self.messages[stored.immutable] = stored
            self.by_rest[stored.rest] = stored.immutable
            self._change(stored.folder, stored.immutable)
            return stored

    def move(self, stored: Stored, folder: str) -> None:
        """What Exchange does on a move: a new REST id, and a change in both folders."""
        with self.lock:
            self._change(stored.folder, stored.immutable)
            self.by_rest.pop(stored.rest, None)
            stored.rest, stored.folder = _new_id(), folder
            self.by_rest[stored.rest] = stored.immutable
            self._change(folder, stored.immutable)

    def find(self, message_id: str) -> Stored | None:
        with self.lock:
            found = self.messages.get(message_id)
            if found is None and message_id in self.by_rest:
                found = self.messages[self.by_rest[message_id]]
            return found

    def resolve_folder(self, key: str) -> Folder | None:
        if key.lower() in WELL_KNOWN:
            return self.folder_named(WELL_KNOWN[key.lower()])
        return self.folders.get(key)

    def in_folder(self, name: str) -> list[Stored]:
        folder = self.folder_named(name).id
        with self.lock:
            return [m for m in self.messages.values() if m.folder == folder]


class _Failed(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        self.status, self.code, self.message = status, code, message


@dataclass
class Graph:
    """The running stand-in and what a test can do to it."""

    entra: Entra
    mailbox: Mailbox
    port: int = 0
    # Requests answered (method, path, Prefer header), for tests of what the client sends.
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    throttled: list[int] = field(default_factory=lambda: [0, 1])
    away: bool = False

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}/v1.0"

    def config(self) -> dict[str, Any]:
        """`mailbox.graph` for a config tree."""
        return {"mailbox": self.mailbox.address, "base_url": self.base_url}

    def throttle(self, times: int, retry_after: int = 1) -> None:
        """The next `times` requests are answered 429 with Retry-After."""
        self.throttled[:] = [times, retry_after]

    def expire_delta(self) -> None:
        """Every delta link given so far is no longer valid (410 syncStateNotFound)."""
        with self.mailbox.lock:
            self.mailbox.floor = self.mailbox.seq + 1

    @contextmanager
    def outage(self) -> Iterator[None]:
        self.away = True
        try:
            yield
        finally:
            self.away = False


def _error(status: int, code: str, message: str) -> _Failed:
    return _Failed(status, code, message)


def _message_json(stored: Stored, immutable: bool) -> dict[str, Any]:
    headers = email.message_from_bytes(stored.raw.split(b"\r\n\r\n")[0].split(b"\n\n")[0])
    return {
        "id": stored.immutable if immutable else stored.rest,
        "internetMessageId": str(headers.get("Message-ID", "")),
        "receivedDateTime": stored.received,
        "parentFolderId": stored.folder,
        "subject": str(headers.get("Subject", "")),
        "isRead": stored.read,
    }


def _folder_json(box: Mailbox, folder: Folder) -> dict[str, Any]:
    with box.lock:
        count = sum(1 for m in box.messages.values() if m.folder == folder.id)
    return {
        "id": folder.id,
        "displayName": folder.name,
        "parentFolderId": "root",
        "childFolderCount": 0,
        "unreadItemCount": 0,
        "totalItemCount": count,
        "isHidden": False,
    }


def _addresses(raw: bytes, *names: str) -> list[str]:
    parsed = email.message_from_bytes(raw, policy=default)
    values = [str(v) for n in names for v in parsed.get_all(n, [])]
    return [a for _, a in getaddresses(values) if a]


def _as_sent(stored: Stored) -> tuple[list[str], bytes]:
    """The message as it leaves: the draft's MIME with the attachments added to it."""
    if stored.to is None:
        recipients = _addresses(stored.raw, "To", "Cc", "Bcc")
    else:
        recipients = [*stored.to, *(stored.cc or []), *(stored.bcc or [])]
    if not stored.attachments:
        return recipients, stored.raw
    message = email.message_from_bytes(stored.raw, policy=default)
    assert isinstance(message, EmailMessage)
    if not message.is_multipart():
        message.make_mixed()
    for name, content_type, data in stored.attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return recipients, message.as_bytes()


def _handler(graph: Graph) -> type[BaseHTTPRequestHandler]:
    box = graph.mailbox

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name.replace("_", "-"), value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, body: dict[str, Any] | None = None, **headers: str) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self._send(status, data, "application/json", **headers)

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def _handle(self, method: str) -> None:
            body = self._body()
            if graph.away:
                # The server is unreachable: the connection closes with no answer.
                self.close_connection = True
                self.connection.close()
                return
            url = urlparse(self.path)
            prefer = self.headers.get("Prefer", "")
            graph.requests.append((method, url.path, prefer))
            try:
                if graph.throttled[0] > 0:
                    graph.throttled[0] -= 1
                    raise _Failed(429, "TooManyRequests", "Please retry after the time given.")
                if url.path.startswith("/upload/"):
                    self._upload(method, url.path.removeprefix("/upload/"), body)
                    return
                self._authorised(method, url.path)
                self._route(method, url.path, parse_qs(url.query), body, IMMUTABLE in prefer)
            except _Failed as failed:
                extra = {"Retry_After": str(graph.throttled[1])} if failed.status == 429 else {}
                error = {"code": failed.code, "message": failed.message}
                self._json(failed.status, {"error": error}, **extra)

        def _authorised(self, method: str, path: str) -> None:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            if not graph.entra.tokens.check(token, GRAPH):
                raise _error(
                    401,
                    "InvalidAuthenticationToken",
                    "Access token has expired or is not yet valid.",
                )
            tokens = graph.entra.tokens
            if isinstance(tokens, JwtTokens):
                sending = path.endswith(("/sendMail", "/send"))
                needed = "Mail.Send" if sending else "Mail.ReadWrite"
                if needed not in tokens.roles_of(token):
                    raise _error(403, "ErrorAccessDenied", "Access is denied. Check credentials.")

        def _route(
            self, method: str, path: str, query: dict[str, list[str]], body: bytes, immutable: bool
        ) -> None:
            prefix = f"/v1.0/users/{box.address}/"
            if not unquote(path).startswith(prefix):
                raise _error(404, "ErrorInvalidUser", "The requested user is invalid.")
            parts = [unquote(p) for p in path[len(f"/v1.0/users/{box.address}/") :].split("/")]
            with box.lock:
                self._dispatch(method, parts, query, body, immutable)

        def _dispatch(
            self,
            method: str,
            parts: list[str],
            query: dict[str, list[str]],
            body: bytes,
            immutable: bool,
        ) -> None:
            if parts[0] == "mailFolders":
                self._folders(method, parts[1:], query, body, immutable)
            elif parts == ["sendMail"] and method == "POST":
                raw = self._mime(body)
                box.sent.append((_addresses(raw, "To", "Cc", "Bcc"), raw))
                self._json(202)
            elif parts == ["messages"] and method == "POST":
                draft = box.add(self._mime(body), "Drafts")
                self._json(201, _message_json(draft, immutable))
            elif parts[0] == "messages" and len(parts) >= 2:
                self._message(method, parts[1], parts[2:], body, immutable)
            else:
                raise _error(400, "BadRequest", "Unsupported segment.")

        def _mime(self, body: bytes) -> bytes:
            if len(body) > MAX_REQUEST:
                raise _error(413, "RequestEntityTooLarge", "The request exceeds 4 MB.")
            if self.headers.get("Content-Type", "").split(";")[0] != "text/plain":
                raise _error(400, "ErrorMimeContentInvalid", "MIME must be text/plain base64.")
            try:
                return base64.b64decode(body, validate=True)
            except ValueError:
                raise _error(400, "ErrorMimeContentInvalidBase64String", "Bad base64.") from None

        def _folders(
            self,
            method: str,
            parts: list[str],
            query: dict[str, list[str]],
            body: bytes,
            immutable: bool,
        ) -> None:
            if not parts and method == "POST":
                name = str(json.loads(body)["displayName"])
                if any(f.name == name for f in box.folders.values()):
                    raise _error(409, "ErrorFolderExists", "A folder with that name exists.")
                self._json(201, _folder_json(box, box.add_folder(name)))
                return
            if not parts:
                self._list_folders(query)
                return
            folder = box.resolve_folder(parts[0])
            if folder is None:
                raise _error(404, "ErrorItemNotFound", "The specified folder was not found.")
            if len(parts) == 1:
                self._json(200, _folder_json(box, folder))
            elif parts[1:] == ["messages", "delta"]:
                self._delta(folder, query, immutable)
            elif parts[1:] == ["messages"] and method == "GET":
                self._list_messages(folder, query, immutable)
            else:
                raise _error(400, "BadRequest", "Unsupported segment.")

        def _list_folders(self, query: dict[str, list[str]]) -> None:
            folders = list(box.folders.values())
            wanted = query.get("$filter", [""])[0]
            if wanted.startswith("displayName eq '"):
                name = wanted.removeprefix("displayName eq '")[:-1].replace("''", "'")
                folders = [f for f in folders if f.name == name]
            top = int(query.get("$top", ["10"])[0])
            skip = int(query.get("$skip", ["0"])[0])
            page: dict[str, Any] = {
                "value": [_folder_json(box, f) for f in folders[skip : skip + top]]
            }
            if skip + top < len(folders):
                base = f"{graph.base_url}/users/{box.address}/mailFolders"
                page["@odata.nextLink"] = f"{base}?$top={top}&$skip={skip + top}"
            self._json(200, page)

        def _list_messages(
            self, folder: Folder, query: dict[str, list[str]], immutable: bool
        ) -> None:
            """ "List messages" (`GET /users/{id}/mailFolders/{id}/messages`): pages of `value`
            of `$top` (at most 1,000) linked by `@odata.nextLink`; ids as the header asks."""
            with box.lock:
                here = [m for m in box.messages.values() if m.folder == folder.id]
            top = min(int(query.get("$top", ["10"])[0]), 1000)
            skip = int(query.get("$skip", ["0"])[0])
            ids = [m.immutable if immutable else m.rest for m in here]
            page: dict[str, Any] = {"value": [{"id": i} for i in ids[skip : skip + top]]}
            if skip + top < len(ids):
                base = f"{graph.base_url}/users/{box.address}/mailFolders/{folder.id}/messages"
                page["@odata.nextLink"] = f"{base}?$select=id&$top={top}&$skip={skip + top}"
            self._json(200, page)

        def _delta(self, folder: Folder, query: dict[str, list[str]], immutable: bool) -> None:
            size = 10
            for clause in self.headers.get("Prefer", "").split(","):
                if clause.strip().startswith("odata.maxpagesize="):
                    size = int(clause.strip().split("=")[1])
            if "$skiptoken" in query:
                token = query["$skiptoken"][0]
                if token not in box.pages:
                    raise _error(410, "syncStateNotFound", "The sync state is not found.")
                items, upto = box.pages.pop(token)
            elif "$deltatoken" in query:
                since = int(query["$deltatoken"][0])
                if since < box.floor:
                    raise _error(410, "syncStateNotFound", "The sync state has expired.")
                items, upto = self._since(folder, since, immutable), box.seq
            else:
                current = [m for m in box.messages.values() if m.folder == folder.id]
                items, upto = [_message_json(m, immutable) for m in current], box.seq
            base = f"{graph.base_url}/users/{box.address}/mailFolders/{folder.id}/messages/delta"
            page: dict[str, Any] = {"value": items[:size]}
            if len(items) > size:
                token = secrets.token_urlsafe(16)
                box.pages[token] = (items[size:], upto)
                page["@odata.nextLink"] = f"{base}?$skiptoken={token}"
            else:
                page["@odata.deltaLink"] = f"{base}?$deltatoken={upto}"
            self._json(200, page)

        def _since(self, folder: Folder, since: int, immutable: bool) -> list[dict[str, Any]]:
            # Changes are in sequence order: only those after `since` are looked at (O(new)).
            low, high = 0, len(box.changes)
            while low < high:
                mid = (low + high) // 2
                if box.changes[mid][0] <= since:
                    low = mid + 1
                else:
                    high = mid
            touched = dict.fromkeys(m for _, f, m in box.changes[low:] if f == folder.id)
            items: list[dict[str, Any]] = []
            for key in touched:
                stored = box.messages.get(key)
                if stored is not None and stored.folder == folder.id:
                    items.append(_message_json(stored, immutable))
                else:
                    items.append({"id": key, "@removed": {"reason": "deleted"}})
            return items

        def _message(
            self, method: str, key: str, rest: list[str], body: bytes, immutable: bool
        ) -> None:
            stored = box.find(key)
            if stored is None:
                raise _error(404, "ErrorItemNotFound", "The specified object was not found.")
            if method == "GET" and not rest:
                self._json(200, _message_json(stored, immutable))
            elif method == "GET" and rest == ["$value"]:
                self._send(200, stored.raw, "text/plain")
            elif method == "POST" and rest == ["move"]:
                target = box.resolve_folder(str(json.loads(body)["destinationId"]))
                if target is None:
                    raise _error(400, "ErrorInvalidIdMalformed", "Bad destinationId.")
                box.move(stored, target.id)
                self._json(201, _message_json(stored, immutable))
            elif method == "PATCH" and not rest:
                changes = json.loads(body)
                for name in ("to", "cc", "bcc"):
                    found = changes.get(f"{name}Recipients")
                    if found is not None:
                        setattr(stored, name, [r["emailAddress"]["address"] for r in found])
                self._json(200, _message_json(stored, immutable))
            elif method == "DELETE" and not rest:
                box.move(stored, box.folder_named("Deleted Items").id)
                self._json(204)
            elif method == "POST" and rest == ["attachments"]:
                attachment = json.loads(body)
                data = base64.b64decode(attachment["contentBytes"])
                if len(data) >= 3 * 1024 * 1024:
                    raise _error(413, "RequestEntityTooLarge", "Use an upload session for 3 MB+.")
                stored.attachments.append((attachment["name"], attachment["contentType"], data))
                self._json(201, {"id": _new_id(), "name": attachment["name"]})
            elif method == "POST" and rest == ["attachments", "createUploadSession"]:
                item = json.loads(body)["AttachmentItem"]
                session = secrets.token_urlsafe(16)
                box.uploads[session] = Upload(
                    stored.immutable, item["name"], item.get("contentType", ""), int(item["size"])
                )
                self._json(
                    201,
                    {
                        "uploadUrl": f"https://127.0.0.1:{graph.port}/upload/{session}",
                        "expirationDateTime": "2099-01-01T00:00:00Z",
                        "nextExpectedRanges": ["0-"],
                    },
                )
            elif method == "POST" and rest == ["send"]:
                box.sent.append(_as_sent(stored))
                box.move(stored, box.folder_named("Sent Items").id)
                self._json(202)
            else:
                raise _error(400, "BadRequest", "Unsupported segment.")

        def _upload(self, method: str, session: str, body: bytes) -> None:
            if method != "PUT" or session not in box.uploads:
                raise _error(404, "ErrorItemNotFound", "No such upload session.")
            if "Authorization" in self.headers:
                raise _error(400, "BadRequest", "The upload URL must be used without a token.")
            if len(body) > MAX_REQUEST:
                raise _error(413, "RequestEntityTooLarge", "A range must be under 4 MB.")
            upload = box.uploads[session]
            span, _, total = (
                self.headers.get("Content-Range", "").removeprefix("bytes ").partition("/")
            )
            start, _, end = span.partition("-")
            if int(start) != len(upload.data) or int(end) - int(start) + 1 != len(body):
                raise _error(416, "InvalidRange", "The range is not the next one expected.")
            if int(total) != upload.size:
                raise _error(400, "InvalidRange", "The total size does not match the session.")
            upload.data += body
            if len(upload.data) < upload.size:
                self._json(
                    200,
                    {
                        "expirationDateTime": "2099-01-01T00:00:00Z",
                        "nextExpectedRanges": [f"{len(upload.data)}-"],
                    },
                )
                return
            with box.lock:
                stored = box.messages[upload.message]
                stored.attachments.append((upload.name, upload.content_type, bytes(upload.data)))
                del box.uploads[session]
            self._json(201)

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

        def do_PUT(self) -> None:
            self._handle("PUT")

        def do_PATCH(self) -> None:
            self._handle("PATCH")

        def do_DELETE(self) -> None:
            self._handle("DELETE")

    return Handler


@contextmanager
def running_graph(entra: Entra, address: str = "panel@example.org") -> Iterator[Graph]:
    """The stand-in on a free loopback port, over HTTPS with the Entra stand-in's CA."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server.daemon_threads = True
    graph = Graph(entra, Mailbox(address), server.server_address[1])
    server.RequestHandlerClass = _handler(graph)
    server.socket = entra.tls.server_context().wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield graph
    finally:
        server.shutdown()
        server.server_close()
