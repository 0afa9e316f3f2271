"""The real type of an attachment, read from its bytes, and a plain-English reason to refuse it.

Names lie and so do some libraries: `filetype` calls an encrypted .docx "ppt" and a .docm "docx".
Only the OOXML `[Content_Types].xml`, the ODF `mimetype`, the OLE compound-file directory and
the PDF trailer tell the truth, so those are read here, with guards, from the bytes themselves.
Also here: the guarded zip and XML readers that `form` and `classify` share (R16, SPEC §7).
"""

from __future__ import annotations

import functools
import io
import logging
import re
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import filetype
from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from pipeline.documents.results import Sniffed

log = logging.getLogger(__name__)

# Zip guards (SPEC §7): refuse before decompressing anything.
MAX_ZIP_MEMBERS = 10_000
MAX_ZIP_TOTAL = 256 * 1024 * 1024
MAX_ZIP_RATIO = 200
RATIO_CHECK_FROM = 1024 * 1024
# Any one XML part read for sniffing or classification is read no further than this.
MAX_XML_BYTES = 32 * 1024 * 1024

ACCEPTED = "please send Word, Excel, PDF or image files"
PASSWORD = "the file is password-protected: please send it without a password"
RIGHTS = (
    "the file is protected by a sensitivity label or rights management, so it cannot be opened "
    "here: please send a copy without that protection"
)
CUT_SHORT = "the file is damaged (it is cut short)"
UNREADABLE = "the file is damaged and cannot be opened: please save it again and resend it"
BOMB = (
    "the file would expand to an unsafe size if opened (it may be damaged or deliberately "
    "malformed): please send the original document again"
)
XLSB = (
    "this type of file (.xlsb, a binary workbook) is not accepted: please save it as a normal "
    "Excel workbook (.xlsx) and send it again"
)
ZIP_ARCHIVE = "zip archives are not accepted: please attach the documents themselves"
MSG_FILE = "this is a saved email (.msg), not a document: please attach the documents themselves"
NO_OUTLOOK = (
    "Outlook .msg files cannot be read on this server: please send the attachments themselves"
)

# Names that a person's computer would run when double-clicked, whatever the bytes are.
DANGEROUS_EXTENSIONS = frozenset(
    {
        *("exe", "com", "scr", "pif", "bat", "cmd", "js", "jse", "vbs", "vbe", "wsf", "wsh"),
        *("ps1", "psm1", "hta", "lnk", "msi", "msp", "dll", "cpl", "jar", "sh", "app", "reg"),
        *("inf", "scf", "url", "iso", "img", "vhd", "vhdx", "appx", "msix"),
    }
)

_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "docx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": "docx",
    "application/vnd.ms-word.document.macroEnabled.main+xml": "docm",
    "application/vnd.ms-word.template.macroEnabledTemplate.main+xml": "docm",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": "xlsx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": "xlsx",
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": "xlsm",
    "application/vnd.ms-excel.template.macroEnabled.main+xml": "xlsm",
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": "xlsb",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "pptx",
    "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml": "pptm",
}
_VBA_PROJECT = "application/vnd.ms-office.vbaProject"
_MACRO_TWIN = {"docx": "docm", "xlsx": "xlsm", "pptx": "pptm"}
_ODF = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
}

# Extensions of the document formats that are zips inside, and the type each is sniffed as.
_ZIP_DOCUMENTS = {name: name for name in ("docx", "xlsx", "pptx", "docm", "xlsm", "odt", "ods")}
_ZIP_DOCUMENTS["pptm"] = "pptx"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OLE_FREE = 0xFFFFFFFA  # Every sector id at or above this is a marker, not a sector.
_DRM_STREAMS = frozenset(
    {"DRMEncryptedDataSpace", "DRMEncryptedTransform", "\x09DRMContent", "\x09DRMViewerContent"}
)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})

XML_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False, remove_pis=True
)


def extension(filename: str) -> str:
    """The last extension, lower-case; Windows ignores trailing dots and spaces, so do we."""
    name = filename.strip().rstrip(". ").rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    return name.rsplit(".", 1)[1].lower() if "." in name else ""


def parse_xml(raw: bytes | None) -> etree._Element | None:
    """Parse an XML part with no entities, no network and no DTD; None if it is not safe XML."""
    if not raw:
        return None
    # Office and ODF parts never carry a DTD; one that does is hostile (billion laughs).
    if b"<!doctype" in raw[:4096].lower():
        return None
    try:
        return etree.fromstring(raw, XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None


def open_zip(data: bytes) -> zipfile.ZipFile | None:
    """Open a zip's central directory (reading no member), or None if it is not one."""
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return None


def zip_problem(archive: zipfile.ZipFile) -> str | None:
    """Refuse zip bombs from the central directory alone, before any member is decompressed."""
    members = archive.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        return BOMB
    if sum(m.file_size for m in members) > MAX_ZIP_TOTAL:
        return BOMB
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > RATIO_CHECK_FROM and ratio > MAX_ZIP_RATIO:
            return BOMB
    if any(m.flag_bits & 0x1 for m in members):
        return PASSWORD
    return None


def read_member(archive: zipfile.ZipFile, name: str, limit: int = MAX_XML_BYTES) -> bytes | None:
    """One member's bytes (never more than `limit`), or None if missing, too big or corrupt."""
    try:
        info = archive.getinfo(name)
        if info.file_size > limit:
            return None
        with archive.open(info) as member:
            return member.read(limit)
    except (KeyError, zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        return None
    # zlib and friends raise their own errors on hostile input.
    except Exception:
        return None


def sniff(data: bytes, filename: str) -> Sniffed:
    """The real type of `data` and, if it must be refused, why; never raises."""
    try:
        found = _sniff_bytes(data, filename)
    # A hostile file must never stop intake.
    except Exception as exc:
        log.warning("sniff failed unexpectedly: %s", type(exc).__name__)
        found = Sniffed("unknown", UNREADABLE)
    return _check_name(found, filename)


def _check_name(found: Sniffed, filename: str) -> Sniffed:
    ext = extension(filename)
    if found.problem is None and ext in DANGEROUS_EXTENSIONS:
        return Sniffed(found.type, f"this type of file (.{ext}) is not accepted: {ACCEPTED}")
    return found


def _sniff_bytes(data: bytes, filename: str) -> Sniffed:
    # The head settles it for any real file, without copying the whole of it.
    if not data[:64].strip(b"\x00 \t\r\n") and not data.strip(b"\x00 \t\r\n"):
        return Sniffed("empty", "the file is empty")
    head = data[:16]
    for test, reader in _MAGIC:
        if test(head):
            return reader(data, filename)
    if b"%PDF-" in data[:1024]:
        # Readers accept junk before the header; so do we, and then check it as a PDF.
        return _sniff_pdf(data, filename)
    return _sniff_other(data, filename)


_PROGRAM_MAGIC = (
    *(b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf"),
    *(b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe", b"\xca\xfe\xba\xbe"),
)


def _is_program(head: bytes) -> bool:
    # Windows (MZ), Linux (ELF), macOS (Mach-O) programs, and scripts that name their runner.
    return head[:2] in (b"MZ", b"#!") or head[:4] in _PROGRAM_MAGIC


def _program(data: bytes, filename: str) -> Sniffed:
    ext = extension(filename)
    if ext in DANGEROUS_EXTENSIONS:
        return Sniffed("executable", f"this type of file (.{ext}) is not accepted: {ACCEPTED}")
    if ext:
        return Sniffed("executable", f"the file is named .{ext} but is actually a program")
    return Sniffed("executable", f"the file is a program, which is not accepted: {ACCEPTED}")


def _image(kind: str, end_marker: bytes | None = None) -> Callable[[bytes, str], Sniffed]:
    def reader(data: bytes, filename: str) -> Sniffed:
        # A picture that lost its end marker was cut short in transit; phones may add data
        # after the marker, so only its absence anywhere counts.
        if end_marker is not None and data.rfind(end_marker) < 0:
            return Sniffed(kind, CUT_SHORT)
        return Sniffed(kind)

    return reader


def _is_bmp(head: bytes) -> bool:
    return head[:2] == b"BM" and len(head) >= 16 and head[14] in (12, 40, 52, 56, 64, 108, 124)


def _is_heif(head: bytes) -> bool:
    return head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS


def _sniff_pdf(data: bytes, filename: str) -> Sniffed:
    # Acrobat looks for %%EOF in the last 1024 bytes; allow a little more for padding.
    if b"%%EOF" not in data[-2048:]:
        return Sniffed("pdf", CUT_SHORT)
    # The /Encrypt key is never compressed (trailer or xref-stream dictionary), so only a
    # PDF that has it needs the slower check.
    if b"/Encrypt" in data and _pdf_needs_password(data):
        return Sniffed("pdf", PASSWORD)
    if not _pdf_xref_points_somewhere(data) and not _pdf_opens(data):
        return Sniffed("pdf", UNREADABLE)
    return Sniffed("pdf")


def _pdf_needs_password(data: bytes) -> bool:
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        # An owner password only limits printing or copying; any reader opens those files.
        return bool(reader.is_encrypted) and not reader.decrypt("")
    # pypdf raises many kinds of error on hostile input.
    except Exception:
        return True


_STARTXREF = re.compile(rb"startxref\s+(\d+)")
_OBJECT = re.compile(rb"\s*\d+\s+\d+\s+obj")


def _pdf_xref_points_somewhere(data: bytes) -> bool:
    found = _STARTXREF.findall(data[-2048:])
    if not found:
        return False
    offset = int(found[-1])
    target = data[offset : offset + 32]
    return target.startswith(b"xref") or _OBJECT.match(target) is not None


def _pdf_opens(data: bytes) -> bool:
    from pypdf import PdfReader

    # A broken index is repaired by every reader; refuse only what pypdf cannot rebuild.
    try:
        return len(PdfReader(io.BytesIO(data), strict=False).pages) > 0
    # pypdf raises many kinds of error on hostile input.
    except Exception:
        return False


def _sniff_zip(data: bytes, filename: str) -> Sniffed:
    named = extension(filename)
    archive = open_zip(data)
    if archive is None:
        return Sniffed(_ZIP_DOCUMENTS.get(named, "zip"), CUT_SHORT)
    with archive:
        problem = zip_problem(archive)
        if problem is not None:
            return Sniffed("zip", problem)
        names = set(archive.namelist())
        if "[Content_Types].xml" in names:
            return _sniff_ooxml(archive)
        if "mimetype" in names:
            return _sniff_odf(archive)
    # A "document" that is a zip without a document's index has lost it: it is damaged.
    return Sniffed("zip", UNREADABLE if named in _ZIP_DOCUMENTS else ZIP_ARCHIVE)


def _sniff_ooxml(archive: zipfile.ZipFile) -> Sniffed:
    root = parse_xml(read_member(archive, "[Content_Types].xml", 1024 * 1024))
    if root is None:
        return Sniffed("zip", UNREADABLE)
    types = {str(node.get("ContentType", "")) for node in root}
    found = next((_OOXML_MAIN[t] for t in types if t in _OOXML_MAIN), None)
    if found is None:
        return Sniffed("zip", f"the file is not a Word, Excel or PowerPoint document: {ACCEPTED}")
    if found == "xlsb":
        return Sniffed("unknown", XLSB)
    # A vbaProject part makes a .docx a .docm in all but name; Word refuses to open it.
    if _VBA_PROJECT in types:
        found = _MACRO_TWIN.get(found, found)
    # Sniffed.type names no macro-enabled PowerPoint: it is a .pptx with macros, and refused.
    return Sniffed("pptx" if found == "pptm" else found, _macro_problem(found))


def _macro_problem(found: str) -> str | None:
    if found in ("docm", "doc"):
        return (
            f"the file contains macros (.{found}): please save it as a normal Word document "
            "(.docx) and send it again"
        )
    if found in ("xlsm", "xls"):
        return (
            f"the file contains macros (.{found}): please save it as a normal Excel workbook "
            "(.xlsx) and send it again"
        )
    if found == "pptm":
        return (
            "the file contains macros (.pptm): please save it as a normal PowerPoint file "
            "(.pptx) or as a PDF and send it again"
        )
    return None


def _sniff_odf(archive: zipfile.ZipFile) -> Sniffed:
    mimetype = (read_member(archive, "mimetype", 256) or b"").decode("ascii", "replace").strip()
    found = _ODF.get(mimetype)
    if found is None:
        return Sniffed("zip", f"this type of document is not accepted: {ACCEPTED}")
    manifest = read_member(archive, "META-INF/manifest.xml", 1024 * 1024) or b""
    if b"encryption-data" in manifest:
        return Sniffed(found, PASSWORD)
    return Sniffed(found)


@dataclass(frozen=True)
class _OleEntry:
    name: str
    start: int
    size: int


def _sniff_ole(data: bytes, filename: str) -> Sniffed:
    entries = _ole_directory(data)
    if entries is None:
        return Sniffed("unknown", UNREADABLE)
    names = {e.name for e in entries}
    if names & _DRM_STREAMS:
        return Sniffed("encrypted-office", RIGHTS)
    if "EncryptedPackage" in names or "EncryptionInfo" in names:
        return Sniffed("encrypted-office", PASSWORD)
    if "WordDocument" in names:
        return _sniff_legacy(data, entries, "doc", "Macros")
    if "Workbook" in names or "Book" in names:
        return _sniff_legacy(data, entries, "xls", "_VBA_PROJECT_CUR")
    if any(n.startswith("__substg1.0_") for n in names):
        return Sniffed("unknown", MSG_FILE if outlook_readable() else NO_OUTLOOK)
    return Sniffed("unknown", f"this type of file is not accepted: {ACCEPTED}")


@functools.cache
def outlook_readable() -> bool:
    """Whether this server can open Outlook .msg files (the optional `msg` extra, extract-msg,
    which the email reader uses to unpack them). Imported, not just looked for, so a broken or
    blocked install counts as absent; only a .msg the email reader kept ever asks."""
    try:
        import extract_msg  # noqa: F401
    except ImportError:
        return False
    return True


def _sniff_legacy(data: bytes, entries: list[_OleEntry], kind: str, macros: str) -> Sniffed:
    names = {e.name for e in entries}
    if macros in names:
        return Sniffed(kind, _macro_problem(kind))
    if _legacy_encrypted(data, entries):
        return Sniffed(kind, PASSWORD)
    return Sniffed(kind)


def _legacy_encrypted(data: bytes, entries: list[_OleEntry]) -> bool:
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    cutoff = struct.unpack_from("<I", data, 0x38)[0]
    for entry in entries:
        # Small streams live in the mini stream; Word and Excel streams never are that small.
        if entry.size < cutoff or entry.start >= _OLE_FREE:
            continue
        start = (entry.start + 1) << shift
        if entry.name == "WordDocument":
            # The FIB's fEncrypted bit; the FIB itself is never encrypted.
            return start + 12 <= len(data) and bool(data[start + 0x0B] & 0x01)
        if entry.name in ("Workbook", "Book") and start + 8 <= len(data):
            # In BIFF8 a FILEPASS record (0x002F) comes straight after the first BOF record.
            bof_len = struct.unpack_from("<H", data, start + 2)[0]
            after = start + 4 + bof_len
            record = struct.unpack_from("<H", data, after)[0] if after + 2 <= len(data) else 0
            return record == 0x002F
    return False


def _ole_directory(data: bytes) -> list[_OleEntry] | None:
    """Every entry of an OLE compound file's directory, or None if the structure is broken."""
    if len(data) < 512:
        return None
    shift = struct.unpack_from("<H", data, 0x1E)[0]
    if shift not in (9, 12):
        return None
    fat = _ole_fat(data, shift)
    entries: list[_OleEntry] = []
    sector = struct.unpack_from("<I", data, 0x30)[0]
    seen: set[int] = set()
    while sector < _OLE_FREE and sector not in seen and len(seen) < 10_000:
        seen.add(sector)
        offset = (sector + 1) << shift
        chunk = data[offset : offset + (1 << shift)]
        if len(chunk) < (1 << shift):
            return entries or None
        entries.extend(_ole_entries(chunk))
        sector = fat(sector)
    return entries


def _ole_entries(chunk: bytes) -> list[_OleEntry]:
    found = []
    for offset in range(0, len(chunk), 128):
        raw = chunk[offset : offset + 128]
        name_len = struct.unpack_from("<H", raw, 0x40)[0]
        if raw[0x42] == 0 or not 2 <= name_len <= 64:
            continue
        name = raw[: name_len - 2].decode("utf-16-le", "replace")
        start, size = struct.unpack_from("<II", raw, 0x74)
        found.append(_OleEntry(name, start, size))
    return found


def _ole_fat(data: bytes, shift: int) -> Callable[[int], int]:
    """A lookup of the next sector in a chain, reading the FAT lazily and defensively."""
    per_sector = (1 << shift) // 4
    fat_sectors = list(struct.unpack_from("<109I", data, 0x4C))
    difat = struct.unpack_from("<I", data, 0x44)[0]
    seen: set[int] = set()
    while difat < _OLE_FREE and difat not in seen and len(seen) < 1000:
        seen.add(difat)
        offset = (difat + 1) << shift
        if offset + (1 << shift) > len(data):
            break
        ids = struct.unpack_from(f"<{per_sector}I", data, offset)
        fat_sectors.extend(ids[:-1])
        difat = ids[-1]

    def next_sector(sector: int) -> int:
        index, slot = divmod(sector, per_sector)
        if index >= len(fat_sectors) or fat_sectors[index] >= _OLE_FREE:
            return _OLE_FREE
        offset = ((fat_sectors[index] + 1) << shift) + slot * 4
        if offset + 4 > len(data):
            return _OLE_FREE
        return int(struct.unpack_from("<I", data, offset)[0])

    return next_sector


def _sniff_rtf(data: bytes, filename: str) -> Sniffed:
    return Sniffed("rtf")


def _sniff_other(data: bytes, filename: str) -> Sniffed:
    text = _as_text(data[:8192])
    if text is not None:
        return Sniffed(_text_type(text, filename))
    guessed = filetype.guess_extension(data[:8192])
    ext = str(guessed) if guessed else extension(filename)
    if ext in ("docx", "xlsx", "doc", "xls", "pdf", "odt", "ods"):
        return Sniffed("unknown", f"the file is named .{ext} but its contents are not recognised")
    shown = f" (.{ext})" if ext else ""
    return Sniffed("unknown", f"this type of file{shown} is not accepted: {ACCEPTED}")


def _as_text(head: bytes) -> str | None:
    if b"\x00" in head:
        return None
    try:
        # A multi-byte character may be cut at the end of the sample.
        return head.decode("utf-8-sig", errors="strict") if head else ""
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 3:
            return head[: exc.start].decode("utf-8-sig", "replace")
    text = head.decode("cp1252", errors="replace")
    printable = sum(ch.isprintable() or ch in "\r\n\t" for ch in text)
    return text if printable >= 0.95 * len(text) else None


def _text_type(text: str, filename: str) -> str:
    start = text.lstrip()[:1024].lower()
    if start.startswith(("<!doctype html", "<html")) or "<html" in start:
        return "html"
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    commas = [line.count(",") for line in lines]
    regular = len(lines) >= 2 and min(commas) >= 1 and len(set(commas)) == 1
    if extension(filename) == "csv" or regular:
        return "csv"
    return "txt"


_MAGIC: tuple[tuple[Callable[[bytes], bool], Callable[[bytes, str], Sniffed]], ...] = (
    (_is_program, _program),
    (lambda h: h.startswith(b"%PDF-"), _sniff_pdf),
    (lambda h: h[:4] in (b"PK\x03\x04", b"PK\x05\x06"), _sniff_zip),
    (lambda h: h.startswith(_OLE_MAGIC), _sniff_ole),
    (lambda h: h.startswith(b"\x89PNG\r\n\x1a\n"), _image("png", b"IEND")),
    (lambda h: h.startswith(b"\xff\xd8\xff"), _image("jpeg", b"\xff\xd9")),
    (lambda h: h[:6] in (b"GIF87a", b"GIF89a"), _image("gif")),
    (lambda h: h[:4] in (b"II*\x00", b"MM\x00*"), _image("tiff")),
    (_is_bmp, _image("bmp")),
    (_is_heif, _image("heic")),
    (lambda h: h.startswith(b"{\\rtf"), _sniff_rtf),
)
