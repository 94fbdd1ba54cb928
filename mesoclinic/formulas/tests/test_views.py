"""The formula library's pages: the recipe editor, products, lots, trace and recall."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.formulas import services
from mesoclinic.formulas.models import (
    ContactStatus,
    Formula,
    Ingredient,
    Lot,
    LotStatus,
    Product,
    RecallContact,
)
from mesoclinic.formulas.tests.conftest import Ingredients
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient

Clients = Callable[[User], Client]


def recipe(rows: list[dict[str, str]], **fields: str) -> dict[str, Any]:
    """The editor's POST data: the formula's fields and one formset row per dict."""
    data: dict[str, Any] = {
        "name": "Lipo mix",
        "notes": "",
        "total_volume_ml": "5",
        "version_notes": "",
        "component-TOTAL_FORMS": str(len(rows)),
        "component-INITIAL_FORMS": "0",
        "component-MIN_NUM_FORMS": "0",
        "component-MAX_NUM_FORMS": "40",
    }
    for index, row in enumerate(rows):
        for key, value in ({"amount_unit": "mL"} | row).items():
            data[f"component-{index}-{key}"] = value
    return data | fields


def two_products(lipo: Product, carnitine: Product) -> list[dict[str, str]]:
    return [
        {"item": f"p:{lipo.pk}", "amount": "2"},
        {"item": f"p:{carnitine.pk}", "amount": "50", "amount_unit": "%"},
    ]


def test_a_practitioner_builds_a_formula_from_two_products(
    client_for: Clients, pat: User, lipo: Product, carnitine: Product
) -> None:
    response = client_for(pat).post(
        reverse("formulas:create"), recipe(two_products(lipo, carnitine))
    )
    formula = Formula.objects.get(name="Lipo mix")
    assert response.status_code == 302
    assert response["Location"] == reverse("formulas:detail", args=[formula.pk])
    version = formula.current_version
    assert version.number == 1
    assert version.total_volume_ml == Decimal(5)
    assert [(c.product, c.volume_ml, c.proportion) for c in version.components.all()] == [
        (lipo, Decimal(2), None),
        (carnitine, None, Decimal(50)),
    ]
    page = client_for(pat).get(response["Location"]).content.decode()
    # 2 mL of 5 % phosphatidylcholine in 5 mL: 2 %; 2.5 mL of 200 mg/mL carnitine: 100 mg/mL.
    assert "Phosphatidylcholine" in page and ">2<" in page
    assert "L-carnitine" in page and ">100<" in page
    assert "Diluent" in page  # 0.5 mL left over


@pytest.mark.parametrize(
    ("row", "total", "message"),
    [
        ({"concentration": "5000", "unit": "mg/mL", "amount": "1"}, "5", "Did you mean mcg/mL?"),
        ({"concentration": "120", "unit": "%", "amount": "1"}, "5", "over 100 %"),
        ({"concentration": "2", "unit": "%", "amount": "0"}, "5", "must be above zero mL"),
        ({"concentration": "2", "unit": "%", "amount": "-1"}, "5", "must be above zero mL"),
        ({"concentration": "2", "unit": "%", "amount": "1"}, "0", "total volume must be above"),
        (
            {"concentration": "2", "unit": "%", "amount": "120", "amount_unit": "%"},
            "5",
            "over 100 %",
        ),
        ({"concentration": "2", "unit": "%", "amount": "9"}, "5", "more than the total volume"),
        ({"concentration": "", "unit": "", "amount": "1"}, "5", "a concentration is required"),
    ],
)
def test_the_editor_refuses_unit_mistakes_with_a_message_and_saves_nothing(
    client_for: Clients,
    pat: User,
    ingredients: Ingredients,
    row: dict[str, str],
    total: str,
    message: str,
) -> None:
    data = recipe([{"item": f"i:{ingredients.lidocaine.pk}", **row}], total_volume_ml=total)
    response = client_for(pat).post(reverse("formulas:create"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Formula.objects.exists()


def test_the_live_preview_shows_the_composition_or_the_mistakes(
    client_for: Clients, pat: User, lipo: Product, carnitine: Product, ingredients: Ingredients
) -> None:
    client = client_for(pat)
    good = client.post(reverse("formulas:preview"), recipe(two_products(lipo, carnitine)))
    assert good.status_code == 200
    assert "What the mix contains" in good.content.decode()
    row = {"item": f"i:{ingredients.lidocaine.pk}", "concentration": "20000", "amount": "1"}
    # 20000 mcg/mL is 20 mg/mL, a plausible lidocaine; 20000 mg/mL is a unit slip.
    fine = client.post(reverse("formulas:preview"), recipe([row | {"unit": "mcg/mL"}]))
    assert "What the mix contains" in fine.content.decode()
    slip = client.post(reverse("formulas:preview"), recipe([row | {"unit": "mg/mL"}]))
    page = slip.content.decode()
    assert "Check this before saving" in page and "Did you mean mcg/mL?" in page
    assert "What the mix contains" not in page
    assert not Formula.objects.exists()


def test_another_row_adds_a_row_and_saves_nothing(
    client_for: Clients, pat: User, lipo: Product
) -> None:
    data = recipe([{"item": f"p:{lipo.pk}", "amount": "2"}]) | {"add_row": "1"}
    response = client_for(pat).post(reverse("formulas:create"), data)
    assert response.status_code == 200
    assert response.context["formset"].total_form_count() == 2
    assert not Formula.objects.exists()


def test_editing_a_used_formula_creates_a_version_and_keeps_the_old_one_readable(
    client_for: Clients,
    pat: User,
    lipolytic: Formula,
    lipo: Product,
    carnitine: Product,
    lipo_lot: Lot,
    patient_a: Patient,
) -> None:
    first = lipolytic.current_version
    services.record_lot_use(
        lipo_lot, patient_a, Decimal(2), timezone.now(), pat, formula_version=first
    )
    client = client_for(pat)
    form = client.get(reverse("formulas:edit", args=[lipolytic.pk])).content.decode()
    assert "Version 1 has been used in treatment" in form
    rows = [{"item": f"p:{lipo.pk}", "amount": "3"}, {"item": f"p:{carnitine.pk}", "amount": "1"}]
    response = client.post(
        reverse("formulas:edit", args=[lipolytic.pk]),
        recipe(rows, name=lipolytic.name, total_volume_ml="4"),
        follow=True,
    )
    assert "saved as version 2" in response.content.decode()
    assert lipolytic.current_version.number == 2
    old = client.get(reverse("formulas:version", args=[first.pk])).content.decode()
    assert "This is an earlier version" in old
    first.refresh_from_db()
    assert [c.volume_ml for c in first.components.all()] == [Decimal(2), Decimal(2)]


def test_an_assistant_reads_formulas_but_cannot_edit_them(
    client_for: Clients, asha: User, lipolytic: Formula
) -> None:
    client = client_for(asha)
    page = client.get(reverse("formulas:detail", args=[lipolytic.pk])).content.decode()
    assert "Lipolytic abdomen" in page
    assert reverse("formulas:edit", args=[lipolytic.pk]) not in page
    assert client.get(reverse("formulas:edit", args=[lipolytic.pk])).status_code == 403


def test_formulas_are_filtered_by_indication(
    client_for: Clients, pat: User, lipolytic: Formula, catalogue: None
) -> None:
    from mesoclinic.catalogue.models import Indication

    fat = Indication.objects.filter(retired=False).first()
    assert fat is not None
    lipolytic.indications.add(fat)
    client = client_for(pat)
    shown = client.get(reverse("formulas:list"), {"indication": fat.code}).content.decode()
    assert "Lipolytic abdomen" in shown
    other = Indication.objects.exclude(pk=fat.pk).first()
    assert other is not None
    hidden = client.get(reverse("formulas:list"), {"indication": other.code}).content.decode()
    assert "Lipolytic abdomen" not in hidden


def test_a_product_is_added_with_its_contents_and_a_bad_concentration_is_refused(
    client_for: Clients, asha: User, ingredients: Ingredients
) -> None:
    data = {
        "name": "Caffeine boost",
        "manufacturer": "Exemple",
        "presentation": "ampoule",
        "volume_ml": "2",
        "regulatory_status": "",
        "content-TOTAL_FORMS": "2",
        "content-INITIAL_FORMS": "0",
        "content-MIN_NUM_FORMS": "0",
        "content-MAX_NUM_FORMS": "20",
        "content-0-ingredient": str(ingredients.carnitine.pk),
        "content-0-concentration": "1500",
        "content-0-unit": "mg/mL",
    }
    client = client_for(asha)
    refused = client.post(reverse("formulas:product-create"), data)
    assert refused.status_code == 400
    assert "more than 1 g per mL" in refused.content.decode()
    assert not Product.objects.exists()
    data["content-0-concentration"] = "150"
    added = client.post(reverse("formulas:product-create"), data)
    product = Product.objects.get(name="Caffeine boost")
    assert added["Location"] == reverse("formulas:product", args=[product.pk])
    assert [(c.ingredient, c.concentration) for c in product.contents.all()] == [
        (ingredients.carnitine, Decimal(150))
    ]


def test_a_clinic_ingredient_is_added_but_not_under_a_shared_name(
    client_for: Clients, asha: User, ingredients: Ingredients, catalogue: None
) -> None:
    from mesoclinic.catalogue.models import IngredientClass

    plant = IngredientClass.objects.get(code="plant-extracts")
    client = client_for(asha)
    clash = client.post(
        reverse("formulas:ingredients"),
        {"name": "Centella house extract", "ingredient_class": plant.pk, "synonyms": "Lignocaine"},
    )
    assert clash.status_code == 400
    assert "already a name of the ingredient Lidocaine" in clash.content.decode()
    added = client.post(
        reverse("formulas:ingredients"),
        {"name": "Centella house extract", "ingredient_class": plant.pk, "synonyms": "CHE"},
    )
    assert added.status_code == 302
    ingredient = Ingredient.objects.get(name="Centella house extract")
    assert ingredient.clinic_id == asha.clinic_id
    assert ingredient.synonyms == ["CHE"]


def test_receiving_a_lot_refuses_an_expiry_before_receipt(
    client_for: Clients, asha: User, lipo: Product
) -> None:
    url = reverse("formulas:lot-receive", args=[lipo.pk])
    data = {
        "lot_number": "B-77",
        "expiry_date": "2026-01-01",
        "received_on": "2026-02-01",
        "received_quantity": "5",
    }
    refused = client_for(asha).post(url, data)
    assert refused.status_code == 400
    assert "before it was received" in refused.content.decode()
    assert not Lot.objects.exists()
    data["expiry_date"] = "2027-01-01"
    received = client_for(asha).post(url, data)
    lot = Lot.objects.get(lot_number="B-77")
    assert received["Location"] == reverse("formulas:lot", args=[lot.pk])
    assert lot.remaining_units == 5


def test_a_recall_lists_the_patients_opens_contact_tasks_and_audits_everything(
    client_for: Clients, pat: User, asha: User, lipo_lot: Lot, patient_a: Patient
) -> None:
    other = make_patient(asha, given_name="Lucie", family_name="Bernard")
    untouched = make_patient(asha, given_name="Nina", family_name="Petit")
    for patient in (patient_a, other):
        services.record_lot_use(lipo_lot, patient, Decimal(1), timezone.now(), pat)
    status_url = reverse("formulas:lot-status", args=[lipo_lot.pk])
    # An assistant may trace but not recall; a recall needs a reason.
    assert client_for(asha).post(status_url, {"action": "recall", "reason": "x"}).status_code == 403
    no_reason = client_for(pat).post(status_url, {"action": "recall", "reason": " "})
    assert no_reason.status_code == 400
    assert Lot.objects.get(pk=lipo_lot.pk).status == LotStatus.ACTIVE

    client_for(pat).post(status_url, {"action": "recall", "reason": "Supplier alert: sterility"})
    assert Lot.objects.get(pk=lipo_lot.pk).status == LotStatus.RECALLED
    assert {c.patient for c in RecallContact.objects.all()} == {patient_a, other}

    client = client_for(asha)
    page = client.get(reverse("formulas:lot", args=[lipo_lot.pk])).content.decode()
    assert "Supplier alert: sterility" in page
    assert "2 of 2 patients still to contact" in page
    assert "Bernard, Lucie" in page and "Petit" not in page
    viewed = AuditEvent.objects.filter(action=AuditAction.VIEW, object_type="formulas.Lot")
    assert viewed.latest("pk").detail["listed_patient_ids"] == sorted([patient_a.pk, other.pk])

    download = client.get(reverse("formulas:lot-trace-csv", args=[lipo_lot.pk]))
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0] == list(services.TRACE_CSV_HEADER)
    assert sorted(row[0] for row in rows[1:]) == sorted([str(patient_a.pk), str(other.pk)])
    assert str(untouched.pk) not in {row[0] for row in rows[1:]}
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, object_type="formulas.Lot")

    contact = RecallContact.objects.get(patient=other)
    url = reverse("formulas:contact", args=[contact.pk])
    prefix = f"contact-{contact.pk}"
    empty = client.post(url, {f"{prefix}-status": "contacted", f"{prefix}-note": ""})
    assert empty.status_code == 400
    assert RecallContact.objects.get(pk=contact.pk).status == ContactStatus.TO_CONTACT
    client.post(url, {f"{prefix}-status": "contacted", f"{prefix}-note": "Phoned; no symptoms."})
    contact.refresh_from_db()
    assert (contact.status, contact.note, contact.updated_by) == (
        ContactStatus.CONTACTED,
        "Phoned; no symptoms.",
        asha,
    )
    assert AuditEvent.objects.filter(
        object_type="formulas.RecallContact", patient_id=other.pk, actor=asha
    ).exists()


def test_a_recalled_lot_offers_no_further_status_change(
    client_for: Clients, pat: User, lipo_lot: Lot
) -> None:
    services.recall_lot(lipo_lot, "Contaminated", pat)
    page = client_for(pat).get(reverse("formulas:lot", args=[lipo_lot.pk])).content.decode()
    assert "Quarantine, recall or release" not in page
    refused = client_for(pat).post(
        reverse("formulas:lot-status", args=[lipo_lot.pk]),
        {"action": "release", "reason": "Mistake"},
    )
    assert refused.status_code == 400
    assert "cannot become active" in refused.content.decode()


def test_the_lot_list_flags_lots_near_expiry_and_unusable_ones(
    client_for: Clients, pat: User, lipo: Product
) -> None:
    from mesoclinic.formulas.tests.conftest import receive

    assert pat.clinic is not None
    today = pat.clinic.today()
    receive(lipo, pat, "SOON", expiry_date=today + timedelta(days=10), received_on=today)
    receive(lipo, pat, "LATER", expiry_date=today + timedelta(days=300), received_on=today)
    held = receive(
        lipo, pat, "HELD", received_on=today, expiry_date=today.replace(year=today.year + 2)
    )
    services.quarantine_lot(held, "Damaged box", pat)
    page = client_for(pat).get(reverse("formulas:lots")).content.decode()
    assert page.count(">Expires soon<") == 1
    assert "is quarantined: Damaged box" in page
    only = client_for(pat).get(reverse("formulas:lots"), {"status": "quarantined"}).content
    assert b"HELD" in only and b"SOON" not in only


def test_a_patients_lots_are_listed_in_clinic_time_and_the_read_audited(
    client_for: Clients, pat: User, lipo_lot: Lot, patient_a: Patient
) -> None:
    # 23:30 UTC on 30 March is 01:30 on 31 March in Paris (summer time since the 29th).
    used_on = datetime(2026, 3, 30, 23, 30, tzinfo=UTC)
    services.record_lot_use(lipo_lot, patient_a, Decimal(1), used_on, pat)
    page = client_for(pat).get(reverse("formulas:patient-lots", args=[patient_a.pk]))
    assert lipo_lot.lot_number in page.content.decode()
    assert "2026-03-31 01:30" in page.content.decode()
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, patient_id=patient_a.pk, detail__what="lots received"
    ).exists()
