"""A small formula library of the named clinics, built through the services.

Clinic A (Paris) stocks a lipolytic product (phosphatidylcholine 5 % and deoxycholate
2.5 %) and L-carnitine ampoules; clinic B (London) stocks a hyaluronic acid vial.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from mesoclinic.clinics.models import User
from mesoclinic.formulas import services
from mesoclinic.formulas.models import Formula, Ingredient, Lot, Presentation, Product
from mesoclinic.formulas.services import ComponentSpec, Content
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient


@dataclass
class Ingredients:
    phosphatidylcholine: Ingredient
    deoxycholate: Ingredient
    carnitine: Ingredient
    hyaluronic_acid: Ingredient
    lidocaine: Ingredient


def shared(name: str) -> Ingredient:
    return Ingredient.objects.get(clinic__isnull=True, name=name)


@pytest.fixture
def ingredients(catalogue: None) -> Ingredients:
    """Shared ingredients of data/ingredients.toml, which the catalogue loads; the tests
    rely on some of their synonyms (PPC, lecithin, Lignocaine, Xylocaïne, Levocarnitine)."""
    return Ingredients(
        phosphatidylcholine=shared("Phosphatidylcholine"),
        deoxycholate=shared("Sodium deoxycholate"),
        carnitine=shared("L-carnitine"),
        hyaluronic_acid=shared("Hyaluronic acid"),
        lidocaine=shared("Lidocaine"),
    )


@pytest.fixture
def lipo(pat: User, ingredients: Ingredients) -> Product:
    assert pat.clinic is not None
    return services.create_product(
        clinic=pat.clinic,
        name="Lipo PC",
        manufacturer="Laboratoires Exemple",
        presentation=Presentation.VIAL,
        volume_ml=Decimal(5),
        contents=[
            Content(ingredients.phosphatidylcholine, Decimal(5), "%"),
            Content(ingredients.deoxycholate, Decimal("2.5"), "%"),
        ],
        regulatory_status="Not authorised for injection in the US.",
        actor=pat,
    )


@pytest.fixture
def carnitine(pat: User, ingredients: Ingredients) -> Product:
    assert pat.clinic is not None
    return services.create_product(
        clinic=pat.clinic,
        name="Carnitine 1 g",
        manufacturer="Pharma Exemple",
        presentation=Presentation.AMPOULE,
        volume_ml=Decimal(5),
        contents=[Content(ingredients.carnitine, Decimal(200), "mg/mL")],
        actor=pat,
    )


@pytest.fixture
def hyaluronic_b(bob: User, ingredients: Ingredients) -> Product:
    assert bob.clinic is not None
    return services.create_product(
        clinic=bob.clinic,
        name="HA Glow",
        manufacturer="Harbour Labs",
        presentation=Presentation.VIAL,
        volume_ml=Decimal("2.5"),
        contents=[Content(ingredients.hyaluronic_acid, Decimal("0.5"), "%")],
        actor=bob,
    )


def receive(product: Product, actor: User, number: str = "L001", **fields: object) -> Lot:
    values: dict[str, object] = {
        "lot_number": number,
        "expiry_date": date(2027, 6, 30),
        "received_on": date(2026, 1, 5),
        "received_quantity": 10,
        "supplier": "Grossiste Exemple",
    }
    return services.receive_lot(product=product, actor=actor, **(values | fields))  # type: ignore[arg-type]


@pytest.fixture
def lipo_lot(lipo: Product, pat: User) -> Lot:
    return receive(lipo, pat)


@pytest.fixture
def lipolytic(pat: User, lipo: Product, carnitine: Product) -> Formula:
    """2 mL of Lipo PC and 2 mL of carnitine, 4 mL in all."""
    assert pat.clinic is not None
    return services.create_formula(
        clinic=pat.clinic,
        name="Lipolytic abdomen",
        author=pat,
        components=[
            ComponentSpec(product=lipo, volume_ml=Decimal(2)),
            ComponentSpec(product=carnitine, volume_ml=Decimal(2)),
        ],
        total_volume_ml=Decimal(4),
        actor=pat,
    )


@pytest.fixture
def patient_a(asha: User) -> Patient:
    return make_patient(asha)


@pytest.fixture
def patient_b(bob: User) -> Patient:
    return make_patient(bob, given_name="Oliver", family_name="Hughes")
