"""Pictures an email's HTML shows travel inline (multipart/related, Content-ID)."""

from __future__ import annotations

import email
from dataclasses import replace
from datetime import UTC, datetime
from email.message import Message

from pipeline.outbox.compose import Envelope, FileAttachment, compose
from pipeline.templates import Rendered
from tests.helpers import children

PNG = b"\x89PNG\r\n\x1a\nnot really"
ENVELOPE = Envelope(
    sender="panel@example.org",
    sender_name="Panel",
    to=("chair@example.org",),
    message_id="x@example.org",
)
RENDERED = Rendered("Quarterly", "Text", '<p><img src="cid:chart@masp"></p>')
WHEN = datetime(2027, 4, 2, 9, 0, tzinfo=UTC)


def _shape(part: Message) -> object:
    if part.is_multipart():
        return (part.get_content_type(), [_shape(p) for p in children(part)])
    return part.get_content_type()


def test_inline_picture_and_attached_file() -> None:
    picture = FileAttachment("chart.png", "image/png", PNG, inline_id="chart@masp")
    sheet = FileAttachment("report.xlsx", "application/octet-stream", b"PK")
    message = email.message_from_bytes(
        compose(replace(ENVELOPE, attachments=(picture, sheet)), RENDERED, WHEN)
    )
    assert _shape(message) == (
        "multipart/mixed",
        [
            (
                "multipart/related",
                [("multipart/alternative", ["text/plain", "text/html"]), "image/png"],
            ),
            "application/octet-stream",
        ],
    )
    related = children(message)[0]
    assert related.get_param("type") == "multipart/alternative"
    image = children(related)[1]
    assert image["Content-ID"] == "<chart@masp>"
    assert image.get_content_disposition() == "inline"
    assert image.get_payload(decode=True) == PNG


def test_only_inline_pictures_need_no_mixed_part() -> None:
    picture = FileAttachment("chart.png", "image/png", PNG, inline_id="chart@masp")
    envelope = replace(ENVELOPE, attachments=(picture,))
    message = email.message_from_bytes(compose(envelope, RENDERED, WHEN))
    assert message.get_content_type() == "multipart/related"


def test_without_pictures_the_shape_is_unchanged() -> None:
    sheet = FileAttachment("report.xlsx", "application/octet-stream", b"PK")
    envelope = replace(ENVELOPE, attachments=(sheet,))
    message = email.message_from_bytes(compose(envelope, RENDERED, WHEN))
    assert _shape(message) == (
        "multipart/mixed",
        [("multipart/alternative", ["text/plain", "text/html"]), "application/octet-stream"],
    )
