"""The containers Outlook wraps mail in: an attached Outlook message (.msg), winmail.dat (TNEF)."""

from __future__ import annotations

import io
from typing import Any

from pipeline.errors import DocumentError
from pipeline.mime.bodytext import html_to_text, text_of
from pipeline.mime.charsets import decode_bytes

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
FORWARD_TYPES = frozenset({"message/rfc822", "message/global"})
_TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})


def container_kind(name: str, declared: str) -> str:
    """Which container we open a file is, by its name or declared type: tnef, msg, eml or ""."""
    if declared in _TNEF_TYPES or name == "winmail.dat":
        return "tnef"
    if declared == "application/vnd.ms-outlook" or name.endswith(".msg"):
        return "msg"
    if declared in FORWARD_TYPES or name.endswith(".eml"):
        return "eml"
    return ""


class OutlookUnsupported(DocumentError):
    """extract-msg is not installed (it is the `msg` extra): .msg files stay unopened."""


def open_outlook(data: bytes) -> Any:
    """An Outlook message (.msg) opened with extract-msg; raises if it is not one, and
    OutlookUnsupported if this server has no extract-msg."""
    # Imported here: extract-msg takes a noticeable time to import and most mail never needs it.
    # It is GPL-3.0 and brings a GUI toolkit through oletools, so it is an optional extra
    # (`pip install masp-pipeline[msg]`); without it the sniffer refuses the .msg with a reason.
    try:
        import extract_msg
        from extract_msg.enums import ErrorBehavior
    except ImportError as exc:
        raise OutlookUnsupported("Outlook .msg files cannot be read on this server") from exc

    # Never hand extract-msg (olefile) raw bytes: bytes that do not look like an OLE file are
    # taken as a path, so an attachment could name a file on this server and have it read.
    if not data.startswith(_OLE_MAGIC):
        raise ValueError("not an OLE compound file")
    return extract_msg.openMsg(io.BytesIO(data), errorBehavior=ErrorBehavior.ATTACH_SUPPRESS_ALL)


def outlook_text(outlook: Any) -> str:
    """The body text of an opened Outlook message, or "" when it cannot be read."""
    try:
        text = outlook.body
        markup = None if text else outlook.htmlBody
    # Bodies held only as RTF go through extract-msg's RTF decoders, which fail in many ways; the
    # attachments matter more than the text, so a body that cannot be read is left out.
    except Exception:
        return ""
    if isinstance(markup, bytes):
        return html_to_text(decode_bytes(markup, "utf-8"))
    return text_of(text)


def _tnef_name(item: Any) -> str:
    try:
        name = item.long_filename()
    except UnicodeDecodeError:
        # tnefparse decodes short names as UTF-8, but Outlook writes them in the Windows code page.
        name = getattr(item, "_name", b"")
    return decode_bytes(name.rstrip(b"\0"), "cp1252") if isinstance(name, bytes) else str(name)


def unpack_tnef(data: bytes) -> tuple[list[tuple[str, bytes]], str] | None:
    """The files (name, bytes) and the body text in Outlook's winmail.dat; None if it holds
    nothing at all, being damaged (or not TNEF)."""
    try:
        import tnefparse

        tnef = tnefparse.TNEF(data, do_checksum=False)
        found = [(_tnef_name(item), bytes(item.data)) for item in tnef.attachments]
        text = text_of(tnef.body)
        empty = not found and not tnef.has_body()
    # tnefparse fails with assorted error types (struct, index, unicode, name) on damaged files.
    except Exception:
        return None
    return None if empty else (found, text)
