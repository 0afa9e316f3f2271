"""Unit and property tests for reading raw email: decoding, limits and hostile input."""

from __future__ import annotations

import base64
import re
import unicodedata
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import IntakeError
from pipeline.mime.bodytext import html_to_text
from pipeline.mime.charsets import decode_bytes, decode_words
from pipeline.mime.filenames import MAX_FILENAME_LENGTH, sanitise_filename
from pipeline.mime.headers import header_text
from pipeline.mime.message import MAX_NESTING, ParsedEmail, parse_email
from tests.helpers import corpus_maker

PDF = b"%PDF-1.4\n%synthetic\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


# The corpus generator's builders (TNEF, .msg), reused rather than copied.
corpus = corpus_maker("emails")


def email_bytes(*head: str, body: bytes = b"Hello.\r\n") -> bytes:
    lines = ["From: Alex Example <alex@school.example.org>", "To: panel@masp.example.org", *head]
    return "\r\n".join(lines).encode() + b"\r\n\r\n" + body


def mixed(*parts: bytes, boundary: str = "zz") -> bytes:
    return email_bytes(
        f'Content-Type: multipart/mixed; boundary="{boundary}"',
        body=corpus.multipart(boundary, parts),
    )


def assert_safe(parsed: ParsedEmail) -> None:
    """What the rest of the service relies on, however hostile the email."""
    for attachment in parsed.attachments:
        name = attachment.filename
        assert name and len(name) <= MAX_FILENAME_LENGTH
        assert "/" not in name and "\\" not in name
        assert not any(unicodedata.category(character).startswith("C") for character in name)
        assert name == name.strip()
        assert re.fullmatch(r"[a-z0-9!#$&^_.+-]+/[a-z0-9!#$&^_.+-]+", attachment.declared_type)
    # Everything textual must be storable as UTF-8 (no lone surrogates from odd charsets).
    texts = [
        parsed.subject,
        parsed.from_name,
        parsed.from_address,
        parsed.body_text,
        *parsed.problems,
    ]
    texts += [parsed.message_id or "", *parsed.to, *parsed.references, *parsed.in_reply_to]
    texts += [attachment.filename for attachment in parsed.attachments]
    for text in texts:
        text.encode("utf-8")


# ---------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("encoded", "decoded"),
    [
        ("plain text", "plain text"),
        ("=?utf-8?q?Caf=C3=A9?= menu", "Café menu"),
        ("=?utf-8?B?Q2Fm?= =?utf-8?B?w6k=?=", "Café"),
        # A multi-byte character split across two words survives.
        ("=?utf-8?B?UsM=?=\r\n =?utf-8?B?qQ==?=", "Ré"),
        ("=?iso-8859-1?q?L=E9onie?=", "Léonie"),
        ("=?utf-8*en?q?Z=C3=B6e?=", "Zöe"),
        ("=?x-nonsense?q?Caf=C3=A9?=", "Café"),
        ("=?utf-8?B?not base64?=", "=?utf-8?B?not base64?="),
        ("a =?utf-8?q?b?= c", "a b c"),
    ],
)
def test_decode_words(encoded: str, decoded: str) -> None:
    assert decode_words(encoded) == decoded


@pytest.mark.parametrize(
    ("data", "charset", "text"),
    [
        ("Zoë".encode(), "utf-8", "Zoë"),
        (b"\xa3250 \x96 rent", "utf-8", "£250 – rent"),
        (b"smart \x93quotes\x94", "iso-8859-1", "smart “quotes”"),
        ("Zoë".encode(), "unknown-8bit", "Zoë"),
        ("Zoë".encode(), "us-ascii", "Zoë"),
        (b"caf\xe9", None, "café"),
        (b"caf\xe9", "rot13", "café"),
        (b"caf\xe9", "bad\x00label", "café"),
        ("Zoë".encode("utf-16"), "utf-16", "Zoë"),
        # Labels that can produce lone surrogates, which could not be stored.
        (b"+2D0-", "utf-7", "\ufffd"),
        (b"\\ud800", "unicode_escape", "\ufffd"),
    ],
)
def test_decode_bytes(data: bytes, charset: str | None, text: str) -> None:
    assert decode_bytes(data, charset) == text


def test_mostly_utf8_text_with_a_stray_byte_stays_utf8() -> None:
    assert decode_bytes("Zoë ".encode() + b"\xff", "utf-8") == "Zoë \ufffd"


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("Referral.docx", "Referral.docx"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("C:\\Users\\worker\\Chronology.docx", "Chronology.docx"),
        ("/tmp/x.pdf", "x.pdf"),
        ("Referral 01/02/2026.docx", "Referral 01_02_2026.docx"),
        ("Report\u202efdp.exe", "Reportfdp.exe"),
        ("tab\tand\nnewline.pdf", "tab and newline.pdf"),
        ("  .hidden.pdf. ", "hidden.pdf"),
        ("..", ""),
        ("\x00\x01", ""),
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
        ("y" * 300, "y" * 150),
    ],
)
def test_sanitise_filename(sent: str, kept: str) -> None:
    assert sanitise_filename(sent) == kept


@given(st.text(max_size=400))
def test_sanitised_names_are_always_safe(name: str) -> None:
    kept = sanitise_filename(name)
    assert len(kept) <= MAX_FILENAME_LENGTH
    assert "/" not in kept and "\\" not in kept
    assert not any(unicodedata.category(character).startswith("C") for character in kept)


def test_html_to_text_drops_styles_scripts_and_entities() -> None:
    markup = (
        "<style>p{color:red}</style><script>x()</script><p>A&amp;B</p><div>Next&nbsp;line</div>"
    )
    assert html_to_text(markup) == "A&B\n\nNext line"


def test_html_to_text_survives_markup_that_trips_html_parser() -> None:
    assert html_to_text("<![foo bar]> text") == "text"


@pytest.mark.parametrize("name", [b"Zo\xc3\xab", b"Zo\xeb"])
def test_header_text_decodes_undeclared_8bit_and_encoded_words(name: bytes) -> None:
    raw = b"From: a@example.org\r\nSubject: " + name + b" =?utf-8?q?=E2=80=93?= referral\r\n\r\nx"
    parsed = parse_email(raw)
    assert header_text(parsed.headers, "subject") == parsed.subject == "Zoë – referral"


# ---------------------------------------------------------------- headers


def test_empty_email_is_the_only_error() -> None:
    for raw in (b"", b" \r\n\r\n"):
        with pytest.raises(IntakeError):
            parse_email(raw)


def test_addresses_names_and_ids() -> None:
    parsed = parse_email(
        email_bytes(
            "Reply-To: Team <TEAM@School.Example.org>",
            "Cc: someone@example.org",
            "In-Reply-To: abc@masp.example.org",
            "References: <one@x> <two@x> <one@x>",
            "Message-ID:   <  spaced@x>",
        ).replace(
            b"From: Alex Example <alex@school.example.org>",
            b"From: =?utf-8?q?Example=2C_Alex?= <Alex@School.Example.org>",
        )
    )
    assert (parsed.from_address, parsed.from_name) == ("alex@school.example.org", "Example, Alex")
    assert parsed.reply_to == "team@school.example.org"
    assert parsed.to == ("panel@masp.example.org",)
    assert parsed.in_reply_to == ("abc@masp.example.org",)
    assert parsed.references == ("one@x", "two@x")
    assert parsed.message_id == "spaced@x"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Date: Tue, 03 Mar 2026 09:15:00 +0100", datetime(2026, 3, 3, 8, 15, tzinfo=UTC)),
        ("Date: Tue, 03 Mar 2026 09:15:00 -0000", datetime(2026, 3, 3, 9, 15, tzinfo=UTC)),
        ("Date: yesterday-ish", None),
        ("X-No-Date: 1", None),
    ],
)
def test_date_header_is_aware_or_none(header: str, expected: datetime | None) -> None:
    assert parse_email(email_bytes(header)).date_header == expected


def test_missing_from_gives_empty_address() -> None:
    parsed = parse_email(b"Subject: anonymous\r\n\r\nbody\r\n")
    assert (parsed.from_address, parsed.from_name, parsed.message_id) == ("", "", None)


# ---------------------------------------------------------------- what counts as an attachment


def test_body_alternative_prefers_plain_text() -> None:
    alternative = corpus.multipart(
        "alt", [corpus.text_part("plain version"), corpus.text_part("<p>html</p>", subtype="html")]
    )
    parsed = parse_email(
        email_bytes('Content-Type: multipart/alternative; boundary="alt"', body=alternative)
    )
    assert parsed.body_text == "plain version"


def test_body_alternative_uses_html_when_plain_is_empty() -> None:
    empty_plain = corpus.entity(["Content-Type: text/plain"], b"")
    alternative = corpus.multipart(
        "alt", [empty_plain, corpus.text_part("<p>html only</p>", subtype="html")]
    )
    parsed = parse_email(
        email_bytes('Content-Type: multipart/alternative; boundary="alt"', body=alternative)
    )
    assert parsed.body_text == "html only"


def test_invented_names_follow_type_or_content() -> None:
    parsed = parse_email(
        mixed(
            corpus.text_part("body"),
            corpus.file_part("text/plain", b"notes", "attachment"),
            corpus.file_part("application/octet-stream", PDF, "attachment"),
            corpus.file_part("application/octet-stream", b"\x01\x02mystery", "attachment"),
        )
    )
    assert [a.filename for a in parsed.attachments] == [
        "attachment-1.txt",
        "attachment-2.pdf",
        "attachment-3.bin",
    ]


def test_small_cid_image_marked_as_attachment_is_kept() -> None:
    logo = corpus.make_png(2, 2, 9)
    part = corpus.file_part(
        "image/png", logo, 'attachment; filename="logo.png"', "Content-ID: <logo@x>"
    )
    parsed = parse_email(mixed(corpus.text_part("body"), part))
    assert [a.filename for a in parsed.attachments] == ["logo.png"]


def test_truncated_base64_is_kept_and_noted() -> None:
    part = corpus.entity(
        ['Content-Type: application/pdf; name="cut.pdf"', "Content-Transfer-Encoding: base64"],
        base64.b64encode(PDF)[:-3],
    )
    parsed = parse_email(mixed(part))
    assert [a.filename for a in parsed.attachments] == ["cut.pdf"]
    assert len(parsed.problems) == 1


def test_eml_attachment_that_is_not_an_email_stays_a_file() -> None:
    parsed = parse_email(
        mixed(corpus.attached("application/octet-stream", "notes.eml", b"\x00\x01 not mail"))
    )
    assert [(a.filename, a.origin) for a in parsed.attachments] == [("notes.eml", "")]


def test_winmail_with_only_a_body_gives_body_text() -> None:
    tnef = corpus.make_tnef([], b"Rich text body from Outlook")
    parsed = parse_email(mixed(corpus.attached("application/ms-tnef", "winmail.dat", tnef)))
    assert (parsed.attachments, parsed.problems) == ((), ())
    assert parsed.body_text == "Rich text body from Outlook"


def test_msg_attachment_body_and_files_are_read() -> None:
    outlook = corpus.make_msg("Inner", "Inner body", [("Consent.pdf", "application/pdf", PDF)])
    parsed = parse_email(
        mixed(
            corpus.text_part("outer"), corpus.attached("application/octet-stream", "x.msg", outlook)
        )
    )
    assert [(a.filename, a.declared_type, a.origin, a.data) for a in parsed.attachments] == [
        ("Consent.pdf", "application/pdf", "msg", PDF)
    ]
    assert "Inner body" in parsed.body_text


def test_msg_attachment_naming_a_server_file_is_not_opened(tmp_path: Path) -> None:
    # olefile treats short bytes as a path; an attachment must never make us read local files.
    secret = tmp_path / "secret.msg"
    secret.write_bytes(
        corpus.make_msg("Secret", "server file", [("secret.pdf", "application/pdf", PDF)])
    )
    evil = str(secret).encode()
    parsed = parse_email(mixed(corpus.attached("application/vnd.ms-outlook", "evil.msg", evil)))
    assert [(a.filename, a.data) for a in parsed.attachments] == [("evil.msg", evil)]
    assert "server file" not in parsed.body_text
    assert len(parsed.problems) == 1


# ---------------------------------------------------------------- limits against hostile mail


def _nested_multiparts(levels: int) -> bytes:
    opening = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1)
        for i in range(levels)
    )
    leaf = b"--b%d\r\nContent-Type: application/pdf\r\n\r\n%%PDF\r\n" % levels
    return email_bytes("Content-Type: multipart/mixed; boundary=b0", body=opening + leaf)


def test_part_budget_stops_walking() -> None:
    parts = [corpus.attached("application/pdf", f"a{i}.pdf", PDF) for i in range(30)]
    parsed = parse_email(mixed(*parts), max_parts=10)
    assert len(parsed.attachments) == 9
    assert parsed.problems == ("the email has more than 10 parts; the rest were not opened",)


def test_deep_mime_nesting_is_cut_off() -> None:
    parsed = parse_email(_nested_multiparts(60))
    assert parsed.attachments == ()
    assert parsed.problems == ("part of the email is nested too deeply to open",)


def test_thousands_of_nested_multiparts_read_headers_only() -> None:
    parsed = parse_email(_nested_multiparts(3000))
    assert parsed.from_address == "alex@school.example.org"
    assert parsed.problems == ("the email has more than 200 parts; only its headers were read",)


def test_forwards_nested_too_deep_are_kept_whole() -> None:
    message = corpus.entity(["Subject: bottom", "Content-Type: application/pdf"], b"%PDF-1.4")
    for level in range(MAX_NESTING + 1):
        message = corpus.entity(
            [f"Subject: level {level}", "Content-Type: message/rfc822"], message
        )
    parsed = parse_email(email_bytes("Subject: top", "Content-Type: message/rfc822", body=message))
    assert [(a.filename, a.declared_type, a.origin) for a in parsed.attachments] == [
        ("forwarded.eml", "message/rfc822", "forwarded")
    ]
    assert len(parsed.problems) == 1


# ---------------------------------------------------------------- properties


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_parse_or_raise_intake_error(raw: bytes) -> None:
    try:
        parsed = parse_email(raw)
    except IntakeError:
        assert not raw.strip()
        return
    assert_safe(parsed)


_CTYPES = [
    "application/pdf",
    "application/octet-stream",
    "application/ms-tnef",
    "application/vnd.ms-outlook",
    "message/rfc822",
    "multipart/mixed",
    "image/png",
    "text/plain",
    "text/html",
    "nonsense",
]
_CHARSETS = [
    "utf-8",
    "us-ascii",
    "iso-8859-1",
    "unknown-8bit",
    "utf-16",
    "rot13",
    "idna",
    "punycode",
    "utf-7",
    "",
]
_ENCODINGS = ["base64", "quoted-printable", "7bit", "8bit", "x-uuencode", "bogus"]
_MAGIC = [
    b"",
    b"\x78\x9f\x3e\x22",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"%PDF-",
    b"From: a@b\r\n\r\n",
]


@st.composite
def _filename_parameter(draw: st.DrawFn) -> str:
    name = draw(st.text(max_size=60))
    form = draw(st.sampled_from(["raw", "rfc2047", "rfc2231", "missing"]))
    if form == "rfc2047":
        encoded = base64.b64encode(name.encode("utf-8", "surrogatepass")).decode()
        return f'; filename="=?utf-8?B?{encoded}?="'
    if form == "rfc2231":
        charset = draw(st.sampled_from(_CHARSETS))
        return f"; filename*={charset}''{urllib.parse.quote(name.encode('utf-8', 'surrogatepass'))}"
    return "" if form == "missing" else f'; filename="{name}"'


@st.composite
def _part(draw: st.DrawFn) -> bytes:
    ctype = draw(st.sampled_from(_CTYPES))
    charset = draw(st.sampled_from(_CHARSETS))
    disposition = draw(st.sampled_from(["attachment", "inline", ""])) + draw(_filename_parameter())
    head = [
        f"Content-Type: {ctype}; charset={charset}",
        f"Content-Transfer-Encoding: {draw(st.sampled_from(_ENCODINGS))}",
        f"Content-Disposition: {disposition}",
    ]
    if draw(st.booleans()):
        head.append("Content-ID: <part@x>")
    data = draw(st.sampled_from(_MAGIC)) + draw(st.binary(max_size=300))
    lines = "\r\n".join(head).encode("utf-8", "surrogateescape")
    return lines + b"\r\n\r\n" + (base64.encodebytes(data) if draw(st.booleans()) else data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_part(), min_size=1, max_size=5), st.booleans(), st.booleans())
def test_hostile_mime_never_raises(parts: list[bytes], closed: bool, wrapped: bool) -> None:
    raw = (
        mixed(*parts)
        if closed
        else email_bytes(
            'Content-Type: multipart/mixed; boundary="zz"',
            body=corpus.multipart("zz", parts, closed=False),
        )
    )
    if wrapped:
        raw = email_bytes("Content-Type: message/rfc822", body=raw)
    assert_safe(parse_email(raw))


def test_where_an_email_was_addressed_envelope_first_each_once() -> None:
    raw = (
        b"Delivered-To: panel@masp.example.org\r\n"
        b"X-Original-To: MASG-North@masp.example.org\r\n"
        b"Delivered-To: panel@masp.example.org\r\n"
        b"From: Alex Example <alex@school.example.org>\r\n"
        b"To: Panel <panel+masg-s@masp.example.org>, panel@masp.example.org\r\n"
        b"Cc: =?utf-8?q?Sam_Cc?= <sam@school.example.org>, not an address\r\n"
        b"\r\nHello.\r\n"
    )
    assert parse_email(raw).addressed == (
        "masg-north@masp.example.org",
        "panel@masp.example.org",
        "panel+masg-s@masp.example.org",
    )
    # An unreadable header is left out, never guessed at; a readable one still counts.
    assert "sam@school.example.org" not in parse_email(raw).addressed
    assert parse_email(email_bytes("Cc: sam@school.example.org")).addressed == (
        "panel@masp.example.org",
        "sam@school.example.org",
    )
