"""The formulas API: each operation through the HTTP client, as a clinic's staff call it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from mesoclinic.catalogue.models import IngredientClass
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.formulas import services
from mesoclinic.formulas.models import (
    ContactStatus,
    Formula,
    FormulaVersion,
    Ingredient,
    Lot,
    LotStatus,
    Product,
    RecallContact,
)
from mesoclinic.formulas.tests.conftest import Ingredients, receive
from mesoclinic.patients import services as patient_services
from mesoclinic.patients.models import Patient

ClientFor = Callable[[User], Client]
BASE = "/api/v1/formulas"
USED_ON = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, body, content_type="application/json")


def put(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.put(url, body, content_type="application/json")


# --- ingredients --------------------------------------------------------------------------


def test_ingredients_are_the_shared_catalogue_and_the_clinics_own(
    client_for: ClientFor, asha: User, bob: User, ingredients: Ingredients
) -> None:
    created = post(
        client_for(asha),
        f"{BASE}/ingredients",
        {"name": "House  peptide blend", "ingredient_class": "amino-acids", "synonyms": ["HPB-7"]},
    )
    mine = client_for(asha).get(f"{BASE}/ingredients").json()
    bobs = client_for(bob).get(f"{BASE}/ingredients").json()

    assert created.status_code == 201
    assert created.json() | {"id": 0} == {
        "id": 0,
        "name": "House peptide blend",
        "ingredient_class": "amino-acids",
        "synonyms": ["HPB-7"],
        "needs_prescriber": False,
        "shared": False,
    }
    assert "House peptide blend" in [i["name"] for i in mine]
    assert "House peptide blend" not in [i["name"] for i in bobs]
    assert {"Lidocaine", "L-carnitine"} <= {i["name"] for i in bobs}
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_type="formulas.Ingredient", actor=asha
    ).exists()


def test_ingredients_are_searched_by_name_and_synonym_without_accents(
    client_for: ClientFor, pat: User, ingredients: Ingredients
) -> None:
    client = client_for(pat)

    by_synonym = client.get(f"{BASE}/ingredients", {"q": "xylocaine"}).json()
    by_part = client.get(f"{BASE}/ingredients", {"q": "CARNIT"}).json()

    assert [i["name"] for i in by_synonym] == ["Lidocaine"]
    assert by_synonym[0]["needs_prescriber"] is True
    assert "L-carnitine" in [i["name"] for i in by_part]


def test_an_ingredient_is_refused_with_the_reason_and_nothing_is_added(
    client_for: ClientFor, asha: User, ingredients: Ingredients
) -> None:
    client = client_for(asha)
    count = Ingredient.objects.count()

    unknown_class = post(
        client, f"{BASE}/ingredients", {"name": "Silicium", "ingredient_class": "nonsense"}
    )
    taken = post(client, f"{BASE}/ingredients", {"name": "ppc", "ingredient_class": "other"})
    blank = post(client, f"{BASE}/ingredients", {"name": "   ", "ingredient_class": "other"})

    assert [r.status_code for r in (unknown_class, taken, blank)] == [422] * 3
    assert unknown_class.json() == {"detail": "No ingredient class has the code 'nonsense'."}
    assert taken.json() == {
        "detail": "'ppc' is already a name of the ingredient Phosphatidylcholine."
    }
    assert blank.json() == {"detail": "An ingredient needs a name."}
    assert Ingredient.objects.count() == count


# --- products -----------------------------------------------------------------------------


def test_a_product_is_created_with_its_contents_and_read(
    client_for: ClientFor, asha: User, ingredients: Ingredients
) -> None:
    client = client_for(asha)
    body = {
        "name": "Lipo PC",
        "manufacturer": "Laboratoires Exemple",
        "presentation": "vial",
        "volume_ml": "5.0",
        "contents": [
            {
                "ingredient_id": ingredients.phosphatidylcholine.pk,
                "concentration": "5",
                "unit": "%",
            },
            {"ingredient_id": ingredients.deoxycholate.pk, "concentration": 2.5, "unit": "%"},
        ],
    }

    created = post(client, f"{BASE}/products", body)
    read = client.get(f"{BASE}/products/{created.json()['id']}").json()
    listed = client.get(f"{BASE}/products").json()

    assert created.status_code == 201
    assert read == created.json()
    assert read["volume_ml"] == "5"
    assert read["contents"] == [
        {
            "ingredient_id": ingredients.phosphatidylcholine.pk,
            "ingredient_name": "Phosphatidylcholine",
            "concentration": "5",
            "unit": "%",
        },
        {
            "ingredient_id": ingredients.deoxycholate.pk,
            "ingredient_name": "Sodium deoxycholate",
            "concentration": "2.5",
            "unit": "%",
        },
    ]
    assert [p["name"] for p in listed] == ["Lipo PC"]
    assert Product.objects.get().clinic == asha.clinic


def test_a_product_naming_another_clinics_ingredient_or_a_wrong_dose_is_refused(
    client_for: ClientFor, pat: User, bob: User, ingredients: Ingredients
) -> None:
    assert bob.clinic is not None
    bobs = services.add_ingredient(
        clinic=bob.clinic,
        name="Harbour extract",
        ingredient_class=IngredientClass.objects.get(code="plant-extracts"),
        actor=bob,
    )
    client = client_for(pat)
    body: dict[str, Any] = {
        "name": "Mix",
        "manufacturer": "Lab",
        "presentation": "ampoule",
        "volume_ml": "2",
    }

    foreign = post(
        client,
        f"{BASE}/products",
        body | {"contents": [{"ingredient_id": bobs.pk, "concentration": "1", "unit": "mg/mL"}]},
    )
    slip = post(
        client,
        f"{BASE}/products",
        body
        | {
            "contents": [
                {
                    "ingredient_id": ingredients.carnitine.pk,
                    "concentration": "2000",
                    "unit": "mg/mL",
                }
            ]
        },
    )
    too_precise = post(client, f"{BASE}/products", body | {"volume_ml": "2.0001"})

    assert [r.status_code for r in (foreign, slip, too_precise)] == [422] * 3
    # Another clinic's ingredient is not named back: its existence is not revealed.
    assert foreign.json() == {"detail": f"No ingredient of this clinic has the id {bobs.pk}."}
    assert slip.json() == {
        "detail": "L-carnitine: 2000 mg/mL is more than 1 g per mL, which no solution holds. "
        "Did you mean mcg/mL?"
    }
    assert not Product.objects.exists()


# --- lots ---------------------------------------------------------------------------------


def test_a_lot_is_received_listed_and_read(
    client_for: ClientFor, asha: User, lipo: Product
) -> None:
    client = client_for(asha)
    today = asha.clinic.today()  # type: ignore[union-attr]

    received = post(
        client,
        f"{BASE}/products/{lipo.pk}/lots",
        {
            "lot_number": " B-17 ",
            "expiry_date": str(today + timedelta(days=20)),
            "received_on": str(today),
            "received_quantity": 12,
            "supplier": "Grossiste",
        },
    )
    receive(lipo, asha, "OLD", expiry_date=today + timedelta(days=400), received_on=today)
    lot_id = received.json()["id"]

    assert received.status_code == 201
    read = client.get(f"{BASE}/lots/{lot_id}").json()
    assert read == received.json()
    assert read | {"id": 0, "product_id": 0} == {
        "id": 0,
        "product_id": 0,
        "product_name": "Lipo PC",
        "lot_number": "B-17",
        "expiry_date": str(today + timedelta(days=20)),
        "received_on": str(today),
        "received_quantity": 12,
        "remaining_units": 12,
        "supplier": "Grossiste",
        "storage_notes": "",
        "opened_on": None,
        "status": "active",
        "status_reason": "",
        "status_changed_by_id": None,
        "status_changed_at": None,
        "usable_today": {"ok": True, "reason": ""},
    }

    def numbers(**query: str | int) -> list[str]:
        return [lot["lot_number"] for lot in client.get(f"{BASE}/lots", query).json()]

    assert numbers() == ["B-17", "OLD"]
    assert numbers(expiring_within_days=30) == ["B-17"]
    assert numbers(product_id=lipo.pk, status="active") == ["B-17", "OLD"]
    assert numbers(status="recalled") == []
    assert client.get(f"{BASE}/lots", {"expiring_within_days": 40_000}).status_code == 422


def test_a_lot_is_refused_with_every_reason_and_nothing_is_received(
    client_for: ClientFor, asha: User, lipo_lot: Lot
) -> None:
    response = post(
        client_for(asha),
        f"{BASE}/products/{lipo_lot.product_id}/lots",
        {
            "lot_number": "L001",
            "expiry_date": "2026-01-01",
            "received_on": "2026-01-05",
            "received_quantity": 3,
        },
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": "The lot expired on 2026-01-01, before it was received on 2026-01-05. "
        "Lipo PC already has a lot L001."
    }
    assert Lot.objects.count() == 1


def test_quarantine_recall_contacts_and_their_audit(
    client_for: ClientFor,
    pat: User,
    asha: User,
    lipo_lot: Lot,
    patient_a: Patient,
) -> None:
    services.record_lot_use(lipo_lot, patient_a, Decimal("1.5"), USED_ON, pat)
    status_url = f"{BASE}/lots/{lipo_lot.pk}/status"

    held = post(client_for(pat), status_url, {"action": "quarantine", "reason": "Cloudy vial."})
    refused = post(client_for(asha), status_url, {"action": "recall", "reason": "Asha says."})

    assert held.status_code == 200
    assert held.json()["status"] == "quarantined"
    assert held.json()["usable_today"] == {
        "ok": False,
        "reason": "Lot L001 of Lipo PC is quarantined: Cloudy vial.",
    }
    assert refused.status_code == 403
    assert Lot.objects.get().status == LotStatus.QUARANTINED
    assert not RecallContact.objects.exists()

    recalled = post(client_for(pat), status_url, {"action": "recall", "reason": "Not sterile."})
    contacts = client_for(asha).get(f"{BASE}/lots/{lipo_lot.pk}/contacts").json()

    assert recalled.json()["status"] == "recalled"
    assert [(c["patient_id"], c["patient_name"], c["status"]) for c in contacts] == [
        (patient_a.pk, "Camille Rousseau", "to_contact")
    ]
    listed = AuditEvent.objects.filter(actor=asha, action=AuditAction.VIEW).get()
    assert listed.detail == {"listed_patient_ids": [patient_a.pk]}

    contact_url = f"{BASE}/lots/{lipo_lot.pk}/contacts/{contacts[0]['id']}"
    no_note = post(client_for(asha), contact_url, {"status": "contacted", "note": " "})
    pending = post(client_for(asha), contact_url, {"status": "to_contact", "note": "Later."})
    assert (no_note.status_code, pending.status_code) == (422, 422)
    assert no_note.json() == {
        "detail": "Note what was said or what was tried, for whoever follows up."
    }
    assert RecallContact.objects.get().status == ContactStatus.TO_CONTACT

    done = post(client_for(asha), contact_url, {"status": "contacted", "note": "Phoned, fine."})

    assert done.status_code == 200
    assert done.json() | {"id": 0, "created_at": "", "updated_at": ""} == {
        "id": 0,
        "patient_id": patient_a.pk,
        "patient_name": "Camille Rousseau",
        "status": "contacted",
        "note": "Phoned, fine.",
        "created_at": "",
        "updated_by_id": asha.pk,
        "updated_at": "",
    }
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type="formulas.RecallContact")
    assert (event.actor, event.detail["status"]) == (asha, "contacted")

    final = post(client_for(pat), status_url, {"action": "release", "reason": "Changed mind."})
    assert final.status_code == 422
    assert final.json() == {"detail": "Lot L001 is recalled; it cannot become active."}
    assert Lot.objects.get().status == LotStatus.RECALLED


def test_a_status_change_needs_a_reason(client_for: ClientFor, pat: User, lipo_lot: Lot) -> None:
    response = post(
        client_for(pat), f"{BASE}/lots/{lipo_lot.pk}/status", {"action": "recall", "reason": ""}
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": "Give the reason, for the record and for whoever reads it later."
    }
    assert Lot.objects.get().status == LotStatus.ACTIVE


def test_the_trace_names_who_received_the_lot_and_is_audited(
    client_for: ClientFor, pat: User, lipo_lot: Lot, lipolytic: Formula, patient_a: Patient
) -> None:
    version = lipolytic.current_version
    services.record_lot_use(
        lipo_lot, patient_a, Decimal("2"), USED_ON, pat, formula_version=version, reference="C-1"
    )

    response = client_for(pat).get(f"{BASE}/lots/{lipo_lot.pk}/trace", REMOTE_ADDR="10.0.0.7")

    assert response.status_code == 200
    assert [row | {"use_id": 0} for row in response.json()] == [
        {
            "use_id": 0,
            "patient_id": patient_a.pk,
            "patient_name": "Camille Rousseau",
            "used_on": "2026-03-02T10:00:00Z",
            "volume_ml": "2",
            "units": 1,
            "formula_version_id": version.pk,
            "formula_version_number": 1,
            "reference": "C-1",
        }
    ]
    event = AuditEvent.objects.get(action=AuditAction.VIEW, object_type="formulas.Lot")
    assert (event.actor, event.ip_address) == (pat, "10.0.0.7")
    assert event.detail == {"listed_patient_ids": [patient_a.pk]}


# --- formulas -----------------------------------------------------------------------------


def formula_body(lipo: Product, ingredients: Ingredients, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Lipolytic abdomen",
        "notes": "For the lower abdomen.",
        "indications": ["localised-fat"],
        "areas": ["abdomen"],
        "total_volume_ml": "10",
        "components": [
            {"product_id": lipo.pk, "volume_ml": "4"},
            {
                "ingredient_id": ingredients.lidocaine.pk,
                "concentration": "2",
                "unit": "%",
                "proportion": "10",
            },
        ],
        "version_notes": "First mix.",
    } | fields


def test_a_formula_is_written_and_read_with_its_composition(
    client_for: ClientFor, pat: User, lipo: Product, ingredients: Ingredients
) -> None:
    client = client_for(pat)

    created = post(client, f"{BASE}/formulas", formula_body(lipo, ingredients))
    formula_id = created.json()["id"]
    version = client.get(f"{BASE}/formulas/{formula_id}/versions/1").json()

    assert created.status_code == 201
    assert created.json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "name": "Lipolytic abdomen",
        "notes": "For the lower abdomen.",
        "author_id": pat.pk,
        "author_name": "Pat Practitioner",
        "created_at": "",
        "indications": ["localised-fat"],
        "areas": ["abdomen"],
        "current_version": 1,
    }
    assert client.get(f"{BASE}/formulas/{formula_id}").json() == created.json()
    assert [c["name"] for c in version["components"]] == ["Lipo PC", "Lidocaine"]
    assert version["components"][1] | {"ingredient_id": 0} == {
        "position": 1,
        "product_id": None,
        "ingredient_id": 0,
        "name": "Lidocaine",
        "concentration": "2",
        "unit": "%",
        "volume_ml": None,
        "proportion": "10",
    }
    # 4 mL of 5 % and 2.5 % in 10 mL; 1 mL (10 %) of 2 % lidocaine.
    assert [
        (c["ingredient_name"], c["concentration"], c["unit"]) for c in version["composition"]
    ] == [
        ("Lidocaine", "0.2", "%"),
        ("Phosphatidylcholine", "2", "%"),
        ("Sodium deoxycholate", "1", "%"),
    ]
    assert (version["number"], version["total_volume_ml"], version["used_at"]) == (1, "10", None)
    assert [
        f["name"] for f in client.get(f"{BASE}/formulas", {"indication": "localised-fat"}).json()
    ] == ["Lipolytic abdomen"]
    assert client.get(f"{BASE}/formulas", {"indication": "alopecia"}).json() == []


def test_a_formula_is_refused_with_the_reason_and_nothing_is_written(
    client_for: ClientFor,
    pat: User,
    asha: User,
    lipo: Product,
    ingredients: Ingredients,
    hyaluronic_b: Product,
) -> None:
    client = client_for(pat)

    unknown = post(
        client, f"{BASE}/formulas", formula_body(lipo, ingredients, indications=["warts"])
    )
    foreign = post(
        client,
        f"{BASE}/formulas",
        formula_body(
            lipo, ingredients, components=[{"product_id": hyaluronic_b.pk, "volume_ml": "1"}]
        ),
    )
    overfull = post(
        client,
        f"{BASE}/formulas",
        formula_body(lipo, ingredients, total_volume_ml="3"),
    )
    assistant = post(client_for(asha), f"{BASE}/formulas", formula_body(lipo, ingredients))

    assert [r.status_code for r in (unknown, foreign, overfull, assistant)] == [422, 422, 422, 403]
    assert unknown.json() == {"detail": "No indication has the code 'warts'."}
    assert foreign.json() == {"detail": f"No product of this clinic has the id {hyaluronic_b.pk}."}
    assert overfull.json() == {
        "detail": "The components add up to 4.3 mL, more than the total volume of 3 mL."
    }
    assert not Formula.objects.exists()


def test_editing_a_used_recipe_makes_version_2_and_version_1_stays(
    client_for: ClientFor,
    pat: User,
    lipo: Product,
    carnitine: Product,
    lipo_lot: Lot,
    lipolytic: Formula,
    patient_a: Patient,
) -> None:
    client = client_for(pat)
    url = f"{BASE}/formulas/{lipolytic.pk}/recipe"
    body = {
        "components": [
            {"product_id": lipo.pk, "volume_ml": "2"},
            {"product_id": carnitine.pk, "volume_ml": "1.5"},
        ],
        "total_volume_ml": "4",
    }

    in_place = put(client, url, body)
    services.record_lot_use(
        lipo_lot, patient_a, Decimal(2), USED_ON, pat, formula_version=lipolytic.current_version
    )
    new = put(client, url, body | {"total_volume_ml": "5", "notes": "More diluent."})
    unchanged = put(client, url, body | {"total_volume_ml": "5"})

    assert in_place.status_code == 200
    assert (in_place.json()["created"], in_place.json()["version"]["number"]) == (False, 1)
    assert (new.json()["created"], new.json()["version"]["number"]) == (True, 2)
    assert new.json()["version"]["notes"] == "More diluent."
    assert (unchanged.json()["created"], unchanged.json()["version"]["number"]) == (False, 2)
    versions = client.get(f"{BASE}/formulas/{lipolytic.pk}/versions").json()
    assert [(v["number"], v["total_volume_ml"], v["used_at"] is None) for v in versions] == [
        (1, "4", False),
        (2, "5", True),
    ]
    first = client.get(f"{BASE}/formulas/{lipolytic.pk}/versions/1").json()
    assert [c["volume_ml"] for c in first["components"]] == ["2", "1.5"]
    assert client.get(f"{BASE}/formulas/{lipolytic.pk}").json()["current_version"] == 2
    assert client.get(f"{BASE}/formulas/{lipolytic.pk}/versions/3").status_code == 404


def test_a_refused_recipe_changes_nothing(
    client_for: ClientFor, pat: User, lipo: Product, lipolytic: Formula
) -> None:
    before = list(FormulaVersion.objects.values())

    response = put(
        client_for(pat),
        f"{BASE}/formulas/{lipolytic.pk}/recipe",
        {"components": [{"product_id": lipo.pk, "volume_ml": "0"}], "total_volume_ml": "4"},
    )

    assert response.status_code == 422
    assert response.json() == {
        "detail": "Component 1 (Lipo PC): The volume of component 1 must be above zero mL "
        "(got 0 mL)."
    }
    assert list(FormulaVersion.objects.values()) == before


def test_a_formulas_details_change_in_place(
    client_for: ClientFor, pat: User, lipolytic: Formula, catalogue: None
) -> None:
    client = client_for(pat)
    body = {"name": "Abdomen", "notes": "", "indications": ["cellulite"], "areas": ["thighs"]}

    updated = put(client, f"{BASE}/formulas/{lipolytic.pk}", body)
    clash = Formula.objects.create(clinic=lipolytic.clinic, name="Other", author=pat)
    taken = put(client, f"{BASE}/formulas/{clash.pk}", body)

    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["indications"], updated.json()["areas"]) == (
        "Abdomen",
        ["cellulite"],
        ["thighs"],
    )
    assert updated.json()["current_version"] == 1
    assert taken.status_code == 422
    assert taken.json() == {"detail": "This clinic already has a formula named Abdomen."}
    assert Formula.objects.get(pk=clash.pk).name == "Other"


def test_allergens_of_a_version_for_a_patient_are_audited(
    client_for: ClientFor,
    pat: User,
    lipo: Product,
    ingredients: Ingredients,
    patient_a: Patient,
    patient_b: Patient,
) -> None:
    client = client_for(pat)
    formula_id = post(client, f"{BASE}/formulas", formula_body(lipo, ingredients)).json()["id"]
    allergy = patient_services.add_allergy(
        patient_a, substance="Xylocaïne spray", actor=pat, request=None
    )
    url = f"{BASE}/formulas/{formula_id}/versions/1/allergens"

    found = client.get(url, {"patient_id": patient_a.pk})
    other_clinic = client.get(url, {"patient_id": patient_b.pk})

    assert found.status_code == 200
    assert found.json() == [
        {
            "allergy_id": allergy.pk,
            "substance": "Xylocaïne spray",
            "ingredient_id": ingredients.lidocaine.pk,
            "ingredient_name": "Lidocaine",
            "matched_name": "xylocaine",
        }
    ]
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, actor=pat, patient_id=patient_a.pk
    ).exists()
    assert other_clinic.status_code == 404
    assert not AuditEvent.objects.filter(patient_id=patient_b.pk, actor=pat).exists()


# --- who may -------------------------------------------------------------------------------


@pytest.fixture
def library(pat: User, lipo_lot: Lot, lipolytic: Formula, patient_a: Patient) -> dict[str, int]:
    """One of each object of clinic A, a recalled lot with its contact among them."""
    services.record_lot_use(lipo_lot, patient_a, Decimal(1), USED_ON, pat)
    services.recall_lot(lipo_lot, "Manufacturer recall.", pat)
    return {
        "product": lipo_lot.product_id,
        "lot": lipo_lot.pk,
        "formula": lipolytic.pk,
        "contact": RecallContact.objects.get().pk,
        "patient": patient_a.pk,
    }


def every_operation(ids: dict[str, int]) -> list[tuple[str, str, dict[str, Any] | None]]:
    lot = f"{BASE}/lots/{ids['lot']}"
    formula = f"{BASE}/formulas/{ids['formula']}"
    return [
        ("get", f"{BASE}/products/{ids['product']}", None),
        (
            "post",
            f"{BASE}/products/{ids['product']}/lots",
            {
                "lot_number": "X",
                "expiry_date": "2030-01-01",
                "received_on": "2026-01-01",
                "received_quantity": 1,
            },
        ),
        ("get", lot, None),
        ("post", f"{lot}/status", {"action": "quarantine", "reason": "Why."}),
        ("get", f"{lot}/trace", None),
        ("get", f"{lot}/contacts", None),
        ("post", f"{lot}/contacts/{ids['contact']}", {"status": "contacted", "note": "Done."}),
        ("get", formula, None),
        ("put", formula, {"name": "Renamed", "indications": [], "areas": []}),
        ("put", f"{formula}/recipe", {"components": [], "total_volume_ml": "1"}),
        ("get", f"{formula}/versions", None),
        ("get", f"{formula}/versions/1", None),
        ("get", f"{formula}/versions/1/allergens?patient_id={ids['patient']}", None),
    ]


def call(client: Client, method: str, url: str, body: dict[str, Any] | None) -> Any:
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, content_type="application/json")


def test_another_clinic_gets_404_and_changes_nothing(
    client_for: ClientFor, bob: User, library: dict[str, int]
) -> None:
    client = client_for(bob)
    lot = Lot.objects.values().get()

    statuses = {call(client, *operation).status_code for operation in every_operation(library)}

    assert statuses == {404}
    assert Lot.objects.values().get() == lot
    assert Formula.objects.get().name == "Lipolytic abdomen"
    assert RecallContact.objects.get().status == ContactStatus.TO_CONTACT
    assert not AuditEvent.objects.filter(actor=bob).exclude(action=AuditAction.LOGIN).exists()


def test_a_researcher_reads_nothing(
    client_for: ClientFor, rhea: User, library: dict[str, int]
) -> None:
    client = client_for(rhea)
    lists = ["ingredients", "products", "lots", "formulas"]

    statuses = {call(client, *operation).status_code for operation in every_operation(library)}
    statuses |= {client.get(f"{BASE}/{name}").status_code for name in lists}

    assert statuses == {403}


def test_an_assistant_manages_stock_and_contacts_but_not_formulas_or_lot_status(
    client_for: ClientFor, asha: User, library: dict[str, int]
) -> None:
    allowed = {
        (method, url.rsplit("/", 1)[-1]): call(client_for(asha), method, url, body).status_code
        for method, url, body in every_operation(library)
        if method != "get"
    }

    assert allowed == {
        ("post", "lots"): 201,
        ("post", "status"): 403,
        ("post", str(library["contact"])): 200,
        ("put", str(library["formula"])): 403,
        ("put", "recipe"): 403,
    }
