"""The fonts our PDFs are written in: DejaVu Sans, embedded, so every name reads as written.

The PDF standard fonts (Helvetica) speak Windows-1252 only, so "Łukasz" or "Δέλτα" came out as
"?ukasz" and "?????" on stamps, front sheets and summaries. DejaVu Sans covers Latin, Greek and
Cyrillic in full (Debian's fonts-dejavu-core; its licence lets it be embedded). It is found
through fontconfig or where distributions install it; each PDF carries only the glyphs it uses.
Where it is missing the standard fonts are used as before, and the log says so once.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import shutil
import struct
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pikepdf
from pdfminer.fontmetrics import FONT_METRICS

log = logging.getLogger(__name__)

FAMILY = "DejaVu Sans"
REGULAR, BOLD = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf"
# Where distributions install DejaVu, for machines without fontconfig's fc-match: Debian and
# Ubuntu, Fedora, Arch, Alpine and other Linuxes, then macOS and a user's own fonts.
FOLDERS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/dejavu"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/local/share/fonts"),
    Path("/Library/Fonts"),
    Path.home() / "Library" / "Fonts",
    Path.home() / ".local" / "share" / "fonts",
    Path.home() / ".fonts",
)
# fc-match answers in milliseconds from its cache; a first run may build the cache.
FC_MATCH_SECONDS = 10.0
# The glyph shown for a character the font lacks.
REPLACEMENT = "\ufffd"
# A CMap's bfchar block may hold at most 100 entries (Adobe's CMap specification).
_BFCHAR_BATCH = 100


class Face(Protocol):
    """One typeface as the PDF writers need it: measure, encode, and add it to a PDF."""

    def width(self, text: str, size: float) -> float: ...

    def encode(self, text: str) -> bytes: ...

    def font(self, pdf: pikepdf.Pdf, text: str) -> pikepdf.Object:
        """The font object for `pdf`, able to show every character of `text`."""
        ...


def wrapped(face: Face, text: str, size: float, room: float) -> list[str]:
    """`text` in lines at most `room` points wide (greedy word wrap); a single word wider than
    the line is left whole."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and face.width(candidate, size) > room:
            lines.append(current)
            current = word
        else:
            current = candidate
    return [*lines, current] if current or not lines else lines


@dataclass(frozen=True)
class FontFiles:
    regular: Path
    bold: Path


@dataclass(frozen=True)
class Faces:
    """The regular and bold faces every PDF we write uses; `files` None means the fallback."""

    regular: Face
    bold: Face
    files: FontFiles | None

    def of(self, bold: bool) -> Face:
        return self.bold if bold else self.regular


class StandardFace:
    """A PDF standard font (not embedded): Windows-1252 only, anything else shown as '?'."""

    def __init__(self, base: str) -> None:
        self.base = base
        self._widths: Mapping[str, float] = FONT_METRICS[base][1]

    def width(self, text: str, size: float) -> float:
        return sum(float(self._widths.get(ch, 556)) for ch in text) * size / 1000

    def encode(self, text: str) -> bytes:
        return text.encode("cp1252", errors="replace")

    def font(self, pdf: pikepdf.Pdf, text: str) -> pikepdf.Object:
        return pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type1,
                BaseFont=pikepdf.Name("/" + self.base),
                Encoding=pikepdf.Name.WinAnsiEncoding,
            )
        )


class _Table(dict[str, int]):
    """A number for each character, and one number for every character the font lacks."""

    def __init__(self, items: Iterable[tuple[str, int]], otherwise: int) -> None:
        super().__init__(items)
        self.otherwise = otherwise

    def __missing__(self, character: str) -> int:
        return self.otherwise


@dataclass(frozen=True)
class _Metrics:
    """What a TrueType font says about itself that the PDF needs, in units of 1/1000 em."""

    name: str
    # By character: its glyph id, and its advance width.
    glyphs: _Table = field(repr=False)
    widths: _Table = field(repr=False)
    # By glyph id: its advance width.
    advances: dict[int, int] = field(repr=False)
    bbox: tuple[int, int, int, int]
    ascent: int
    descent: int
    cap_height: int


class EmbeddedFace:
    """A TrueType font embedded as a CID font (Identity-H): two bytes per glyph, any script.

    Each PDF gets a subset holding only the glyphs its text uses, with a ToUnicode map so the
    text can be searched and copied. Glyph ids are kept as in the whole font, so text can be
    encoded before the subset is made.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._data = path.read_bytes()
        self._metrics = _read_metrics(self._data)

    def _shown(self, text: str) -> dict[int, str]:
        """Each glyph `text` needs, with the character it shows (U+FFFD for one it lacks)."""
        glyphs = self._metrics.glyphs
        used: dict[int, str] = {}
        for character in sorted(set(text)):
            used.setdefault(glyphs[character], character if character in glyphs else REPLACEMENT)
        return used

    # Both run once per character of every line and stamp, so they stay in C: map and a
    # table lookup per character, no Python-level loop.
    def width(self, text: str, size: float) -> float:
        return sum(map(self._metrics.widths.__getitem__, text)) * size / 1000

    def encode(self, text: str) -> bytes:
        return struct.pack(f">{len(text)}H", *map(self._metrics.glyphs.__getitem__, text))

    def font(self, pdf: pikepdf.Pdf, text: str) -> pikepdf.Object:
        used = self._shown(text)
        program = _subset(self._data, frozenset(used))
        tag = "".join(chr(65 + b % 26) for b in hashlib.sha256(program).digest()[:6])
        name = pikepdf.Name(f"/{tag}+{self._metrics.name}")
        descendant = pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.CIDFontType2,
            BaseFont=name,
            CIDSystemInfo=pikepdf.Dictionary(
                Registry=pikepdf.String("Adobe"), Ordering=pikepdf.String("Identity"), Supplement=0
            ),
            FontDescriptor=self._descriptor(pdf, name, program),
            W=pikepdf.Array(self._widths(used)),
            CIDToGIDMap=pikepdf.Name.Identity,
        )
        return pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font,
                Subtype=pikepdf.Name.Type0,
                BaseFont=name,
                Encoding=pikepdf.Name("/Identity-H"),
                DescendantFonts=pikepdf.Array([pdf.make_indirect(descendant)]),
                ToUnicode=pdf.make_stream(_to_unicode(used)),
            )
        )

    def _descriptor(self, pdf: pikepdf.Pdf, name: pikepdf.Name, program: bytes) -> Any:
        metrics = self._metrics
        # Saving compresses the stream: most of a subset is empty glyph slots.
        stream = pdf.make_stream(program)
        stream.Length1 = len(program)
        return pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.FontDescriptor,
                FontName=name,
                # Nonsymbolic: the font uses the standard Latin character set and more.
                Flags=32,
                FontBBox=pikepdf.Array(metrics.bbox),
                ItalicAngle=0,
                Ascent=metrics.ascent,
                Descent=metrics.descent,
                CapHeight=metrics.cap_height,
                StemV=80,
                FontFile2=stream,
            )
        )

    def _widths(self, used: dict[int, str]) -> list[Any]:
        advances = self._metrics.advances
        entries: list[Any] = []
        for glyph in sorted(used):
            entries += [glyph, pikepdf.Array([advances.get(glyph, 0)])]
        return entries


def _read_metrics(data: bytes) -> _Metrics:
    from fontTools.ttLib import TTFont

    font = TTFont(io.BytesIO(data), lazy=True)
    scale = 1000 / font["head"].unitsPerEm
    order = {name: index for index, name in enumerate(font.getGlyphOrder())}
    cmap = {chr(code): order[name] for code, name in font.getBestCmap().items() if name in order}
    metrics = font["hmtx"].metrics
    advances = {order[name]: round(advance * scale) for name, (advance, _) in metrics.items()}
    missing = cmap.get(REPLACEMENT, 0)
    glyphs = _Table(cmap.items(), missing)
    widths = _Table(((ch, advances.get(gid, 0)) for ch, gid in cmap.items()), advances[missing])
    head, hhea = font["head"], font["hhea"]
    ascent = round(hhea.ascent * scale)
    # Older fonts' OS/2 tables have no cap height; seven tenths of the ascent is typical.
    cap_height = getattr(font["OS/2"], "sCapHeight", 0) or round(hhea.ascent * 0.7)
    postscript = font["name"].getDebugName(6) or "DejaVuSans"
    return _Metrics(
        name=str(postscript).replace(" ", ""),
        glyphs=glyphs,
        widths=widths,
        advances=advances,
        bbox=(
            round(head.xMin * scale),
            round(head.yMin * scale),
            round(head.xMax * scale),
            round(head.yMax * scale),
        ),
        ascent=ascent,
        descent=round(hhea.descent * scale),
        cap_height=round(cap_height * scale),
    )


@functools.lru_cache(maxsize=64)
def _subset(data: bytes, glyphs: frozenset[int]) -> bytes:
    """The font program holding only `glyphs` (and .notdef), at their original glyph ids."""
    from fontTools import subset

    options = subset.Options(
        retain_gids=True,
        notdef_outline=True,
        hinting=False,
        layout_features=[],
        glyph_names=False,
        name_IDs=[],
        name_languages=[],
    )
    # Tables a PDF viewer never reads (layout and kerning: we place glyphs one by one).
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "kern", "FFTM", "BASE", "MATH", "JSTF"]
    font = subset.load_font(io.BytesIO(data), options, lazy=True)
    subsetter = subset.Subsetter(options)
    subsetter.populate(gids=sorted(glyphs))
    subsetter.subset(font)
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _to_unicode(used: dict[int, str]) -> bytes:
    """A ToUnicode CMap: which character each glyph shows, for search and copy."""
    pairs = [
        f"<{glyph:04X}> <{text.encode('utf-16-be').hex().upper()}>"
        for glyph, text in sorted(used.items())
    ]
    blocks = []
    for start in range(0, len(pairs), _BFCHAR_BATCH):
        batch = pairs[start : start + _BFCHAR_BATCH]
        blocks.append(f"{len(batch)} beginbfchar\n" + "\n".join(batch) + "\nendbfchar")
    return (
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n"
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n"
        "/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n"
        "1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n"
        + "\n".join(blocks)
        + "\nendcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n"
    ).encode("ascii")


def _fontconfig(style: str, wanted: str) -> Path | None:
    """The file fontconfig gives for DejaVu Sans in `style`, if it is really that file: for a
    family it lacks, fc-match answers with some other font."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        found = subprocess.run(
            [fc_match, "--format=%{file}", f"{FAMILY}:style={style}"],
            capture_output=True,
            text=True,
            timeout=FC_MATCH_SECONDS,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(found)
    return path if found and path.name == wanted and path.is_file() else None


def _in_folders(folders: Iterable[Path], wanted: str) -> Path | None:
    for folder in folders:
        candidate = folder / wanted
        if candidate.is_file():
            return candidate
    return None


def find_fonts(folders: Sequence[Path] = FOLDERS, fontconfig: bool = True) -> FontFiles | None:
    """DejaVu Sans and DejaVu Sans Bold: fontconfig first, then the usual folders."""
    found = []
    for style, wanted in (("Book", REGULAR), ("Bold", BOLD)):
        path = (_fontconfig(style, wanted) if fontconfig else None) or _in_folders(folders, wanted)
        if path is None:
            return None
        found.append(path)
    return FontFiles(*found)


def faces_from(files: FontFiles | None) -> Faces:
    """The embedded faces from `files`, or the standard fonts when there are none."""
    if files is None:
        return Faces(StandardFace("Helvetica"), StandardFace("Helvetica-Bold"), None)
    return Faces(EmbeddedFace(files.regular), EmbeddedFace(files.bold), files)


def load_faces(folders: Sequence[Path] = FOLDERS, fontconfig: bool = True) -> Faces:
    """Find and load the faces, saying in the log when the fallback has to be used."""
    files = find_fonts(folders, fontconfig)
    if files is None:
        log.warning(
            "the %s font was not found (Debian: apt-get install fonts-dejavu-core), so PDFs "
            "use the standard fonts and show characters outside Western European ones as '?'",
            FAMILY,
        )
    return faces_from(files)


@functools.cache
def faces() -> Faces:
    """The faces of this process: looked up once, so a missing font is reported once."""
    return load_faces()
