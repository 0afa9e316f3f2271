"""R12 and R16: a referral that arrives as a PDF form reads in the pack as it was filled in.

Three forms go through intake, the tick that converts them and the pack job, and the pack that
reached the SMTP side is read back: its text (pdfplumber), what it looks like (pypdfium2 renders
it) and what is left of the forms' interactive parts (pikepdf). The forms are another council's
with NeedAppearances set (golden corpus), one whose fields have no appearance and no default
appearance at all (a radio group among them), and one with what real forms also hold: a long
multi-line answer, a name outside Western European letters, a drop-down, ticked boxes without an
appearance state or without any appearance, a comment, a web link and a script.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pdfplumber
import pikepdf
import pypdf
import pypdfium2
import pytest
from PIL import Image
from sqlalchemy import select

from pipeline import samples
from pipeline.documents.topdf import to_pdf
from pipeline.intake.poll import deliver_configured, poll
from pipeline.jobs import run_due
from pipeline.outputs.convert import conversion_jobs
from pipeline.panel.distribute import pack_jobs
from pipeline.states import CaseState
from pipeline.store.models import Case
from tests.documents.test_pdf_fields import nested_form
from tests.helpers import (
    Sent,
    corpus_maker,
    drop,
    open_service,
    outline,
    pack_pdfs,
    sent_mail,
)

maker = corpus_maker()

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
# After the slot notices for Tuesday 8 December's meeting: the pack job is due.
AFTER_NOTICE = datetime(2026, 12, 3, 10, 15, tzinfo=UTC)
QUESTION = (
    "Can the panel agree a multi-agency package for the family? The school has tried a "
    "reduced timetable and a mentor since September, and attendance is still below half.\n"
    "Mum asks for help with housing before the winter."
)
UNICODE_NAME = "Łukasz Wójcik-Ştefan"
# Where the Eastmoor form's fields sit on its page (PDF points, origin bottom left).
QUESTION_BOX = (56.0, 500.0, 300.0, 680.0)
TICKED_BOX = (400.0, 480.0, 412.0, 492.0)
UNTICKED_BOX = (420.0, 480.0, 432.0, 492.0)
DRAWN_BOX = (400.0, 450.0, 412.0, 462.0)
MISSING = "Missing or refused"
ADMIN = "admin@example.org"


def hex_string(text: str) -> bytes:
    """A PDF text string in UTF-16 with its byte order mark, as form fillers write names."""
    return b"<FEFF" + text.encode("utf-16-be").hex().upper().encode() + b">"


def escaped(text: str) -> bytes:
    raw = text.encode("cp1252").replace(b"\\", b"\\\\").replace(b"(", b"\\(")
    return raw.replace(b")", b"\\)").replace(b"\n", b"\\n")


def eastmoor_form() -> bytes:
    """A fillable PDF as a form filler leaves it: NeedAppearances set, values without pictures."""
    labels = [
        "Eastmoor Council",
        "Request for multi-agency support",
        "Child's name",
        "Referrer's agency",
    ]
    content = b"".join(
        maker.pdf_text(56, 780 - 24 * n, 16 if n < 2 else 11, line) for n, line in enumerate(labels)
    )
    content += maker.pdf_text(56, 688, 11, "Question for the panel")
    content += maker.pdf_text(320, 496, 11, "Consent given")
    content += maker.pdf_text(320, 466, 11, "Urgent")
    fields = list(range(8, 16))
    off = b"/Type /XObject /Subtype /Form /BBox [0 0 12 12]"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [%s] /NeedAppearances true "
        b"/DA (/Helv 0 Tf 0 g) /DR << /Font << /Helv 5 0 R >> >> >> >>"
        % b" ".join(b"%d 0 R" % i for i in fields[:6]),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R /Annots [%s] >>"
        % b" ".join(b"%d 0 R" % i for i in fields),
        maker.stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        maker.stream(b"0 g 1 1 10 10 re f", off),
        maker.stream(b"", off),
        # 8: the question, multi-line, its font size left to the reader (0).
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /Ff 4096 /T (Question) /V (%s) "
        % escaped(QUESTION)
        + b"/Rect [%d %d %d %d] /P 3 0 R /F 4 >>" % tuple(map(int, QUESTION_BOX)),
        # 9: the child's name, in letters Helvetica does not have.
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (Child) /V %s /Rect [220 728 520 744] "
        b"/P 3 0 R /F 4 /DA (/Helv 10 Tf 0 0 0.5 rg) >>" % hex_string(UNICODE_NAME),
        # 10: the agency from a drop-down: the value is the export value, the reader sees the name.
        b"<< /Type /Annot /Subtype /Widget /FT /Ch /Ff 131072 /T (Agency) /V (EMA) "
        b"/Opt [[(EMA) (Eastmoor Academy Trust)] [(POL) (Police)]] /Rect [220 704 520 720] "
        b"/P 3 0 R /F 4 >>",
        # 11 and 12: consent yes (ticked, its state only in /V) and no.
        b"<< /Type /Annot /Subtype /Widget /FT /Btn /T (ConsentYes) /V /Yes "
        b"/Rect [%d %d %d %d] /P 3 0 R /F 4 /AP << /N << /Yes 6 0 R /Off 7 0 R >> >> >>"
        % tuple(map(int, TICKED_BOX)),
        b"<< /Type /Annot /Subtype /Widget /FT /Btn /T (ConsentNo) /V /Off /AS /Off "
        b"/Rect [%d %d %d %d] /P 3 0 R /F 4 /AP << /N << /Yes 6 0 R /Off 7 0 R >> >> >>"
        % tuple(map(int, UNTICKED_BOX)),
        # 13: ticked by a program that drew nothing at all.
        b"<< /Type /Annot /Subtype /Widget /FT /Btn /T (Urgent) /V /Yes /AS /Yes "
        b"/Rect [%d %d %d %d] /P 3 0 R /F 4 /MK << /CA (4) >> >>" % tuple(map(int, DRAWN_BOX)),
        # 14 and 15: a reviewer's comment and a web link, which a reader keeps.
        b"<< /Type /Annot /Subtype /Text /Rect [530 780 550 800] /Contents (Checked by the "
        b"team manager) /Open false >>",
        b"<< /Type /Annot /Subtype /Link /Rect [56 770 250 790] /Border [0 0 0] "
        b"/A << /S /URI /URI (https://eastmoor.example/masp) >> >>",
    ]
    # 16: a script, as hostile files carry, on a link over the title.
    objects.append(
        b"<< /Type /Annot /Subtype /Link /Rect [56 740 250 760] /Border [0 0 0] "
        b"/A << /S /JavaScript /JS (app.alert\\('hello'\\)) >> >>"
    )
    objects[2] = objects[2].replace(b"/Annots [", b"/Annots [16 0 R ")
    objects[2] = objects[2].replace(
        b"/Contents 4 0 R",
        b"/Contents 4 0 R /AA << /O << /S /JavaScript /JS (app.alert\\(1\\)) >> >>",
    )
    data: bytes = maker.pdf(objects)
    return data


FORMS = {
    "westshire@council.example.org": ("westshire-form.pdf", maker.acroform_pdf()),
    "northvale@council.example.org": ("Northvale referral.pdf", nested_form("Yes")),
    "eastmoor@council.example.org": ("Eastmoor request.pdf", eastmoor_form()),
}


@dataclass
class Pack:
    data: bytes
    # Each referrer's form: the 0-based page of the pack it starts on.
    pages: dict[str, int]
    caught: list[warnings.WarningMessage]


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pack]:
    folder: Path = tmp_path_factory.mktemp("forms")
    app = open_service(folder, NOW)
    for sender, (name, data) in FORMS.items():
        files = [samples.File(name, samples.PDF, data)]
        drop(app, samples.Mail(sender, "Referral", files=files), NOW)
    poll(app)
    with app.store.session() as session:
        cases = list(session.scalars(select(Case).order_by(Case.id)))
        assert len(cases) == len(FORMS)
        for case in cases:
            case.state = CaseState.APPROVED
        referrers = {c.reference: c.referrer_email for c in cases}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert not run_due(app, [conversion_jobs]).failed
        app.close()
        app = open_service(folder, AFTER_NOTICE)
        assert run_due(app, [pack_jobs]).done
        deliver_configured(app)
    [sent] = [s for s in sent_mail(app) if "meeting pack" in s.subject and s.to == ADMIN]
    app.close()
    yield Pack(the_pack(sent), starts(sent, referrers), caught)


def the_pack(sent: Sent) -> bytes:
    (data,) = pack_pdfs(sent)
    return data


def starts(sent: Sent, referrers: dict[str, str]) -> dict[str, int]:
    reader = pypdf.PdfReader(io.BytesIO(the_pack(sent)))
    found = {}
    for title, _, children in outline(reader):
        reference = title.split(" ")[0]
        if reference in referrers:
            # The form's own pages, not a page saying what the case still lacks.
            [page] = [page for label, page in children if label != MISSING]
            found[referrers[reference]] = page
    return found


def page_text(pack: Pack, referrer: str) -> str:
    with pdfplumber.open(io.BytesIO(pack.data)) as pdf:
        return str(pdf.pages[pack.pages[referrer]].extract_text())


def rendered(pack: Pack, referrer: str) -> Image.Image:
    """The form's page as a panel member sees it, one pixel a point."""
    document = pypdfium2.PdfDocument(pack.data)
    try:
        return document[pack.pages[referrer]].render(scale=1).to_pil().convert("L")
    finally:
        document.close()


def printed(data: bytes) -> Image.Image:
    """A form's first page as printed, without its fields or other annotations."""
    document = pypdfium2.PdfDocument(data)
    try:
        return document[0].render(scale=1, draw_annots=False).to_pil().convert("L")
    finally:
        document.close()


def dark_pixels(picture: Image.Image, box: tuple[float, float, float, float]) -> int:
    x0, y0, x1, y1 = box
    top = picture.height
    inside = picture.crop((int(x0) + 2, int(top - y1) + 2, int(x1) - 2, int(top - y0) - 2))
    # The histogram of a greyscale picture counts its pixels by value.
    return sum(inside.histogram()[:128])


def ink(picture: Image.Image, box: tuple[float, float, float, float]) -> bool:
    """Whether anything is drawn inside `box` (PDF points; its border pixels left out)."""
    return dark_pixels(picture, box) > 0


def test_no_page_is_copied_with_fields_that_may_not_show(pack: Pack) -> None:
    copying = [w for w in pack.caught if issubclass(w.category, pikepdf.PageCopyWarning)]
    assert copying == []
    with pikepdf.open(io.BytesIO(pack.data)) as pdf:
        assert "/AcroForm" not in pdf.Root
        widgets = [
            a for page in pdf.pages for a in page.obj.get("/Annots", []) if a.Subtype == "/Widget"
        ]
        assert widgets == []


def test_field_values_are_on_the_page_of_another_councils_form(pack: Pack) -> None:
    text = page_text(pack, "westshire@council.example.org")
    assert "Referrer's name" in text
    for value in ("Cal Fictional", "31/01/2017", "Dee Madeup", "dee.madeup@westshire.example"):
        assert value in text


def test_ticked_boxes_show_ticked_and_the_others_empty(pack: Pack) -> None:
    picture = rendered(pack, "westshire@council.example.org")
    # The corpus form's six boxes, one a line after its five text fields (make_corpus's
    # fillable_pdf): Section 20, Advice, consent yes, no, genogram yes, no; ticked as the
    # referrer left them.
    # Its printed labels run under some boxes, so a tick is what the pack's page has there
    # beyond the page as printed.
    under = printed(FORMS["westshire@council.example.org"][1])
    ticked = [True, False, True, False, False, True]
    for n, expected in enumerate(ticked):
        x, y = 300, 760 - 24 * (5 + n)
        box = (x, y, x + 12, y + 12)
        assert (dark_pixels(picture, box) > dark_pixels(under, box)) is expected, n


def test_fields_without_any_default_appearance_are_written_and_the_radio_choice_shows(
    pack: Pack,
) -> None:
    text = page_text(pack, "northvale@council.example.org")
    for value in ("Eli Invented", "02/03/2015", "Dee Madeup", "dee.madeup@northvale.example"):
        assert value in text
    picture = rendered(pack, "northvale@council.example.org")
    assert ink(picture, (400, 650, 412, 662)) and not ink(picture, (430, 650, 442, 662))


def test_a_long_answer_wraps_inside_its_box_and_every_word_is_there(pack: Pack) -> None:
    referrer = "eastmoor@council.example.org"
    with pdfplumber.open(io.BytesIO(pack.data)) as pdf:
        page = pdf.pages[pack.pages[referrer]]
        x0, y0, x1, y1 = QUESTION_BOX
        height = float(page.height)
        inside = page.crop((x0, height - y1, x1, height - y0), strict=False)
        written = " ".join(str(inside.extract_text()).split())
        # Every character of the answer is drawn inside the box (none runs off its edge).
        outside = [
            c
            for c in page.chars
            if x0 <= c["x0"] < x1 < c["x1"] - 1 and height - y1 < c["top"] < height - y0
        ]
    assert written == " ".join(QUESTION.split())
    assert outside == []


def test_names_in_any_latin_script_and_choices_read_as_the_referrer_sees_them(
    pack: Pack,
) -> None:
    text = page_text(pack, "eastmoor@council.example.org")
    assert UNICODE_NAME in text
    assert "Eastmoor Academy Trust" in text and "EMA" not in text.split()


def test_boxes_ticked_without_a_state_or_a_picture_still_show_ticked(pack: Pack) -> None:
    picture = rendered(pack, "eastmoor@council.example.org")
    assert ink(picture, TICKED_BOX)
    assert not ink(picture, UNTICKED_BOX)
    assert ink(picture, DRAWN_BOX)


def test_comments_and_web_links_stay_and_scripts_go(pack: Pack) -> None:
    with pikepdf.open(io.BytesIO(pack.data)) as pdf:
        page = pdf.pages[pack.pages["eastmoor@council.example.org"]]
        kinds = sorted(str(a.Subtype) for a in page.obj.get("/Annots", []))
        assert kinds == ["/Link", "/Text"]
        note, link = sorted(page.obj.Annots, key=lambda a: str(a.Subtype), reverse=True)
        assert str(note.Contents) == "Checked by the team manager"
        assert str(link.A.URI) == "https://eastmoor.example/masp"
        assert "/AA" not in page.obj
        scripts = [o for o in pdf.objects if isinstance(o, pikepdf.Dictionary) and "/JS" in o]
        assert scripts == []


def radio_without_pictures() -> bytes:
    """A radio group set to "B" whose two buttons have no pictures: the first says it is "B"
    (/AS), the second says nothing, so nothing shows which option it is."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [5 0 R] /NeedAppearances true >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Annots [6 0 R 7 0 R] >>",
        maker.stream(b""),
        b"<< /FT /Btn /Ff %d /T (choice) /V /B /Kids [6 0 R 7 0 R] >>" % (1 << 15 | 1 << 14),
        b"<< /Type /Annot /Subtype /Widget /Parent 5 0 R /AS /B /Rect [100 700 120 720] >>",
        b"<< /Type /Annot /Subtype /Widget /Parent 5 0 R /Rect [200 700 220 720] >>",
    ]
    data: bytes = maker.pdf(objects)
    return data


def test_a_radio_button_without_pictures_shows_ticked_only_where_it_says_so() -> None:
    made, pages = to_pdf("pdf", radio_without_pictures(), max_pages=10)
    assert made is not None and pages == 1
    document = pypdfium2.PdfDocument(made)
    picture = document[0].render(scale=1).to_pil().convert("L")
    document.close()
    assert ink(picture, (100, 700, 120, 720))
    assert not ink(picture, (200, 700, 220, 720))
