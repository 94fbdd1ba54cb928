"""The formula editor in a real browser: a practitioner builds a formula from two products,
watches the composition appear as she types, saves it, edits it after it has been used, and
finds both versions."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import Page, expect

from mesoclinic.catalogue.models import normalise_name
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.formulas import services
from mesoclinic.formulas.models import Formula, Ingredient, Presentation, Product
from mesoclinic.formulas.services import Content
from mesoclinic.patients.models import Patient
from tests.e2e.conftest import sign_in_through_the_form

pytestmark = pytest.mark.browser


def shared_ingredient(name: str) -> Ingredient:
    return Ingredient.objects.get(clinic__isnull=True, normalised_name=normalise_name(name))


def stock(clinic: Clinic, practitioner: User) -> tuple[Product, Product]:
    lipo = services.create_product(
        clinic=clinic,
        name="Lipo PC",
        manufacturer="Laboratoires Exemple",
        presentation=Presentation.VIAL,
        volume_ml=Decimal(5),
        contents=[
            Content(shared_ingredient("Phosphatidylcholine"), Decimal(5), "%"),
            Content(shared_ingredient("Sodium deoxycholate"), Decimal("2.5"), "%"),
        ],
        actor=practitioner,
    )
    carnitine = services.create_product(
        clinic=clinic,
        name="Carnitine 1 g",
        manufacturer="Pharma Exemple",
        presentation=Presentation.AMPOULE,
        volume_ml=Decimal(5),
        contents=[Content(shared_ingredient("L-carnitine"), Decimal(200), "mg/mL")],
        actor=practitioner,
    )
    return lipo, carnitine


def test_a_practitioner_builds_a_formula_uses_it_edits_it_and_sees_two_versions(
    page: Page, transactional_db: None, artifacts: Path
) -> None:
    call_command("load_catalogue", verbosity=0)
    clinic = Clinic.objects.create(name="Clinique des Tilleuls", slug="tilleuls")
    pat = create_user("pat.practitioner", Role.PRACTITIONER, clinic)
    lipo, carnitine = stock(clinic, pat)

    sign_in_through_the_form(page, pat, start="/formulas/new/")
    expect(page.get_by_role("heading", level=1)).to_have_text("New formula")
    page.get_by_label("Name", exact=True).fill("Abdomen lipolytic")
    page.get_by_label("Localised fat").check()
    page.get_by_label("Total volume (mL)").fill("5")
    page.get_by_label("Product or ingredient, row 1").select_option(label=str(lipo))
    page.get_by_label("Amount, row 1").fill("2")
    page.get_by_label("Product or ingredient, row 2").select_option(label=str(carnitine))
    page.get_by_label("Amount, row 2").fill("2")

    # The composition is computed as the recipe is typed, before anything is saved.
    composition = page.locator("#composition")
    expect(composition).to_contain_text("What the mix contains")
    expect(composition.get_by_role("row", name=re.compile("^Phosphatidylcholine"))).to_contain_text(
        "2"
    )
    expect(composition.get_by_role("row", name=re.compile("^L-carnitine"))).to_contain_text("80")
    # A unit slip is flagged at once.
    page.get_by_label("Total volume (mL)").fill("-5")
    page.get_by_label("Amount, row 2").press("Tab")
    expect(composition).to_contain_text("must be above zero mL")
    page.get_by_label("Total volume (mL)").fill("5")
    page.get_by_label("Amount, row 2").press("Tab")
    expect(composition).to_contain_text("What the mix contains")
    page.screenshot(path=artifacts / "formula-editor-1440.png", full_page=True)
    assert not Formula.objects.exists()

    page.get_by_role("button", name="Save formula").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Abdomen lipolytic version 1")
    formula = Formula.objects.get(name="Abdomen lipolytic")
    first = formula.current_version

    # The treatment chart records the version when it is injected.
    patient = Patient.objects.create(
        clinic=clinic, given_name="Camille", family_name="Rousseau", date_of_birth="1980-03-14"
    )
    lot = services.receive_lot(
        product=lipo,
        lot_number="PC-2611",
        expiry_date=clinic.today().replace(year=clinic.today().year + 1),
        received_on=clinic.today(),
        received_quantity=10,
        actor=pat,
    )
    services.record_lot_use(lot, patient, Decimal(2), timezone.now(), pat, formula_version=first)

    page.get_by_role("link", name="Edit").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1 has been used in treatment")
    page.get_by_label("Amount, row 1").fill("3")
    page.get_by_role("button", name="Save formula").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Abdomen lipolytic version 2")
    expect(page.locator(".messages")).to_contain_text("saved as version 2")
    versions = page.get_by_role("region", name="Versions").get_by_role("listitem")
    expect(versions).to_have_count(2)
    page.screenshot(path=artifacts / "formula-versions-1440.png", full_page=True)

    page.get_by_role("link", name="Version 1").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Abdomen lipolytic version 1")
    expect(page.get_by_role("status")).to_contain_text("This is an earlier version")
    lipo_row = page.get_by_role("row", name=re.compile("^Lipo PC"))
    expect(lipo_row.last).to_contain_text("2")
