"""The consent document as a PDF: its stored text, and for a signed document the signature,
when and how it was given, and the hash of the text signed."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, ListFlowable, ListItem, Paragraph, Spacer

from mesoclinic import pdf
from mesoclinic.consent.content import day_text, texts
from mesoclinic.consent.models import ConsentDocument, SignatureMethod
from mesoclinic.reminders.messages import time_text

SIGNATURE_WIDTH = 80 * mm
SIGNATURE_HEIGHT = 30 * mm


def _blocks(blocks: list[dict[str, Any]], sheet: dict[str, Any]) -> list[Flowable]:
    story: list[Flowable] = []
    for block in blocks:
        kind = block["kind"]
        if kind == "paragraph":
            story.append(pdf.paragraph(block["text"], sheet["body"]))
        elif kind == "quote":
            story.append(pdf.paragraph(block["text"], sheet["quote"]))
        elif kind == "list" and block["items"]:
            items = []
            for item in block["items"]:
                text = pdf.markup(item["text"])
                if item["lead"]:
                    text = f"<b>{pdf.markup(item['lead'])}</b>: {text}"
                items.append(ListItem(Paragraph(text, sheet["item"])))
            story.append(
                ListFlowable(
                    items,
                    bulletType="bullet",
                    start="\u2022",
                    bulletFontName=pdf.FONT,
                    bulletFontSize=8,
                    bulletOffsetY=-1,
                    leftIndent=11,
                    spaceAfter=4,
                )
            )
    return story


def signature_statement(document: ConsentDocument) -> str:
    """How the document was signed, in its language, with the time in the clinic's zone."""
    words = texts(document.language)["signature"]
    if document.signed_at is None:
        return str(words["unsigned"])
    clinic = document.clinic
    local = timezone.localtime(document.signed_at, clinic.tz)
    offset = local.strftime("%z")
    values = {
        "patient": document.content["patient"]["name"],
        "clinic": clinic.name,
        "day": day_text(local.date(), document.language),
        "time": time_text(local, document.language if document.language == "fr" else "en"),
        "zone": f"{clinic.time_zone}, UTC{offset[:3]}:{offset[3:]}",
        "witness": str(document.witness) if document.witness else "",
        "typed_name": document.typed_name,
        "email": document.code_sent_to,
    }
    template = words["drawn"] if document.method == SignatureMethod.DRAWN else words["typed"]
    return str(template).format_map(values)


def render_pdf(document: ConsentDocument) -> bytes:
    """The PDF of ``document``: signed, as it is stored at signing; unsigned, a reading copy
    marked as a draft on every page."""
    content = document.content
    words = texts(document.language)
    sheet = pdf.styles()
    story: list[Flowable] = [pdf.paragraph(content["title"], sheet["title"])]
    for note in content["notes"]:
        story.append(pdf.paragraph(note, sheet["note"]))
    story.append(pdf.key_value_table([(fact["label"], fact["value"]) for fact in content["facts"]]))
    story.append(Spacer(1, 4 * mm))
    for section in content["sections"]:
        story.append(pdf.paragraph(section["heading"], sheet["heading"]))
        story.extend(_blocks(section["blocks"], sheet))

    signature_words = words["signature"]
    block: list[Flowable] = [
        pdf.paragraph(signature_words["heading"], sheet["heading"]),
        pdf.paragraph(signature_statement(document), sheet["body"]),
    ]
    if document.method == SignatureMethod.DRAWN and document.signature_png:
        block.append(
            pdf.png_image(
                document.signature_bytes() or b"",
                max_width=SIGNATURE_WIDTH,
                max_height=SIGNATURE_HEIGHT,
            )
        )
    block.append(
        pdf.paragraph(
            signature_words["content_hash"].format(sha256=document.content_sha256),
            sheet["small"],
        )
    )
    story.append(KeepTogether(block))

    patient = content["patient"]
    marks = pdf.PageMarks(
        clinic=document.clinic.name,
        title=content["title"],
        patient=words["footer_patient"].format(patient=patient["name"], born=patient["born"]),
        reference=words["reference"].format(
            version=document.version, sha256=document.content_sha256
        ),
        page_label=words["page_label"],
        watermark="" if document.signed_at else words["draft_mark"],
    )
    return pdf.build(
        story,
        paper=document.clinic.paper_size,
        marks=marks,
        language=document.language,
        subject=f"{content['title']}: {patient['name']}",
    )
