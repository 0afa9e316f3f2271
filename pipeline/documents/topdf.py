"""Turning an attachment into PDF pages for the pack: the conversion work that runs inside the
isolated worker process (SPEC §7), under the same time and memory limits as reading.

Pictures are the danger here: a 200 kB PNG can hold 13,370 × 13,370 pixels, which takes
gigabytes once decoded, and a TIFF can hold any number of such pages. Their sizes are in their
headers, so `picture_problem` refuses them before a pixel is decoded, at intake (the referrer is
told) and again here. Pillow's own guard (`Image.MAX_IMAGE_PIXELS`) only warns below twice its
limit, so it is not relied on: the limits below are checked explicitly.
"""

from __future__ import annotations

import io
import warnings
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pikepdf
from PIL import Image, ImageSequence

from pipeline.documents.flatten import read_only
from pipeline.errors import ConversionError

# Pillow's own default (about 89 million pixels, 256 MB as 24-bit colour), fixed here so that a
# library changing the global cannot move it. Placing the largest allowed picture on a page
# needs about 1 GB of address space at most: within the reader's default limit.
MAX_IMAGE_PIXELS = 89_478_485
# All the pages of one picture file together (a multi-page TIFF): about 40 A4 scans at 300 dpi.
MAX_PICTURE_PIXELS = 4 * MAX_IMAGE_PIXELS
# Images are drawn at no more than 300 dpi on A4: more pixels only make the pack heavier.
MAX_IMAGE_SIDE = 3508
IMAGE_MARGIN = 36.0
# A4 in PDF points (portrait width, height).
A4 = (595.28, 841.89)
SMALLER = "please send a smaller copy, or split it"
UNREADABLE = "the picture is damaged or of a kind we cannot read"
# What Pillow raises on a damaged or unknown picture (UnidentifiedImageError is an OSError).
DAMAGED = (OSError, EOFError, ValueError, SyntaxError)


class TooLarge(ConversionError):
    """A picture holds more pixels or pages than is safe to decode."""


@contextmanager
def opened(data: bytes) -> Iterator[pikepdf.Pdf]:
    """The PDF in `data`, or ConversionError saying why it cannot be opened."""
    try:
        pdf = pikepdf.open(io.BytesIO(data))
    except pikepdf.PasswordError as exc:
        raise ConversionError("the PDF is protected by a password") from exc
    except pikepdf.PdfError as exc:
        raise ConversionError("the PDF is damaged and cannot be opened") from exc
    with pdf:
        yield pdf


def pdf_pages(data: bytes) -> int:
    """The page count of a PDF we can open, or ConversionError saying why not."""
    with opened(data) as pdf:
        return len(pdf.pages)


def read_only_pdf(data: bytes) -> tuple[bytes | None, int]:
    """A PDF as the pack shows it, its form fields drawn into its pages and its scripts gone
    (`flatten`), or None if it had none; and its page count."""
    with opened(data) as pdf:
        pages = len(pdf.pages)
        try:
            if not read_only(pdf):
                return None, pages
            out = io.BytesIO()
            pdf.save(out)
        except pikepdf.PdfError as exc:
            raise ConversionError("the PDF's form is damaged and cannot be shown") from exc
        return out.getvalue(), pages


@contextmanager
def open_picture(data: bytes) -> Iterator[Image.Image]:
    """The picture in `data`, its header read and no pixel decoded yet.

    Raises TooLarge if it is far too large (Pillow refuses those itself), ConversionError if
    it cannot be read.
    """
    try:
        with warnings.catch_warnings():
            # Pillow warns above MAX_IMAGE_PIXELS; `picture_problem` says so in plain words.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise TooLarge(too_many_pixels(2 * MAX_IMAGE_PIXELS)) from exc
    except DAMAGED as exc:
        raise ConversionError(UNREADABLE) from exc
    with picture:
        yield picture


def too_many_pixels(pixels: int, size: tuple[int, int] | None = None) -> str:
    shown = f"{size[0]:,} × {size[1]:,} pixels" if size else f"over {millions(pixels)} pixels"
    return (
        f"the picture is too large to read safely ({shown}; the most the panel inbox takes is "
        f"{millions(MAX_IMAGE_PIXELS)} pixels a page): {SMALLER}"
    )


def millions(pixels: int) -> str:
    return f"{pixels / 1_000_000:,.0f} million"


def picture_problem(picture: Image.Image, max_pages: int) -> str | None:
    """Why a picture is refused (too many pages or pixels), read from its headers alone."""
    total = 0
    # Moving to a page reads that page's header (a TIFF's directory), not its pixels.
    for page, frame in enumerate(ImageSequence.Iterator(picture), start=1):
        if page > max_pages:
            return (
                f"the picture has more than {max_pages:,} pages, the most the panel inbox reads: "
                "please send the relevant pages"
            )
        width, height = frame.size
        if width * height > MAX_IMAGE_PIXELS:
            return too_many_pixels(width * height, frame.size)
        total += width * height
        if total > MAX_PICTURE_PIXELS:
            return (
                "the picture's pages are too large to read safely (over "
                f"{millions(MAX_PICTURE_PIXELS)} pixels in all): {SMALLER}"
            )
    return None


def check_picture(data: bytes, max_pages: int) -> str | None:
    """Why the picture in `data` is refused as too large, or None (also if Pillow cannot read
    it: other checks speak for damaged files and kinds Pillow does not know, such as HEIC)."""
    try:
        with open_picture(data) as picture:
            return picture_problem(picture, max_pages)
    except TooLarge as exc:
        return str(exc)
    except (ConversionError, *DAMAGED):
        return None


def _fitted(size: tuple[int, int]) -> tuple[int, int]:
    scale = min(1.0, MAX_IMAGE_SIDE / size[0], MAX_IMAGE_SIDE / size[1])
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _page_picture(frame: Image.Image) -> Image.Image:
    """One page of a picture in RGB on white, at most MAX_IMAGE_SIDE a side.

    It is made smaller before transparency is flattened, so that only one full-size copy (the
    colour conversion) is ever made besides the decoded page.
    """
    mode = "RGBA" if frame.has_transparency_data else "RGB"
    picture = frame if frame.mode == mode else frame.convert(mode)
    size = _fitted(picture.size)
    if size != picture.size:
        picture = picture.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)
    if mode == "RGB":
        return picture
    # Transparent areas become white, as they look on screen, instead of black.
    page = Image.new("RGB", picture.size, "white")
    page.paste(picture, mask=picture.getchannel("A"))
    return page


def _image_page(pdf: pikepdf.Pdf, picture: Image.Image) -> None:
    w, h = picture.size
    page_w, page_h = (A4[1], A4[0]) if w > h else A4
    scale = min((page_w - 2 * IMAGE_MARGIN) / w, (page_h - 2 * IMAGE_MARGIN) / h)
    draw_w, draw_h = w * scale, h * scale
    x, y = (page_w - draw_w) / 2, (page_h - draw_h) / 2
    image = pikepdf.Stream(pdf, zlib.compress(picture.tobytes(), 6))
    image.stream_dict = pikepdf.Dictionary(
        Type=pikepdf.Name.XObject,
        Subtype=pikepdf.Name.Image,
        Width=w,
        Height=h,
        ColorSpace=pikepdf.Name.DeviceRGB,
        BitsPerComponent=8,
        Filter=pikepdf.Name.FlateDecode,
    )
    content = f"q {draw_w:.2f} 0 0 {draw_h:.2f} {x:.2f} {y:.2f} cm /Im0 Do Q".encode()
    page = pikepdf.Dictionary(
        Type=pikepdf.Name.Page,
        MediaBox=pikepdf.Array([0, 0, page_w, page_h]),
        Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(Im0=image)),
        Contents=pdf.make_stream(content),
    )
    pdf.pages.append(pikepdf.Page(page))


def image_to_pdf(data: bytes, max_pages: int = 500) -> bytes:
    """Each page of a picture (a multi-page TIFF has several) on its own A4 page.

    Run it in the worker (`DocumentWorker.convert`): decoding is bounded by the checks above,
    but only the worker bounds its time and memory.
    """
    with open_picture(data) as picture:
        pdf = pikepdf.new()
        try:
            problem = picture_problem(picture, max_pages)
            if problem is not None:
                raise TooLarge(problem)
            for frame in ImageSequence.Iterator(picture):
                _image_page(pdf, _page_picture(frame))
        except DAMAGED as exc:
            raise ConversionError(UNREADABLE) from exc
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def to_pdf(route: str, data: bytes, max_pages: int) -> tuple[bytes | None, int]:
    """A picture as PDF, or a PDF made read-only (None: use it as it is); and the page count."""
    if route == "image":
        made = image_to_pdf(data, max_pages)
        return made, pdf_pages(made)
    return read_only_pdf(data)
