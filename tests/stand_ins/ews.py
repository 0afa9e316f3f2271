"""A stand-in for an on-premises Exchange Server's EWS endpoint on 127.0.0.1 (no Exchange Server
can run here): HTTPS with a throw-away CA, basic auth (NTLM's challenge-response is not stood
in for; NTLM is tested only as the sign-in the configuration chooses), answering the subset of
EWS SOAP that exchangelib sends for the `ews` back-end. Shapes follow the EWS reference on
learn.microsoft.com:

- "GetFolder operation" / "FindFolder operation" / "CreateFolder operation": distinguished
  folders (root, msgfolderroot, inbox, sentitems) and folders by name under msgfolderroot;
- "SyncFolderItems operation": `SyncState`, `IncludesLastItemInRange`, `Changes` with
  `Create`/`Delete`; an unknown state is `ErrorInvalidSyncStateData`;
- "GetItem operation (email message)": `MimeContent` (base64) and `DateTimeReceived`;
- "MoveItem operation": one response message per item, `ErrorItemNotFound` for one gone;
- "CreateItem operation (email message)": `MimeContent` with `MessageDisposition`
  `SendAndSaveCopy`; the recipients are those the MIME names (To, Cc, Bcc);
- "EWS throttling in Exchange": a SOAP fault `ErrorServerBusy` with `BackOffMilliseconds`;
- `ErrorAccessDenied` when the account may not open the mailbox.

Every response carries the `ServerVersionInfo` header an Exchange 2016 server sends.

Hybrid modern auth (`mailbox.ews.auth: oauth2`): started with an Entra stand-in
(`running_ews(folder, entra)`), it takes only `Authorization: Bearer <token>` with a token that
Entra issued for the server's own address (`https://127.0.0.1:<port>/.default`, checked with
`entra.tokens.check`), and answers anything else 401 with `WWW-Authenticate: Bearer`.
"""

from __future__ import annotations

import base64
import itertools
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.parser import BytesHeaderParser
from email.policy import default
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from tests.stand_ins.entra import Entra
from tests.stand_ins.tls import Tls, make_tls

S = "http://schemas.xmlsoap.org/soap/envelope/"
M = "http://schemas.microsoft.com/exchange/services/2006/messages"
T = "http://schemas.microsoft.com/exchange/services/2006/types"
E = "http://schemas.microsoft.com/exchange/services/2006/errors"
USER, PASSWORD = "COUNCIL\\svc-masp", "test-password-not-real"
PATH = "/EWS/Exchange.asmx"
DISTINGUISHED = {"root": "Root", "msgfolderroot": "Top of Information Store",
                 "inbox": "Inbox", "sentitems": "Sent Items"}  # fmt: skip


@dataclass
class Item:
    id: str
    raw: bytes
    received: datetime
    read: bool = False


@dataclass
class EwsFolder:
    id: str
    name: str
    parent: str | None
    items: dict[str, Item] = field(default_factory=dict)
    # Every change, in order: ("create" | "delete", item id); a sync state is a place in it.
    log: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Sent:
    recipients: list[str]
    raw: bytes
    disposition: str


class Mailbox:
    """What the server holds, and what a test may do to it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.folders: dict[str, EwsFolder] = {}
        self.ids = itertools.count(1)
        self.epoch = 1
        self.sent: list[Sent] = []
        self.requests: list[str] = []
        # What the next requests of an operation answer instead: (operation, code, back-off ms).
        self.faults: list[tuple[str, str, int]] = []
        self.denied = False
        self.clock = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        for key, name in DISTINGUISHED.items():
            parent = (
                None if key == "root" else ("root" if key == "msgfolderroot" else "msgfolderroot")
            )
            self.folders[key] = EwsFolder(key, name, parent)

    def new_id(self, kind: str) -> str:
        return base64.b64encode(f"{kind}-{next(self.ids)}-{self.epoch}".encode()).decode()

    def folder_named(self, name: str) -> EwsFolder | None:
        for key, folder in self.folders.items():
            if folder.name.lower() == name.lower() or key == name.lower():
                return folder
        return None

    def add(self, folder: EwsFolder, raw: bytes, received: datetime | None = None) -> Item:
        with self.lock:
            self.clock += timedelta(seconds=1)
            item = Item(self.new_id("item"), raw, received or self.clock)
            folder.items[item.id] = item
            folder.log.append(("create", item.id))
            return item

    def remove(self, folder: EwsFolder, item_id: str) -> Item | None:
        with self.lock:
            item = folder.items.pop(item_id, None)
            if item is not None:
                folder.log.append(("delete", item_id))
            return item

    def deliver(self, raw: bytes) -> None:
        self.add(self.folders["inbox"], raw)

    def move_by_person(self, subject: str, to: str = "Elsewhere") -> None:
        with self.lock:
            target = self.folder_named(to) or self.make_folder(to)
            inbox = self.folders["inbox"]
            for item in list(inbox.items.values()):
                if _subject(item.raw) == subject:
                    moved = self.remove(inbox, item.id)
                    assert moved is not None
                    self.add(target, moved.raw, moved.received)

    def make_folder(self, name: str) -> EwsFolder:
        with self.lock:
            folder = EwsFolder(self.new_id("folder"), name, "msgfolderroot")
            self.folders[folder.id] = folder
            return folder

    def contents(self, name: str) -> list[bytes]:
        with self.lock:
            folder = self.folder_named(name)
            return [] if folder is None else [i.raw for i in folder.items.values()]

    def invalidate_sync_states(self) -> None:
        """The server forgets every sync state it gave (as after a mailbox move)."""
        with self.lock:
            self.epoch += 1


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        box = self.server.mailbox
        expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != PATH:
            self._reply(404, b"")
            return
        if not self._signed_in(expected):
            self.send_response(401)
            if self.server.entra is None:
                self.send_header("WWW-Authenticate", 'Basic realm="mail.council.example"')
            else:
                self.send_header("WWW-Authenticate", 'Bearer realm="", error="invalid_token"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        root = ET.fromstring(body)
        operation = next(iter(root.find(f"{{{S}}}Body") or []))
        name = operation.tag.split("}")[1]
        with box.lock:
            box.requests.append(name)
            fault = next((f for f in box.faults if f[0] in (name, "*")), None)
            if fault is not None:
                box.faults.remove(fault)
        if fault is not None:
            self._reply(500, _fault(fault[1], fault[2]))
            return
        answer = getattr(self, f"_{name}", None)
        if answer is None:
            self._reply(500, _fault("ErrorInvalidRequest", 0))
            return
        with box.lock:
            messages = answer(operation)
        self._reply(200, _envelope(name, messages))

    def _signed_in(self, basic: str) -> bool:
        given = self.headers.get("Authorization") or ""
        entra = self.server.entra
        if entra is None:
            return given == basic
        # The token's audience is the Exchange server itself (hybrid modern auth).
        audience = f"https://127.0.0.1:{self.server.server_address[1]}/.default"
        scheme, _, token = given.partition(" ")
        return scheme == "Bearer" and entra.tokens.check(token, audience)

    def _reply(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    # -- folders ---------------------------------------------------------------------------

    def _target(self, element: ET.Element) -> EwsFolder | None:
        box = self.server.mailbox
        for found in element.iter():
            if found.tag in (f"{{{T}}}DistinguishedFolderId", f"{{{T}}}FolderId"):
                key = found.get("Id") or ""
                return box.folders.get(key)
        return None

    def _denied(self) -> str | None:
        if self.server.mailbox.denied:
            return _error("ErrorAccessDenied", "Access is denied. Check credentials and try again.")
        return None

    def _GetFolder(self, op: ET.Element) -> list[str]:
        out = []
        ids = op.find(f"{{{M}}}FolderIds")
        for ref in list(ids if ids is not None else []):
            folder = self.server.mailbox.folders.get(ref.get("Id") or "")
            if self._denied():
                out.append(_message("GetFolder", _denied_text()))
            elif folder is None:
                out.append(_message("GetFolder", _error_body("ErrorFolderNotFound")))
            else:
                out.append(_message("GetFolder", _ok(f"<m:Folders>{_folder(folder)}</m:Folders>")))
        return out

    def _FindFolder(self, op: ET.Element) -> list[str]:
        parent = self._target(op.find(f"{{{M}}}ParentFolderIds") or op)
        if self._denied():
            return [_message("FindFolder", _denied_text())]
        box = self.server.mailbox
        children = [f for f in box.folders.values() if parent and f.parent == parent.id]
        folders = "".join(_folder(f) for f in children)
        root = (f'<m:RootFolder TotalItemsInView="{len(children)}" IncludesLastItemInRange="true">'
                f"<t:Folders>{folders}</t:Folders></m:RootFolder>")  # fmt: skip
        return [_message("FindFolder", _ok(root))]

    def _CreateFolder(self, op: ET.Element) -> list[str]:
        out = []
        for element in op.iter(f"{{{T}}}DisplayName"):
            made = self.server.mailbox.make_folder(element.text or "")
            out.append(_message("CreateFolder", _ok(f"<m:Folders>{_folder(made)}</m:Folders>")))
        return out

    # -- items -----------------------------------------------------------------------------

    def _SyncFolderItems(self, op: ET.Element) -> list[str]:
        box = self.server.mailbox
        folder = self._target(op.find(f"{{{M}}}SyncFolderId") or op)
        if self._denied():
            return [_message("SyncFolderItems", _denied_text())]
        if folder is None:
            return [_message("SyncFolderItems", _error_body("ErrorFolderNotFound"))]
        state = (op.findtext(f"{{{M}}}SyncState") or "").strip()
        most = int(op.findtext(f"{{{M}}}MaxChangesReturned") or 512)
        if state:
            try:
                epoch, _, place = base64.b64decode(state).decode().partition(":")
                start = int(place)
                if int(epoch) != box.epoch or start > len(folder.log):
                    raise ValueError
            except ValueError:
                # Exchange still sends (empty) SyncState and IncludesLastItemInRange elements.
                empty = "<m:SyncState/><m:IncludesLastItemInRange>true</m:IncludesLastItemInRange>"
                return [
                    _message("SyncFolderItems", _error_body("ErrorInvalidSyncStateData") + empty)
                ]
            changes = folder.log[start:]
        else:
            start = 0
            # From nothing: what the folder holds now, as creates.
            changes = [("create", i) for i in folder.items]
        page = changes[:most]
        last = len(page) == len(changes)
        end = (start + len(page)) if state else (len(folder.log) if last else 0)
        if not state and not last:
            end = 0  # a first sync in pages is not needed by these tests
        xml = []
        for kind, item_id in page:
            if kind == "create":
                xml.append(f'<t:Create><t:Message><t:ItemId Id={quoteattr(item_id)} '
                           f'ChangeKey="CQAAAA=="/></t:Message></t:Create>')  # fmt: skip
            else:
                xml.append(f"<t:Delete><t:ItemId Id={quoteattr(item_id)} /></t:Delete>")
        new_state = base64.b64encode(f"{box.epoch}:{end}".encode()).decode()
        body = (f"<m:SyncState>{new_state}</m:SyncState>"
                f"<m:IncludesLastItemInRange>{str(last).lower()}</m:IncludesLastItemInRange>"
                f"<m:Changes>{''.join(xml)}</m:Changes>")  # fmt: skip
        return [_message("SyncFolderItems", _ok(body))]

    def _find_item(self, item_id: str) -> tuple[EwsFolder, Item] | None:
        for folder in self.server.mailbox.folders.values():
            if item_id in folder.items:
                return folder, folder.items[item_id]
        return None

    def _item_ids(self, op: ET.Element) -> list[str]:
        return [e.get("Id") or "" for e in op.iter(f"{{{T}}}ItemId")]

    def _GetItem(self, op: ET.Element) -> list[str]:
        out = []
        for item_id in self._item_ids(op):
            found = self._find_item(item_id)
            if self._denied():
                out.append(_message("GetItem", _denied_text()))
            elif found is None:
                out.append(_message("GetItem", _error_body("ErrorItemNotFound") + "<m:Items/>"))
            else:
                _, item = found
                mime = base64.b64encode(item.raw).decode()
                when = item.received.strftime("%Y-%m-%dT%H:%M:%SZ")
                xml = (f'<m:Items><t:Message><t:MimeContent CharacterSet="UTF-8">{mime}'
                       f'</t:MimeContent><t:ItemId Id={quoteattr(item.id)} ChangeKey="CQAAAA=="/>'
                       f"<t:DateTimeReceived>{when}</t:DateTimeReceived>"
                       f"</t:Message></m:Items>")  # fmt: skip
                out.append(_message("GetItem", _ok(xml)))
        return out

    def _MoveItem(self, op: ET.Element) -> list[str]:
        box = self.server.mailbox
        to = self._target(op.find(f"{{{M}}}ToFolderId") or op)
        out = []
        ids = op.find(f"{{{M}}}ItemIds")
        for item_id in self._item_ids(ids if ids is not None else op):
            found = self._find_item(item_id)
            if found is None or to is None:
                out.append(_message("MoveItem", _error_body("ErrorItemNotFound") + "<m:Items/>"))
                continue
            folder, item = found
            box.remove(folder, item.id)
            moved = box.add(to, item.raw, item.received)
            new_id = f'<t:ItemId Id={quoteattr(moved.id)} ChangeKey="CQAAAA=="/>'
            xml = f"<m:Items><t:Message>{new_id}</t:Message></m:Items>"
            out.append(_message("MoveItem", _ok(xml)))
        return out

    def _CreateItem(self, op: ET.Element) -> list[str]:
        box = self.server.mailbox
        disposition = op.get("MessageDisposition") or "SaveOnly"
        out = []
        for element in op.iter(f"{{{T}}}MimeContent"):
            raw = base64.b64decode(element.text or "")
            headers = BytesHeaderParser(policy=default).parsebytes(raw)
            named = [str(v) for k in ("To", "Cc", "Bcc") for v in headers.get_all(k, [])]
            recipients = [address for _, address in getaddresses(named) if address]
            if disposition != "SaveOnly" and not recipients:
                out.append(_message("CreateItem", _error_body("ErrorInvalidRecipients")))
                continue
            box.sent.append(Sent(recipients, raw, disposition))
            if disposition == "SendAndSaveCopy":
                box.add(box.folders["sentitems"], raw)
            out.append(_message("CreateItem", _ok("<m:Items/>")))
        return out


def _subject(raw: bytes) -> str:
    return str(BytesHeaderParser(policy=default).parsebytes(raw)["Subject"] or "")


def _folder(folder: EwsFolder) -> str:
    parent = folder.parent or folder.id
    count = len(folder.items)
    return (f'<t:Folder><t:FolderId Id={quoteattr(folder.id)} ChangeKey="AQAAAA=="/>'
            f'<t:ParentFolderId Id={quoteattr(parent)} ChangeKey="AQAAAA=="/>'
            f"<t:FolderClass>IPF.Note</t:FolderClass>"
            f"<t:DisplayName>{escape(folder.name)}</t:DisplayName>"
            f"<t:TotalCount>{count}</t:TotalCount><t:ChildFolderCount>0</t:ChildFolderCount>"
            f"<t:UnreadCount>0</t:UnreadCount></t:Folder>")  # fmt: skip


def _ok(inner: str) -> str:
    return f'ResponseClass="Success"><m:ResponseCode>NoError</m:ResponseCode>{inner}'


def _error_body(code: str, text: str = "") -> str:
    return (f'ResponseClass="Error"><m:MessageText>{escape(text or code)}</m:MessageText>'
            f"<m:ResponseCode>{code}</m:ResponseCode>"
            f"<m:DescriptiveLinkKey>0</m:DescriptiveLinkKey>")  # fmt: skip


def _error(code: str, text: str) -> str:
    return _error_body(code, text)


def _denied_text() -> str:
    return _error_body("ErrorAccessDenied", "Access is denied. Check credentials and try again.")


def _message(operation: str, inner: str) -> str:
    return f"<m:{operation}ResponseMessage {inner}</m:{operation}ResponseMessage>"


def _envelope(operation: str, messages: list[str]) -> bytes:
    return (f'<?xml version="1.0" encoding="utf-8"?>'
            f'<s:Envelope xmlns:s="{S}"><s:Header>'
            f'<h:ServerVersionInfo xmlns:h="{T}" MajorVersion="15" MinorVersion="1" '
            f'MajorBuildNumber="2507" MinorBuildNumber="6" Version="V2017_07_11"/>'
            f'</s:Header><s:Body><m:{operation}Response xmlns:m="{M}" xmlns:t="{T}">'
            f"<m:ResponseMessages>{''.join(messages)}</m:ResponseMessages>"
            f"</m:{operation}Response></s:Body></s:Envelope>").encode()  # fmt: skip


def _fault(code: str, back_off_ms: int) -> bytes:
    extra = (f'<t:MessageXml xmlns:t="{T}"><t:Value Name="BackOffMilliseconds">{back_off_ms}'
             f"</t:Value></t:MessageXml>") if back_off_ms else ""  # fmt: skip
    return (f'<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="{S}"><s:Body><s:Fault>'
            f'<faultcode xmlns:a="{T}">a:{code}</faultcode>'
            f"<faultstring>The server cannot service this request right now. Try again later."
            f'</faultstring><detail><e:ResponseCode xmlns:e="{E}">{code}</e:ResponseCode>'
            f'<e:Message xmlns:e="{E}">The server cannot service this request right now.'
            f"</e:Message>{extra}</detail></s:Fault></s:Body></s:Envelope>").encode()  # fmt: skip


class Server(ThreadingHTTPServer):
    daemon_threads = True
    mailbox: Mailbox
    entra: Entra | None = None


@dataclass
class Ews:
    """A running stand-in: its endpoint, the CA to trust, and the mailbox behind it."""

    tls: Tls
    mailbox: Mailbox
    port: int
    # Set: the server takes Entra's bearer tokens only (hybrid modern auth), not basic auth.
    entra: Entra | None = None
    _server: Server | None = None

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}{PATH}"

    def ews_config(self, **overrides: Any) -> dict[str, Any]:
        """A `mailbox.ews` section for this server (basic auth: see the module docstring)."""
        config: dict[str, Any] = {"server": self.endpoint, "auth": "basic", "username": USER,
                                  "password": PASSWORD, "ca_file": str(self.tls.ca_file),
                                  "timeout_seconds": 10, "max_wait_seconds": 5}  # fmt: skip
        if self.entra is not None:
            config.update(auth="oauth2", username="", password="")
        config.update(overrides)
        return config

    def audience(self) -> str:
        """The scope a token for this server is asked for: its own address."""
        return f"https://127.0.0.1:{self.port}/.default"

    def start(self) -> None:
        server = Server(("127.0.0.1", self.port), Handler)
        server.mailbox = self.mailbox
        server.entra = self.entra
        server.socket = self.tls.server_context().wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()


@contextmanager
def running_ews(folder: Path, entra: Entra | None = None) -> Iterator[Ews]:
    """The stand-in on a free loopback port; with `entra`, taking that tenant's tokens only."""
    ews = Ews(make_tls(folder), Mailbox(), 0, entra)
    ews.start()
    try:
        yield ews
    finally:
        ews.stop()
