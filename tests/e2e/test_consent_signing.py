"""Consent on the clinic's tablet, in a real browser: an assistant opens a course's consent,
prepares the document, hands the tablet over; signing without drawing is stopped, then the
patient draws a signature with the pointer, ticks the box and signs, and the signed PDF is
stored."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from playwright.sync_api import Page, expect

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.clinics.models import Clinic, Role
from mesoclinic.clinics.testing import create_user
from mesoclinic.consent import content, signature
from mesoclinic.consent.models import ConsentDocument, SignatureMethod
from mesoclinic.courses import plans
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import Ingredient
from mesoclinic.formulas.services import ComponentSpec
from mesoclinic.patients.models import Patient
from tests.e2e.conftest import sign_in_through_the_form

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}


def test_a_patient_signs_the_consent_on_the_tablet(
    page: Page, signed_rows_removed: None, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(
        name="Clinique des Tilleuls", slug="tilleuls", time_zone="Europe/Paris"
    )
    pat = create_user("pat.practitioner", Role.PRACTITIONER, clinic)
    asha = create_user("asha.assistant", Role.ASSISTANT, clinic)
    patient = Patient.objects.create(
        clinic=clinic,
        given_name="Élodie",
        family_name="Mercier",
        date_of_birth="1986-07-02",
        email="elodie.mercier@example.org",
    )
    formula = formulas.create_formula(
        clinic=clinic,
        name="Lipolytic abdomen",
        author=pat,
        components=[
            ComponentSpec(
                ingredient=Ingredient.objects.get(clinic__isnull=True, name=name),
                volume_ml=Decimal(1),
                concentration=Decimal(concentration),
                unit="%",
            )
            for name, concentration in (("Phosphatidylcholine", 5), ("Sodium deoxycholate", 2))
        ],
        total_volume_ml=Decimal(2),
        actor=pat,
    )
    plan = plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code="localised-fat"),
        practitioner=pat,
        protocol=Protocol.objects.get(code="default"),
        areas=BodyArea.objects.filter(code="abdomen"),
        formula_version=formula.current_version,
        actor=pat,
    )

    sign_in_through_the_form(page, asha, start=f"/courses/plans/{plan.pk}/")
    expect(page.get_by_text("No valid consent")).to_be_visible()
    page.get_by_role("link", name="Consent documents").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Consent")
    page.get_by_role("button", name="Prepare").click()
    expect(page.locator(".messages")).to_contain_text("Version 1 is ready to read and sign")

    page.set_viewport_size(TABLET)
    page.get_by_role("link", name="Sign on the tablet").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Consent to a course of mesotherapy")
    expect(page.get_by_text("Phosphatidylcholine")).to_be_visible()
    pad = page.locator("#signature-pad")
    expect(pad).to_be_visible()

    # Without a drawing, the form does not go.
    page.get_by_label("I have read and understood this document").check()
    page.get_by_role("button", name="Sign the consent").click()
    expect(page.get_by_text("Draw the signature in the box first.")).to_be_visible()
    assert ConsentDocument.objects.get().signed_at is None

    # The patient signs with the pointer.
    box = pad.bounding_box()
    assert box is not None
    x, y, width, height = box["x"], box["y"], box["width"], box["height"]
    stroke = [(0.10, 0.70), (0.22, 0.30), (0.32, 0.65), (0.45, 0.25), (0.58, 0.70), (0.80, 0.45)]
    page.mouse.move(x + width * stroke[0][0], y + height * stroke[0][1])
    page.mouse.down()
    for fx, fy in stroke[1:]:
        page.mouse.move(x + width * fx, y + height * fy, steps=8)
    page.mouse.up()
    expect(page.get_by_text("Draw the signature in the box first.")).to_be_hidden()
    pad.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "consent-tablet-signing-768.png")
    page.screenshot(path=artifacts / "consent-tablet-768.png", full_page=True)

    page.get_by_role("button", name="Sign the consent").click()
    expect(page.locator(".messages")).to_contain_text("Version 1 is signed")
    expect(page.get_by_text("Signed by hand by Élodie Mercier")).to_be_visible()
    page.screenshot(path=artifacts / "consent-signed-768.png", full_page=True)

    document = ConsentDocument.objects.get()
    assert document.method == SignatureMethod.DRAWN
    assert document.witness == asha
    signature.check_drawn(document.signature_bytes() or b"")  # a real stroke, not a blank pad
    assert document.pdf_sha256 == content.sha256_hex(document.pdf_bytes())

    # The PDF downloads as stored, and the course now shows the consent.
    response = page.request.get(f"/consent/{document.pk}/pdf/")
    assert response.headers["content-type"] == "application/pdf"
    assert response.body() == document.pdf_bytes()
    page.goto(f"/courses/plans/{plan.pk}/")
    expect(page.get_by_text("version 1,", exact=False)).to_be_visible()

    # The signing page on a phone, for a second version.
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto(f"/consent/plans/{plan.pk}/")
    page.get_by_role("button", name="Prepare").click()
    page.get_by_role("link", name="Sign on the tablet").click()
    expect(page.locator("#signature-pad")).to_be_visible()
    page.screenshot(path=artifacts / "consent-sign-360.png", full_page=True)
    for name, url in (
        ("sign", page.url),
        ("plan", f"/consent/plans/{plan.pk}/"),
        ("signed", f"/consent/{document.pk}/"),
    ):
        page.goto(url)
        wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert not wide, f"the consent {name} page scrolls sideways at 360 px"
        page.screenshot(path=artifacts / f"consent-{name}-360.png", full_page=True)
