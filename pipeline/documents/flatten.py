"""A PDF made read-only for the pack: its form fields drawn into its pages, its scripts removed.

The pack copies each document's pages into one PDF. A form's fields belong to its /AcroForm,
which a copied page leaves behind, and most form fillers save NeedAppearances instead of a
picture of each value, leaving every reader to draw the values itself: panel members saw empty
boxes. The pack is read-only, so each field is drawn here once (in DejaVu Sans, so any Latin,
Greek or Cyrillic name reads as written; long answers wrapped and made smaller to fit their box,
down to MIN_SIZE) and burnt into its page as the referrer left it, ticked boxes included.

Other annotations do not depend on the /AcroForm and survive the copy, so they stay as they
are: a reviewer's comment keeps its text and a web link still opens. What would run or open
something in a panel member's reader (scripts, launch and submit actions, embedded files and
media) is removed; the original file travels with the pack, untouched, in the originals zip.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pikepdf
from pikepdf import Array, Dictionary, Name

from pipeline.fonts import Face, faces, wrapped

# Field flags (PDF 32000-1, 12.7.4): multi-line and password text, radio and push buttons.
MULTILINE = 1 << 12
PASSWORD = 1 << 13
RADIO = 1 << 15
PUSHBUTTON = 1 << 16
# Annotation flags: hidden, invisible, not shown on screen. A field the reader never sees on
# screen is not drawn into the pack either.
UNSEEN = int(
    pikepdf.AnnotationFlag.hidden
    | pikepdf.AnnotationFlag.invisible
    | pikepdf.AnnotationFlag.no_view
)
# Text is kept this far inside a field's border; sizes and leading in points, as readers draw.
PADDING = 2.0
AUTO_SIZE = 12.0
MIN_SIZE = 4.0
MAX_SIZE = 72.0
LEADING = 1.17
# Where DejaVu Sans's baseline sits below the top of a line, and its capitals' height (em).
ASCENT = 0.93
CAP_HEIGHT = 0.73
# Actions a panel member's reader may still follow: a web or mail link, a page of the document.
SAFE_ACTIONS = frozenset({"/URI", "/GoTo"})
SAFE_SCHEMES = ("http://", "https://", "mailto:")
# Annotations that carry a file, sound or film inside them: dropped, never passed on.
EMBEDDING = frozenset({"/FileAttachment", "/Sound", "/Movie", "/Screen", "/RichMedia", "/3D"})
# The fonts readers assume a form's appearances may name without defining (Acrobat's defaults).
DEFAULT_FONTS = {"/Helv": "/Helvetica", "/ZaDb": "/ZapfDingbats"}
# A field's ancestors are followed this far up: a loop in /Parent must not hang the reader.
MAX_DEPTH = 32
NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)"
FONT_SIZE = re.compile(rf"/\S+\s+({NUMBER})\s+Tf")
COLOUR = re.compile(rf"((?:{NUMBER}\s+){{1,4}})(g|rg|k)\b")
COLOUR_OPERANDS = {"g": 1, "rg": 3, "k": 4}


@dataclass(frozen=True)
class Form:
    """A document's form as drawing its fields needs it."""

    pdf: pikepdf.Pdf
    # The /AcroForm dictionary (empty if the document has none).
    fields: Dictionary
    # Whether the form asks every reader to draw its values (NeedAppearances).
    need: bool
    # One font for every value drawn here, holding the characters they use.
    font: pikepdf.Object | None


def read_only(pdf: pikepdf.Pdf) -> bool:
    """Draw every form field into its page and remove active content; whether anything changed.

    Raises pikepdf.PdfError if the document is too damaged to do so.
    """
    form = _form(pdf)
    changed = False
    for page in pdf.pages:
        changed |= _page(form, page)
    if "/AcroForm" in pdf.Root:
        del pdf.Root["/AcroForm"]
        changed = True
    return changed


def _form(pdf: pikepdf.Pdf) -> Form:
    fields = pdf.Root.get("/AcroForm")
    fields = fields if isinstance(fields, Dictionary) else Dictionary()
    need = bool(fields.get("/NeedAppearances", False))
    values = [
        _text_value(widget)
        for page in pdf.pages
        for widget in _widgets(page)
        if _written_here(widget, need)
    ]
    font = faces().regular.font(pdf, "".join(values)) if values else None
    return Form(pdf, fields, need, font)


def _widgets(page: pikepdf.Page) -> list[Dictionary]:
    annotations = page.obj.get("/Annots")
    if not isinstance(annotations, Array):
        return []
    return [a for a in annotations if isinstance(a, Dictionary) and _is(a, "/Widget")]


def _page(form: Form, page: pikepdf.Page) -> bool:
    # Page actions run when the page opens or closes.
    changed = _drop(page.obj, "/AA")
    annotations = page.obj.get("/Annots")
    if not isinstance(annotations, Array):
        return changed
    widgets = _widgets(page)
    if widgets:
        _burn(form, page, widgets)
    kept = []
    for annotation in annotations:
        if not isinstance(annotation, Dictionary) or _is(annotation, "/Widget"):
            continue
        keep, touched = _defuse(annotation)
        changed |= touched
        if keep:
            kept.append(annotation)
    if len(kept) != len(annotations):
        page.obj.Annots = Array(kept)
        changed = True
    return changed


def _drop(dictionary: Dictionary, key: str) -> bool:
    """Remove `key` from `dictionary`; whether it was there."""
    if key not in dictionary:
        return False
    del dictionary[key]
    return True


def _name(value: pikepdf.Object | None) -> str:
    """A PDF name as text ('/Widget'), or '' for anything else."""
    return str(value) if isinstance(value, Name) else ""


def _is(annotation: pikepdf.Object, subtype: str) -> bool:
    return isinstance(annotation, Dictionary) and _name(annotation.get("/Subtype")) == subtype


# --- Form fields, burnt into the page. ---


def _burn(form: Form, page: pikepdf.Page, widgets: list[Dictionary]) -> None:
    """Draw each widget's appearance (made first where there is none) into the page content."""
    content = []
    for widget in widgets:
        appearance = _draw(form, widget)
        if appearance is None:
            continue
        name = page.add_resource(appearance, Name.XObject, prefix="Fxo")
        shown = pikepdf.Annotation(widget).get_page_content_for_appearance(
            name, page.rotation, forbidden_flags=UNSEEN
        )
        content.append(shown)
    if content:
        # The page's own drawing is wrapped in q … Q so none of its state leaks into the fields.
        page.contents_add(form.pdf.make_stream(b"q\n"), prepend=True)
        page.contents_add(form.pdf.make_stream(b"Q\n" + b"\n".join(content)))


def _written_here(widget: Dictionary, need: bool) -> bool:
    """Whether a text or choice field's appearance is made here: the form asks readers to make
    them, or it has none."""
    kind = _name(_inherited(widget, "/FT"))
    return kind in ("/Tx", "/Ch") and (need or not isinstance(_normal(widget), pikepdf.Stream))


def _draw(form: Form, widget: Dictionary) -> pikepdf.Stream | None:
    """The appearance that shows `widget` as filled in, or None if it shows nothing."""
    if _written_here(widget, form.need):
        _text_appearance(form, widget)
    elif _name(_inherited(widget, "/FT")) == "/Btn" and not _flags(widget) & PUSHBUTTON:
        _button_state(form.pdf, widget)
    appearance = pikepdf.Annotation(widget).get_appearance_stream(Name.N)
    if not isinstance(appearance, pikepdf.Stream):
        return None
    if "/Resources" not in appearance:
        # Readers fall back on the form's own resources, which the pack does not carry.
        appearance.Resources = _form_resources(form)
    return appearance


def _normal(widget: Dictionary) -> pikepdf.Object | None:
    appearances = widget.get("/AP")
    return appearances.get("/N") if isinstance(appearances, Dictionary) else None


def _inherited(field: Dictionary, key: str) -> pikepdf.Object | None:
    """A field attribute from the widget or the nearest ancestor field that has it."""
    node: pikepdf.Object | None = field
    for _ in range(MAX_DEPTH):
        if not isinstance(node, Dictionary):
            return None
        if key in node:
            value: pikepdf.Object = node[key]
            return value
        node = node.get("/Parent")
    return None


def _flags(widget: Dictionary) -> int:
    return _integer(_inherited(widget, "/Ff"))


def _integer(value: object) -> int:
    """A PDF number as an int; 0 for anything else (a hostile file may put a name there)."""
    try:
        number: int = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0
    return number


def _form_resources(form: Form) -> Dictionary:
    resources = _copy(form.fields.get("/DR"))
    fonts = _copy(resources.get("/Font"))
    for name, base in DEFAULT_FONTS.items():
        if name not in fonts:
            fonts[name] = form.pdf.make_indirect(
                Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name(base))
            )
    resources.Font = fonts
    return resources


def _copy(value: pikepdf.Object | None) -> Dictionary:
    """A new dictionary with the entries of `value`, if it is one."""
    if not isinstance(value, Dictionary):
        return Dictionary()
    return Dictionary({str(key): value[str(key)] for key in value})


# --- Text and choice fields. ---


@dataclass(frozen=True)
class Style:
    """What a field's default appearance (/DA) asks for: a size (0: fit the box) and a colour."""

    size: float
    colour: tuple[list[float], str]


def _style(widget: Dictionary, form: Form) -> Style:
    appearance = _inherited(widget, "/DA") or form.fields.get("/DA")
    text = bytes(appearance).decode("latin-1") if isinstance(appearance, pikepdf.String) else ""
    sizes = FONT_SIZE.findall(text)
    colour: tuple[list[float], str] = ([0.0], "g")
    for operands, operator in COLOUR.findall(text):
        values = [float(v) for v in operands.split()][-COLOUR_OPERANDS[operator] :]
        if len(values) == COLOUR_OPERANDS[operator]:
            colour = (values, operator)
    size = min(MAX_SIZE, max(0.0, float(sizes[-1]))) if sizes else 0.0
    return Style(size, colour)


def _text_value(widget: Dictionary) -> str:
    """What a text or choice field shows: its value, or a choice's display name."""
    value = _inherited(widget, "/V")
    if _flags(widget) & PASSWORD:
        return ""
    if _name(_inherited(widget, "/FT")) != "/Ch":
        return str(value) if isinstance(value, pikepdf.String) else ""
    chosen = list(value) if isinstance(value, Array) else [value]
    shown = _choice_names(widget)
    return ", ".join(shown.get(str(c), str(c)) for c in chosen if isinstance(c, pikepdf.String))


def _choice_names(widget: Dictionary) -> dict[str, str]:
    """A choice field's display name for each export value (/Opt pairs)."""
    options = _inherited(widget, "/Opt")
    names = {}
    for option in options if isinstance(options, Array) else []:
        if isinstance(option, Array) and len(option) == 2:
            names[str(option[0])] = str(option[1])
    return names


def _text_appearance(form: Form, widget: Dictionary) -> None:
    """Give a text or choice field a normal appearance showing its value."""
    width, height, matrix = _box(widget)
    style = _style(widget, form)
    face = faces().regular
    text = _text_value(widget)
    multiline = bool(_flags(widget) & MULTILINE)
    size, lines = _layout(face, text, style.size, width, height, multiline)
    quadding = _integer(_inherited(widget, "/Q") or form.fields.get("/Q"))
    operations = _text_operations(face, lines, size, (width, height), (multiline, quadding))
    font = form.font or face.font(form.pdf, text)
    colour_operands, colour_operator = style.colour
    ops: list[tuple[list[object], pikepdf.Operator]] = [
        ([Name.Tx], pikepdf.Operator("BMC")),
        ([], pikepdf.Operator("q")),
        ([PADDING / 2, PADDING / 2, width - PADDING, height - PADDING], pikepdf.Operator("re")),
        ([], pikepdf.Operator("W")),
        ([], pikepdf.Operator("n")),
        ([], pikepdf.Operator("BT")),
        ([Name.F0, size], pikepdf.Operator("Tf")),
        (list(colour_operands), pikepdf.Operator(colour_operator)),
        *operations,
        ([], pikepdf.Operator("ET")),
        ([], pikepdf.Operator("Q")),
        ([], pikepdf.Operator("EMC")),
    ]
    stream = form.pdf.make_stream(pikepdf.unparse_content_stream(ops))  # type: ignore[arg-type]
    stream.Type, stream.Subtype = Name.XObject, Name.Form
    stream.BBox = Array([0, 0, width, height])
    stream.Resources = Dictionary(Font=Dictionary(F0=font))
    if matrix is not None:
        stream.Matrix = Array(matrix)
    widget.AP = Dictionary(N=stream)


def _box(widget: Dictionary) -> tuple[float, float, tuple[int, ...] | None]:
    """The width and height text is laid out in, and the matrix that turns it with the field
    (/MK /R: a field turned by a quarter lays its text along its long side)."""
    rect = pikepdf.Annotation(widget).rect
    width, height = abs(float(rect.width)), abs(float(rect.height))
    characteristics = widget.get("/MK")
    turned = characteristics.get("/R") if isinstance(characteristics, Dictionary) else None
    quarter = _integer(turned) % 360
    matrices = {90: (0, 1, -1, 0, 0, 0), 180: (-1, 0, 0, -1, 0, 0), 270: (0, -1, 1, 0, 0, 0)}
    if quarter in (90, 270):
        width, height = height, width
    return width, height, matrices.get(quarter)


def _layout(
    face: Face, text: str, size: float, width: float, height: float, multiline: bool
) -> tuple[float, list[str]]:
    """The font size and the lines that show `text` in the box, as large as the field asks.

    A multi-line answer is wrapped and made smaller until it fits (MIN_SIZE at the least); a
    single line is made smaller until it fits the width. A size of 0 means fit the box.
    """
    room, tall = width - 2 * PADDING, height - 2 * PADDING
    if multiline:
        size = size or AUTO_SIZE
        paragraphs = text.splitlines() or [""]
        while True:
            lines = [line for p in paragraphs for line in wrapped(face, p, size, room)]
            if len(lines) * size * LEADING <= tall or size <= MIN_SIZE:
                return size, lines
            size = max(MIN_SIZE, size - 0.5)
    line = " ".join(text.split())
    size = size or max(MIN_SIZE, min(AUTO_SIZE, tall / LEADING))
    wide = face.width(line, size)
    if wide > room > 0:
        size = max(MIN_SIZE, size * room / wide)
    return size, [line]


def _text_operations(
    face: Face, lines: list[str], size: float, box: tuple[float, float], how: tuple[bool, int]
) -> Iterator[tuple[list[object], pikepdf.Operator]]:
    """Each line placed by its own text matrix: from the top of a multi-line field, in the
    middle of a single-line one, and left, centred or right (`how`: multi-line, /Q 0, 1, 2)."""
    width, height = box
    multiline, quadding = how
    first = height - PADDING - size * ASCENT if multiline else (height - size * CAP_HEIGHT) / 2
    for number, line in enumerate(lines):
        spare = max(0.0, width - 2 * PADDING - face.width(line, size))
        x = PADDING + spare * {1: 0.5, 2: 1.0}.get(quadding, 0.0)
        yield [1, 0, 0, 1, x, first - size * LEADING * number], pikepdf.Operator("Tm")
        yield [pikepdf.String(face.encode(line))], pikepdf.Operator("Tj")


# --- Check boxes and radio buttons. ---


def _button_state(pdf: pikepdf.Pdf, widget: Dictionary) -> None:
    """Make the widget show its field's value: the state named by /V where no /AS says which
    appearance to show, and a drawn tick where a box is on but has no picture for it."""
    normal = _normal(widget)
    states = set(normal.keys()) if isinstance(normal, Dictionary) else set()
    if not isinstance(widget.get("/AS"), Name):
        value = _inherited(widget, "/V")
        on = isinstance(value, Name) and value != Name.Off
        # A check box without pictures is on when its field is; a radio button only shows the
        # field's value if that is the name of its own "on" picture.
        lone = not states and not _flags(widget) & RADIO
        widget.AS = value if on and (str(value) in states or lone) else Name.Off
    state = widget.AS
    if state == Name.Off or str(state) in states:
        return
    width, height, _ = _box(widget)
    tick = pdf.make_stream(_tick(width, height))
    tick.Type, tick.Subtype = Name.XObject, Name.Form
    tick.BBox = Array([0, 0, width, height])
    off = pdf.make_stream(b"")
    off.Type, off.Subtype, off.BBox = Name.XObject, Name.Form, Array([0, 0, width, height])
    widget.AP = Dictionary(N=Dictionary({str(state): tick, "/Off": off}))


def _tick(width: float, height: float) -> bytes:
    """A tick drawn with lines, which needs no font."""
    points = [(0.2, 0.5), (0.42, 0.22), (0.82, 0.8)]
    path = [f"{x * width:.2f} {y * height:.2f}" for x, y in points]
    line = max(1.0, min(width, height) / 8)
    return f"q 0 G {line:.2f} w 1 J 1 j {path[0]} m {path[1]} l {path[2]} l S Q".encode()


# --- Other annotations: kept, without anything that runs. ---


def _defuse(annotation: Dictionary) -> tuple[bool, bool]:
    """Remove what would run or open something from `annotation`: whether it stays at all, and
    whether it was changed."""
    if _name(annotation.get("/Subtype")) in EMBEDDING:
        return False, True
    touched = _drop(annotation, "/AA")
    action = annotation.get("/A")
    if isinstance(action, Dictionary) and not _safe(action):
        touched |= _drop(annotation, "/A")
    # A link that no longer goes anywhere is only an invisible rectangle.
    keep = not _is(annotation, "/Link") or "/A" in annotation or "/Dest" in annotation
    return keep, touched


def _safe(action: Dictionary) -> bool:
    """A web, mail or in-document link, with no further action chained to it."""
    kind = _name(action.get("/S"))
    if kind not in SAFE_ACTIONS or "/Next" in action:
        return False
    if kind == "/URI":
        target = str(action.get("/URI", "")).strip().lower()
        return target.startswith(SAFE_SCHEMES)
    return True
