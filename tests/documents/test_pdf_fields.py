"""AcroForm fields read with pdfium: flat widgets from their own dictionaries, nested ones (radio
groups, names on a parent field) through the form API, and what `read_document` makes of them."""

from __future__ import annotations

from datetime import date

from pipeline.documents.kinds import Kind
from pipeline.documents.pdf import read_pdf
from pipeline.documents.read import read_document
from pipeline.documents.results import ReadLimits
from tests.helpers import corpus_maker

maker = corpus_maker()

LABELS = [
    "Northvale Council referral to MASP",
    "Child's name",
    "Date of birth",
    "Referrer's name",
    "Referrer's email",
    "Consent to panel discussion",
]


def nested_form(consent: str | None) -> bytes:
    """A form whose child fields hang under a parent 'child' field and whose consent is a radio
    group of two widgets; `consent` is the chosen export value, or None for neither."""
    content = b"".join(
        maker.pdf_text(56, 780 - 24 * n, 16 if n == 0 else 11, line)
        for n, line in enumerate(LABELS)
    )
    chosen = b"/%s" % consent.encode() if consent else b"/Off"
    on_states = [b"Yes", b"No"]
    objects = [
        # 1 catalog, 2 pages, 3 page, 4 contents, 5 font, 6 and 7 appearances
        b"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [8 0 R 11 0 R 14 0 R 15 0 R] >> >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R "
        b"/Annots [9 0 R 10 0 R 12 0 R 13 0 R 14 0 R 15 0 R] >>",
        maker.stream(content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        maker.stream(b"0 g 0 0 12 12 re f", b"/Type /XObject /Subtype /Form /BBox [0 0 12 12] "),
        maker.stream(b"", b"/Type /XObject /Subtype /Form /BBox [0 0 12 12] "),
        # 8: the parent 'child' field; 9 and 10 its two text widgets (names only on a level up)
        b"<< /T (child) /Kids [16 0 R 17 0 R] >>",
        b"<< /Type /Annot /Subtype /Widget /Parent 16 0 R /Rect [220 752 520 768] /P 3 0 R >>",
        b"<< /Type /Annot /Subtype /Widget /Parent 17 0 R /Rect [220 728 520 744] /P 3 0 R >>",
        # 11: the consent radio group; 12 and 13 its widgets
        b"<< /FT /Btn /Ff %d /T (consent) /TU (Consent to panel discussion) /V %s "
        b"/Kids [12 0 R 13 0 R] >>" % (1 << 15 | 1 << 14, chosen),
    ]
    for number, state in enumerate(on_states):
        current = state if consent == state.decode() else b"Off"
        objects.append(
            b"<< /Type /Annot /Subtype /Widget /Parent 11 0 R /AS /%s "
            b"/Rect [%d 650 %d 662] /P 3 0 R /AP << /N << /%s 6 0 R /Off 7 0 R >> >> >>"
            % (current, 400 + 30 * number, 412 + 30 * number, state)
        )
    objects += [
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (RefName) /TU (Referrer's name) "
        b"/V (Dee Madeup) /Rect [220 704 520 720] /P 3 0 R >>",
        b"<< /Type /Annot /Subtype /Widget /FT /Tx /T (RefEmail) /TU (Referrer's email) "
        b"/V (dee.madeup@northvale.example) /Rect [220 680 520 696] /P 3 0 R >>",
        b"<< /FT /Tx /Parent 8 0 R /T (name) /TU (Child's name) /V (Eli Invented) /Kids [9 0 R] >>",
        b"<< /FT /Tx /Parent 8 0 R /T (dob) /TU (Date of birth) /V (02/03/2015) /Kids [10 0 R] >>",
    ]
    data: bytes = maker.pdf(objects)
    return data


def test_flat_form_fields_come_from_each_widget() -> None:
    content = read_pdf(maker.acroform_pdf())
    assert content is not None
    fields = dict(content.fields)
    assert fields["Child's name"] == "Cal Fictional" == fields["ChildName"]
    assert fields["Section 20 emergency admission"] is True
    assert fields["Advice"] is False
    assert fields["Genogram required no"] is True


def test_nested_fields_are_read_through_the_form_api() -> None:
    content = read_pdf(nested_form("No"))
    assert content is not None
    fields = dict(content.fields)
    assert fields["Child's name"] == "Eli Invented"
    # The widget's own name is the last part of its full name, which says where it stands.
    assert fields["child.dob"] == "02/03/2015"
    assert fields["Referrer's email"] == "dee.madeup@northvale.example"
    # Only the chosen radio button speaks for the group.
    assert fields["Consent to panel discussion"] == "No"
    assert ("Consent to panel discussion", "Yes") not in content.fields


def test_an_unanswered_radio_group_gives_no_value() -> None:
    content = read_pdf(nested_form(None))
    assert content is not None
    assert "Consent to panel discussion" not in dict(content.fields)


def test_a_nested_form_reads_as_a_referral_form() -> None:
    result = read_document("northvale.pdf", nested_form("Yes"), ReadLimits(), date(2026, 3, 1))
    assert result.classification.kind == Kind.REFERRAL_FORM
    assert result.fields["child_name"]["value"] == "Eli Invented"
    assert result.fields["child_name"]["source"] == "acroform"
    assert result.fields["child_dob"]["value"] == "2015-03-02"
    assert result.fields["consent"]["value"] is True


def test_the_choices_printed_beside_unticked_boxes_are_not_answers() -> None:
    # The page lists the requests the form offers; none of its boxes is ticked.
    data = maker.fillable_pdf(
        ["Eastmoor Council", "MASP Referral Form", "Type of request: Section 20 / Advice"],
        [
            maker.PdfField("ChildName", "Ari Invented", "Child's name"),
            maker.PdfField("ReqS20", False, "Section 20 emergency admission"),
            maker.PdfField("ReqAdvice", False, "Advice"),
        ],
    )
    result = read_document("eastmoor.pdf", data, ReadLimits(), date(2026, 3, 1))
    assert result.facts is not None
    assert (result.facts.request_types, result.facts.section20) == ((), False)
