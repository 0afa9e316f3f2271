"""A page drawn as PNG by the isolated reader (`DocumentWorker.preview`), for the console."""

from __future__ import annotations

import io

from PIL import Image

from pipeline import samples
from pipeline.documents.results import Preview, ReadLimits
from pipeline.documents.worker import DocumentWorker
from tests.web.test_previews import two_page_pdf


def test_the_reader_draws_a_page_and_says_why_it_cannot() -> None:
    with DocumentWorker(ReadLimits(seconds=20)) as reader:
        drawn = reader.preview("pdf", two_page_pdf(), 2)
        assert isinstance(drawn, Preview) and drawn.pages == 2
        assert Image.open(io.BytesIO(drawn.png)).size == (800, 565)
        assert reader.pid is not None
        assert reader.preview("pdf", two_page_pdf(), 3) == "the document has no page 3"
        damaged = reader.preview("pdf", b"%PDF-1.4\nnot a pdf", 1)
        assert damaged == "the PDF is damaged or protected and cannot be shown"
        # A large picture comes back no wider than 800 pixels, in proportion.
        big = reader.preview("image", samples.genogram_png(2400, 1600), 1)
        assert isinstance(big, Preview) and big.pages == 1
        assert Image.open(io.BytesIO(big.png)).size == (800, 533)
        assert reader.preview("image", b"\x89PNG\r\n\x1a\nbroken", 1) == (
            "the picture is damaged or of a kind we cannot read"
        )
