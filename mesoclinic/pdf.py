"""Building blocks for the PDFs a clinic prints and a patient keeps (consent forms, treatment
summaries), with reportlab's platypus.

- Fonts: reportlab's own Bitstream Vera TrueType fonts, embedded, so that accented and other
  non-ASCII names print the same on every machine (the standard PDF fonts know only Latin-1
  through an encoding reportlab guesses, and are not embedded).
- Paper: the clinic's A4 or US Letter. Whatever the page, the text sits in one box that fits
  both (170 x 247 mm, centred), so a document made on A4 and printed on Letter at actual size,
  or the other way round, loses nothing at the edges.
- Every page: the clinic's name and the document's title at the top; the patient, "page x of
  y" and a reference (the document's hash) at the bottom; a diagonal mark for a draft.
- Output is invariant: the same story gives the same bytes, so a PDF's hash can be checked
  by building it again.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from PIL import Image as PILImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    PageTemplate,
    Paragraph,
    Table,
    TableStyle,
)

FONT = "Vera"
FONT_BOLD = "Vera-Bold"
FONT_ITALIC = "Vera-Italic"
FONT_BOLD_ITALIC = "Vera-BoldItalic"
_FONT_FILES = {
    FONT: "Vera.ttf",
    FONT_BOLD: "VeraBd.ttf",
    FONT_ITALIC: "VeraIt.ttf",
    FONT_BOLD_ITALIC: "VeraBI.ttf",
}

PAPER = {"a4": A4, "letter": LETTER}
# The box the text is set in, on either paper: A4 is 210 x 297 mm, Letter 215.9 x 279.4 mm.
# 170 mm leaves at least 20 mm at each side of both, 247 mm at least 16 mm above and below
# Letter, far outside what any printer cannot reach.
BOX_WIDTH = 170 * mm
BOX_HEIGHT = 247 * mm
HEADER_HEIGHT = 13 * mm
FOOTER_HEIGHT = 13 * mm

INK = colors.HexColor("#1c2430")
MUTED = colors.HexColor("#556170")
RULE = colors.HexColor("#b8c1cc")
ACCENT = colors.HexColor("#0b5f6f")


@cache
def register_fonts() -> None:
    """Register the Vera family with reportlab, once per process."""
    folder = Path(reportlab.__file__).resolve().parent / "fonts"
    for name, filename in _FONT_FILES.items():
        pdfmetrics.registerFont(TTFont(name, str(folder / filename)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC, boldItalic=FONT_BOLD_ITALIC
    )


def page_size(paper: str) -> tuple[float, float]:
    """The page of a clinic's ``paper_size`` ("a4" or "letter"), in points."""
    try:
        return PAPER[paper]
    except KeyError:
        raise ValueError(f"Unknown paper size {paper!r}: use one of {sorted(PAPER)}.") from None


def text_box(pagesize: tuple[float, float]) -> tuple[float, float, float, float]:
    """(x, y, width, height) of the box the document is set in, centred on the page."""
    width, height = pagesize
    return (width - BOX_WIDTH) / 2, (height - BOX_HEIGHT) / 2, BOX_WIDTH, BOX_HEIGHT


def styles() -> dict[str, ParagraphStyle]:
    """Paragraph styles in the Vera fonts: readable at arm's length when printed."""
    register_fonts()
    body = ParagraphStyle(
        "body", fontName=FONT, fontSize=9.5, leading=13.5, textColor=INK, spaceAfter=5
    )
    return {
        "title": ParagraphStyle(
            "title", parent=body, fontName=FONT_BOLD, fontSize=17, leading=21, spaceAfter=8
        ),
        "heading": ParagraphStyle(
            "heading",
            parent=body,
            fontName=FONT_BOLD,
            fontSize=11.5,
            leading=15,
            textColor=ACCENT,
            spaceBefore=8,
            spaceAfter=4,
            keepWithNext=True,
        ),
        "body": body,
        "item": ParagraphStyle("item", parent=body, leftIndent=12, bulletIndent=2, spaceAfter=2.5),
        "quote": ParagraphStyle(
            "quote",
            parent=body,
            fontName=FONT_ITALIC,
            leftIndent=12,
            textColor=MUTED,
        ),
        "note": ParagraphStyle(
            "note",
            parent=body,
            fontSize=8.5,
            leading=12,
            textColor=MUTED,
            borderColor=RULE,
            borderWidth=0.6,
            borderPadding=5,
            # Inset by the padding, so that the border lines up with the text box's edges.
            leftIndent=5,
            rightIndent=5,
            spaceBefore=4,
            spaceAfter=10,
        ),
        "label": ParagraphStyle("label", parent=body, fontName=FONT_BOLD, spaceAfter=0),
        "cell": ParagraphStyle("cell", parent=body, spaceAfter=0),
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=10, textColor=MUTED),
    }


def markup(value: str) -> str:
    """Plain text made safe for a ``Paragraph``, which reads a little XML."""
    return escape(value)


def paragraph(value: str, style: ParagraphStyle, **kwargs: Any) -> Paragraph:
    return Paragraph(markup(value), style, **kwargs)


def key_value_table(rows: Sequence[tuple[str, str]], *, label_width: float = 48 * mm) -> Table:
    """Label and value pairs, the label in bold, ruled between rows, across the text box."""
    sheet = styles()
    data = [
        [paragraph(label, sheet["label"]), paragraph(value, sheet["cell"])] for label, value in rows
    ]
    table = Table(data, colWidths=[label_width, BOX_WIDTH - label_width], hAlign="LEFT")
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -2), 0.4, RULE),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 6),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return table


def png_image(png: bytes, *, max_width: float, max_height: float) -> Image:
    """A PNG (a drawn signature, say) as a flowable within the size given, its transparent
    parts made white: printed, transparency would be whatever the viewer chose."""
    with PILImage.open(io.BytesIO(png)) as source:
        rgba = source.convert("RGBA")
    flat = PILImage.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    buffer = io.BytesIO()
    flat.save(buffer, format="PNG")
    buffer.seek(0)
    scale = min(max_width / flat.width, max_height / flat.height)
    return Image(buffer, width=flat.width * scale, height=flat.height * scale, hAlign="LEFT")


@dataclass(frozen=True)
class PageMarks:
    """What every page carries besides its story."""

    clinic: str
    title: str
    patient: str
    reference: str
    page_label: str = "Page {page} of {pages}"
    watermark: str = ""


class _MarkedCanvas(Canvas):
    """Draws the header and footer once every page is laid out, when the number of pages is
    known ("page 2 of 5"): each page's drawing is kept until ``save``."""

    def __init__(self, *args: Any, marks: PageMarks, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._marks = marks
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._draw_marks(total)
            super().showPage()
        super().save()

    def _draw_marks(self, total: int) -> None:
        marks = self._marks
        x, y, width, height = text_box(self._pagesize)
        top, right = y + height, x + width
        self.saveState()
        if marks.watermark:
            self.setFillColor(colors.Color(0.72, 0.14, 0.1, alpha=0.13))
            self.setFont(FONT_BOLD, 46)
            self.translate(self._pagesize[0] / 2, self._pagesize[1] / 2)
            self.rotate(38)
            self.drawCentredString(0, 0, marks.watermark)
            self.rotate(-38)
            self.translate(-self._pagesize[0] / 2, -self._pagesize[1] / 2)
        self.setFillColor(INK)
        self.setFont(FONT_BOLD, 9)
        self.drawString(x, top - 4 * mm, marks.clinic)
        self.setFont(FONT, 9)
        self.setFillColor(MUTED)
        self.drawRightString(right, top - 4 * mm, marks.title)
        self.setStrokeColor(RULE)
        self.setLineWidth(0.6)
        self.line(x, top - 6.5 * mm, right, top - 6.5 * mm)
        self.line(x, y + 9 * mm, right, y + 9 * mm)
        self.setFillColor(INK)
        self.setFont(FONT, 8.5)
        self.drawString(x, y + 5 * mm, marks.patient)
        self.drawRightString(
            right,
            y + 5 * mm,
            marks.page_label.format(page=self._pageNumber, pages=total),
        )
        self.setFillColor(MUTED)
        self.setFont(FONT, 6.5)
        self.drawString(x, y + 1.5 * mm, marks.reference)
        self.restoreState()


def build(
    story: list[Flowable],
    *,
    paper: str,
    marks: PageMarks,
    language: str = "en",
    author: str = "",
    subject: str = "",
) -> bytes:
    """The PDF of ``story`` on the clinic's paper, each page marked with ``marks``."""
    register_fonts()
    pagesize = page_size(paper)
    x, y, width, height = text_box(pagesize)
    frame = Frame(
        x,
        y + FOOTER_HEIGHT,
        width,
        height - HEADER_HEIGHT - FOOTER_HEIGHT,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="text",
    )
    buffer = io.BytesIO()
    document = BaseDocTemplate(
        buffer,
        pagesize=pagesize,
        pageTemplates=[PageTemplate(id="page", frames=[frame])],
        title=marks.title,
        author=author or marks.clinic,
        subject=subject,
        creator="mesoclinic",
        lang=language,
        invariant=True,
    )
    canvasmaker: Callable[..., Canvas] = partial(_MarkedCanvas, marks=marks)
    document.build(story, canvasmaker=canvasmaker)
    return buffer.getvalue()
