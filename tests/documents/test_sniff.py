"""The real type of a file from its bytes, and the plain reason to refuse it (R16, SPEC §7)."""

from __future__ import annotations

import io
import struct
import time
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.documents.form import blank_form_bytes
from pipeline.documents.results import Sniffed
from pipeline.documents.sniff import BOMB, CUT_SHORT, PASSWORD, UNREADABLE, sniff
from tests.helpers import DATA, corpus_maker

CORPUS = DATA / "documents"
TYPES = {
    *("docx", "xlsx", "pptx", "docm", "xlsm", "doc", "xls", "odt", "ods", "pdf", "png", "jpeg"),
    *("gif", "tiff", "bmp", "heic", "rtf", "txt", "csv", "html", "zip", "encrypted-office"),
    *("executable", "empty", "unknown"),
}


MAKER = corpus_maker()


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return out.getvalue()


def _with_content_type(docx: bytes, old: bytes, new: bytes) -> bytes:
    def edit(name: str, body: bytes) -> bytes:
        return body.replace(old, new) if name == "[Content_Types].xml" else body

    return bytes(MAKER.rewrite_zip(docx, edit))


def _xlsx() -> bytes:
    from openpyxl import Workbook

    buffer = io.BytesIO()
    Workbook().save(buffer)
    return buffer.getvalue()


def _word_97(flags: int = 0, storage: str = "ObjectPool") -> bytes:
    """An OLE file with a WordDocument stream whose FIB carries `flags` (0x0100 = encrypted)."""
    fib = struct.pack("<HHHHHH", 0xA5EC, 0xC1, 0, 0x0409, 0, flags).ljust(4096, b"\x00")
    return bytes(MAKER.ole({"WordDocument": fib, "1Table": b"\x00" * 4096}, (storage,)))


def test_empty_files_are_refused() -> None:
    assert sniff(b"", "a.docx") == Sniffed("empty", "the file is empty")
    assert sniff(b"\x00\x00 \r\n", "a.pdf").type == "empty"


def test_our_blank_form_is_a_docx() -> None:
    assert sniff(blank_form_bytes(), "MASP-referral-form.docx") == Sniffed("docx", None)


def test_macro_enabled_documents_are_refused_with_a_way_forward() -> None:
    docm = (CORPUS / "Referral form.docm").read_bytes()
    found = sniff(docm, "Referral form.docm")
    assert found.type == "docm"
    assert found.problem is not None and "normal Word document (.docx)" in found.problem


def test_a_docx_carrying_a_vba_project_is_a_docm_whatever_its_main_type() -> None:
    vba = (
        b'<Override PartName="/word/vbaProject.bin" '
        b'ContentType="application/vnd.ms-office.vbaProject"/>'
    )
    data = _with_content_type(blank_form_bytes(), b"</Types>", vba + b"</Types>")
    assert sniff(data, "form.docx").type == "docm"


def test_workbooks_with_and_without_macros() -> None:
    assert sniff(_xlsx(), "chronology.xlsx") == Sniffed("xlsx", None)
    xlsm = _with_content_type(
        _xlsx(),
        b"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
        b"application/vnd.ms-excel.sheet.macroEnabled.main+xml",
    )
    found = sniff(xlsm, "chronology.xlsm")
    assert found.type == "xlsm" and found.problem is not None and "Excel workbook" in found.problem


def test_macro_enabled_presentations_and_binary_workbooks_are_refused() -> None:
    pptx_main = (
        b"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml"
    )
    pptm_main = b"application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"
    xlsb_main = b"application/vnd.ms-excel.sheet.binary.macroEnabled.main"
    for main, kind, words in ((pptm_main, "pptx", "(.pptm)"), (xlsb_main, "unknown", "(.xlsb")):
        types = b'<Types><Override PartName="/x" ContentType="%s"/></Types>' % main
        found = sniff(_zip({"[Content_Types].xml": types}), "deck")
        assert found.type == kind and found.problem is not None and words in found.problem
    types = b'<Types><Override PartName="/x" ContentType="%s"/></Types>' % pptx_main
    assert sniff(_zip({"[Content_Types].xml": types}), "genogram.pptx") == Sniffed("pptx", None)


def test_an_encrypted_office_file_is_an_ole_container_and_is_refused() -> None:
    data = (CORPUS / "Referral form (protected).docx").read_bytes()
    assert sniff(data, "Referral form (protected).docx") == Sniffed("encrypted-office", PASSWORD)


def test_the_encrypted_sample_is_a_valid_compound_file() -> None:
    olefile = pytest.importorskip("olefile")
    data = (CORPUS / "Referral form (protected).docx").read_bytes()
    with olefile.OleFileIO(io.BytesIO(data)) as container:
        streams = {"/".join(path) for path in container.listdir(streams=True, storages=True)}
    assert {"EncryptionInfo", "EncryptedPackage", "\x06DataSpaces"} <= streams


def test_rights_managed_documents_get_their_own_reason() -> None:
    data = MAKER.ole(
        {"EncryptedPackage": b"\x00" * 4096, "\x06Primary": b"\x00" * 4096},
        storages=("DRMEncryptedDataSpace",),
    )
    found = sniff(data, "Report.docx")
    assert found.type == "encrypted-office"
    assert found.problem is not None and "sensitivity label" in found.problem


def test_word_97_documents_plain_encrypted_and_with_macros() -> None:
    assert sniff(_word_97(), "old.doc") == Sniffed("doc", None)
    assert sniff(_word_97(flags=0x0100), "old.doc") == Sniffed("doc", PASSWORD)
    found = sniff(_word_97(storage="Macros"), "old.doc")
    assert found.type == "doc" and found.problem is not None and "macros" in found.problem


def test_an_excel_97_workbook_with_a_filepass_record_is_password_protected() -> None:
    bof = struct.pack("<HH", 0x0809, 16) + b"\x00" * 16
    filepass = struct.pack("<HH", 0x002F, 4) + b"\x00" * 4
    workbook = MAKER.ole(
        {"Workbook": (bof + filepass).ljust(4096, b"\x00"), "Other": b"\x00" * 4096}, ("Info",)
    )
    assert sniff(workbook, "chronology.xls") == Sniffed("xls", PASSWORD)


def test_a_saved_outlook_message_is_not_a_document() -> None:
    data = MAKER.ole(
        {"__substg1.0_0037001F": b"\x00" * 4096, "__properties_version1.0": b"\x00" * 4096}, ("x",)
    )
    found = sniff(data, "Fwd referral.msg")
    assert found.type == "unknown" and found.problem is not None and ".msg" in found.problem


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        (MAKER.program(), "Chronology.docx", "the file is named .docx but is actually a program"),
        (MAKER.program(), "setup.exe", "this type of file (.exe) is not accepted"),
        (
            b"\x7fELF\x02\x01\x01" + b"\x00" * 60,
            "genogram.png",
            "named .png but is actually a program",
        ),
        (b"#!/bin/sh\necho hello\n", "notes.txt", "named .txt but is actually a program"),
    ],
)
def test_programs_are_refused_whatever_they_are_called(
    data: bytes, name: str, problem: str
) -> None:
    found = sniff(data, name)
    assert found.type == "executable"
    assert found.problem is not None and problem in found.problem


def test_a_harmless_file_with_a_dangerous_name_is_still_refused() -> None:
    found = sniff(MAKER.text_pdf([["Chronology"]]), "chronology.pdf.exe ")
    assert found.type == "pdf" and found.problem is not None and "(.exe)" in found.problem


def test_a_pdf_named_docx_is_accepted_as_the_pdf_it_is() -> None:
    assert sniff(MAKER.text_pdf([["Chronology"]]), "chronology.docx") == Sniffed("pdf", None)


def test_pdfs_cut_short_damaged_or_with_junk_before_the_header() -> None:
    good = MAKER.text_pdf([["Early Help Assessment"]])
    assert sniff(good[:-200], "eha.pdf") == Sniffed("pdf", CUT_SHORT)
    assert sniff(b"\r\n\r\n" + good, "eha.pdf") == Sniffed("pdf", None)
    broken = good.replace(b"startxref\n", b"startxref\n9").replace(b"xref\n0 ", b"xreF\n0 ")
    found = sniff(broken, "eha.pdf")
    # pypdf rebuilds a broken index by scanning objects, as every reader does.
    assert found.type == "pdf"


def test_pdfs_with_a_password_to_open_are_refused_but_permission_passwords_are_not() -> None:
    from pypdf import PdfReader, PdfWriter

    def encrypted(user: str) -> bytes:
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(MAKER.text_pdf([["Chronology"]]))))
        writer.encrypt(user_password=user, owner_password="owner-secret", algorithm="AES-128")
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    assert sniff(encrypted("letmein"), "chronology.pdf") == Sniffed("pdf", PASSWORD)
    assert sniff(encrypted(""), "chronology.pdf") == Sniffed("pdf", None)


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (MAKER.genogram_picture(), "png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 32 + b"\xff\xd9", "jpeg"),
        (b"GIF89a" + b"\x00" * 20, "gif"),
        (b"II*\x00" + b"\x00" * 20, "tiff"),
        (b"BM" + struct.pack("<IHHI", 70, 0, 0, 54) + struct.pack("<I", 40) + b"\x00" * 50, "bmp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic"),
        (b"{\\rtf1\\ansi Chronology\\par}", "rtf"),
        (b"Chronology\nDate\tEvent\n", "txt"),
        (b"Date,Event,Source\n01/02/2024,Moved house,Family\n", "csv"),
        (b"<!DOCTYPE html><html><body><p>Referral</p></body></html>", "html"),
    ],
)
def test_accepted_types_are_recognised(data: bytes, kind: str) -> None:
    assert sniff(data, "attachment") == Sniffed(kind, None)


def test_a_picture_cut_short_is_damaged() -> None:
    assert sniff(MAKER.genogram_picture()[:-20], "genogram.png") == Sniffed("png", CUT_SHORT)


def test_zip_archives_and_password_protected_zips() -> None:
    found = sniff(_zip({"chronology.docx": b"x", "eha.pdf": b"y"}), "papers.zip")
    assert (
        found.type == "zip"
        and found.problem is not None
        and "attach the documents" in found.problem
    )
    encrypted = bytearray(_zip({"a.txt": b"hello"}))
    # Set the "encrypted" flag in the local header and the central directory.
    for offset in (6, encrypted.rfind(b"PK\x01\x02") + 8):
        encrypted[offset] |= 0x01
    assert sniff(bytes(encrypted), "papers.zip").problem == PASSWORD
    # Named as a document but missing a document's index: damaged, not "a zip".
    assert sniff(_zip({"word/document.xml": b"<w/>"}), "form.docx") == Sniffed("zip", UNREADABLE)


def test_a_docx_cut_short_is_damaged() -> None:
    data = blank_form_bytes()
    assert sniff(data[: len(data) // 2], "form.docx") == Sniffed("docx", CUT_SHORT)


def test_a_zip_bomb_is_refused_before_anything_is_decompressed() -> None:
    # Twenty megabytes of zeros squeeze into about twenty kilobytes: a ratio no document has.
    bomb = _zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"\x00" * 20_000_000})
    assert len(bomb) < 100_000
    assert sniff(bomb, "referral.docx") == Sniffed("zip", BOMB)


def test_a_zip_that_lies_about_its_size_is_refused_from_the_directory_alone() -> None:
    data = bytearray(_zip({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w/>"}))
    # Claim 4 GB uncompressed in the central directory entry of the second member.
    entry = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 4)
    data[entry + 24 : entry + 28] = struct.pack("<I", 0xFFFFFFF0)
    assert sniff(bytes(data), "referral.docx") == Sniffed("zip", BOMB)


def test_opendocument_text_and_its_encrypted_form() -> None:
    odt = (CORPUS / "assessment-notes.odt").read_bytes()
    assert sniff(odt, "assessment.odt") == Sniffed("odt", None)

    def encrypt(name: str, body: bytes) -> bytes:
        marker = b"<manifest:encryption-data/></manifest:file-entry>"
        return body.replace(b"/></manifest:manifest>", b">" + marker + b"</manifest:manifest>")

    assert sniff(MAKER.rewrite_zip(odt, encrypt), "assessment.odt").problem == PASSWORD


@pytest.mark.parametrize(
    ("data", "name", "problem"),
    [
        (
            bytes(range(256)) * 4,
            "referral.docx",
            "the file is named .docx but its contents are not recognised",
        ),
        (
            b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64,
            "video",
            "(.mp4) is not accepted",
        ),
    ],
)
def test_unknown_contents_are_refused_plainly(data: bytes, name: str, problem: str) -> None:
    found = sniff(data, name)
    assert found.type == "unknown" and found.problem is not None and problem in found.problem


HEADERS = [
    b"PK\x03\x04",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"%PDF-1.7\n",
    b"\x89PNG\r\n\x1a\n",
    b"MZ",
    b"{\\rtf",
]


@settings(max_examples=300, deadline=None)
@given(
    head=st.sampled_from([b"", *HEADERS]),
    body=st.binary(max_size=2048),
    name=st.text(max_size=30),
)
def test_sniff_never_raises_and_always_names_a_known_type(
    head: bytes, body: bytes, name: str
) -> None:
    found = sniff(head + body, name)
    assert found.type in TYPES


@settings(max_examples=60, deadline=None)
@given(cut=st.integers(min_value=0, max_value=12_000), flip=st.integers(min_value=0, max_value=255))
def test_damaged_office_containers_never_raise(cut: int, flip: int) -> None:
    for sample in (blank_form_bytes(), (CORPUS / "Referral form (protected).docx").read_bytes()):
        damaged = bytearray(sample[: max(cut, 1) * 4])
        if damaged:
            damaged[min(cut, len(damaged) - 1)] ^= flip
        assert sniff(bytes(damaged), "x.docx").type in TYPES


def test_sniffing_a_typical_document_is_fast() -> None:
    data = blank_form_bytes()
    start = time.perf_counter()
    for _ in range(50):
        sniff(data, "form.docx")
    # About 0.3 ms each here; the bound only catches an accidental full decompression.
    assert (time.perf_counter() - start) / 50 < 0.01
