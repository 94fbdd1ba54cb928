"""The signed PDF, read back as a reader would: its text (pypdfium2), its pages' size, where
the text sits on them, and page 1 as a PNG in artifacts/ for people to look at."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from reportlab.lib.units import mm

from mesoclinic import pdf
from mesoclinic.catalogue.models import SideEffect
from mesoclinic.clinics.models import User
from mesoclinic.consent import printing, services
from mesoclinic.consent.models import ConsentDocument
from mesoclinic.consent.testing import drawn_png, last_code_sent
from mesoclinic.courses.models import CoursePlan

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"


@contextmanager
def opened(data: bytes) -> Iterator[pdfium.PdfDocument]:
    document = pdfium.PdfDocument(data)
    try:
        yield document
    finally:
        document.close()


def text_of(data: bytes) -> str:
    """The PDF's text with its line breaks and spacing made single spaces."""
    with opened(data) as document:
        pages = [page.get_textpage().get_text_bounded() for page in document]
    return " ".join(" ".join(pages).split())


def save_page(data: bytes, index: int, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    with opened(data) as document:
        page = document[index if index >= 0 else len(document) + index]
        page.render(scale=2).to_pil().save(path)
    return path


def signed_on_tablet(plan: CoursePlan, witness: User) -> ConsentDocument:
    return services.sign_drawn(services.prepare(plan, witness), drawn_png(), witness)


def test_the_signed_english_pdf_lists_the_risks_and_the_ingredients(
    plan: CoursePlan, asha: User
) -> None:
    document = signed_on_tablet(plan, asha)
    data = document.pdf_bytes()
    text = text_of(data)

    for effect in SideEffect.objects.filter(retired=False):
        assert effect.label in text, effect.label
    for ingredient in ("Phosphatidylcholine", "Sodium deoxycholate", "L-carnitine"):
        assert ingredient in text, ingredient
    assert "Camille Rousseau" in text
    assert "Lipolytic abdomen, version 1" in text
    assert "8 sessions, one every 14 days" in text
    assert "no standard mixture" in text
    assert "For hair loss the evidence is especially thin" in text
    assert "Signed by hand by Camille Rousseau on a tablet at Clinique des Tilleuls" in text
    assert "in the presence of Asha Assistant" in text
    assert "(Europe/Paris, UTC+01:00)" in text or "(Europe/Paris, UTC+02:00)" in text
    assert document.content_sha256 in text
    with opened(data) as read:
        pages = len(read)
        assert read[0].get_size() == pytest.approx((595.28, 841.89), abs=0.1)  # A4
        images = sum(
            len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))) for page in read
        )
    assert f"Page 1 of {pages}" in text
    assert f"Page {pages} of {pages}" in text
    assert images == 1  # the drawn signature
    assert save_page(data, 0, "consent-page1.png").stat().st_size > 10_000
    save_page(data, -1, "consent-signature-page.png")
    (ARTIFACTS / "consent-signed-en.pdf").write_bytes(data)


def test_the_french_pdf_keeps_accents_and_the_catalogues_english_labels(
    french_plan: CoursePlan, asha: User
) -> None:
    document = services.prepare(french_plan, asha)
    services.send_code(document)
    code = last_code_sent("helene.lefevre@example.org")
    document = services.sign_typed(document, "Hélène Lefèvre-Dupré", code)
    text = text_of(document.pdf_bytes())

    assert "Consentement à une cure de mésothérapie" in text
    assert "Hélène Lefèvre-Dupré" in text  # non-ASCII, in the embedded Vera font
    assert "Pendant les 7 jours qui précèdent chaque séance" in text
    for effect in SideEffect.objects.filter(retired=False):
        assert effect.label in text, effect.label
    for ingredient in ("Minoxidil", "Biotin"):
        assert ingredient in text, ingredient
    assert "Page 1 sur" in text
    assert "en saisissant le nom « Hélène Lefèvre-Dupré »" in text
    assert "helene.lefevre@example.org" in text
    save_page(document.pdf_bytes(), 0, "consent-page1-fr.png")
    (ARTIFACTS / "consent-signed-fr.pdf").write_bytes(document.pdf_bytes())


@pytest.mark.parametrize(("paper", "size"), [("a4", (595.28, 841.89)), ("letter", (612.0, 792.0))])
def test_the_text_fits_the_box_shared_by_a4_and_letter(
    plan: CoursePlan, asha: User, paper: str, size: tuple[float, float]
) -> None:
    """Made on either paper and printed on the other at actual size, nothing is cut: every
    character sits inside the 170 x 247 mm box centred on both."""
    plan.clinic.paper_size = paper
    plan.clinic.save()
    document = signed_on_tablet(plan, asha)
    with opened(document.pdf_bytes()) as read:
        for page in read:
            width, height = page.get_size()
            assert (width, height) == pytest.approx(size, abs=0.1)
            _, _, box_width, box_height = pdf.text_box((width, height))
            textpage = page.get_textpage()
            for index in range(textpage.count_chars()):
                x0, y0, x1, y1 = textpage.get_charbox(index)
                if x0 == x1 == y0 == y1 == 0:
                    continue  # a generated space or line break
                # Relative to the centre, so that one box serves both papers.
                assert -box_width / 2 - 0.5 <= x0 - width / 2
                assert x1 - width / 2 <= box_width / 2 + 0.5
                assert -box_height / 2 - 0.5 <= y0 - height / 2
                assert y1 - height / 2 <= box_height / 2 + 0.5
    assert 210 * mm - 2 * 19 * mm >= pdf.BOX_WIDTH
    assert 279.4 * mm - 2 * 15 * mm >= pdf.BOX_HEIGHT


def test_a_draft_is_marked_as_such_and_is_the_same_every_time(plan: CoursePlan, asha: User) -> None:
    draft = services.prepare(plan, asha)
    first, second = printing.render_pdf(draft), printing.render_pdf(draft)
    assert first == second
    text = text_of(first)
    assert "DRAFT - not signed" in text
    assert "Not signed. This copy is for reading only." in text
    save_page(first, 0, "consent-draft-page1.png")


def test_an_unknown_paper_size_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown paper size"):
        pdf.page_size("a5")
