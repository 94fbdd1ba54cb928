"""Course plans to consent to, built through the services.

In clinic A: Camille Rousseau (English) has a localised-fat course on the abdomen and thighs
with a lipolytic mix (phosphatidylcholine, sodium deoxycholate, L-carnitine); Hélène Lefèvre
(French) has a hair-loss course on the scalp with a minoxidil and biotin mix. In clinic B, a
patient of bob's has a cellulite course, which clinic A must never reach.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses import plans
from mesoclinic.courses.models import CoursePlan
from mesoclinic.courses.testing import make_bookable
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import Formula, Ingredient
from mesoclinic.formulas.services import ComponentSpec
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient


def shared(name: str) -> Ingredient:
    return Ingredient.objects.get(clinic__isnull=True, name=name)


def make_formula(
    clinic: Clinic, author: User, name: str, contents: list[tuple[str, str, str]]
) -> Formula:
    """A formula of shared ingredients, each (name, concentration, unit), 1 mL of each in a
    total of 4 mL."""
    return formulas.create_formula(
        clinic=clinic,
        name=name,
        author=author,
        components=[
            ComponentSpec(
                ingredient=shared(ingredient),
                volume_ml=Decimal(1),
                concentration=Decimal(concentration),
                unit=unit,
            )
            for ingredient, concentration, unit in contents
        ],
        total_volume_ml=Decimal(4),
        actor=author,
    )


def make_plan(
    patient: Patient,
    practitioner: User,
    indication: str,
    areas: list[str],
    formula: Formula | None,
) -> CoursePlan:
    return plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code=indication),
        practitioner=practitioner,
        protocol=Protocol.objects.get(code="default"),
        areas=BodyArea.objects.filter(code__in=areas),
        formula_version=formula.current_version if formula is not None else None,
        actor=practitioner,
    )


@pytest.fixture(autouse=True)
def fast_passwords(settings: object) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # type: ignore[attr-defined]


@pytest.fixture
def practitioner(catalogue: None, pat: User, alice: User) -> User:
    return make_bookable(pat, alice)


@pytest.fixture
def lipolytic(practitioner: User) -> Formula:
    assert practitioner.clinic is not None
    return make_formula(
        practitioner.clinic,
        practitioner,
        "Lipolytic abdomen",
        [
            ("Phosphatidylcholine", "5", "%"),
            ("Sodium deoxycholate", "2.5", "%"),
            ("L-carnitine", "200", "mg/mL"),
        ],
    )


@pytest.fixture
def hair_mix(practitioner: User) -> Formula:
    assert practitioner.clinic is not None
    return make_formula(
        practitioner.clinic,
        practitioner,
        "Cuir chevelu",
        [("Minoxidil", "2", "%"), ("Biotin", "5", "mg/mL")],
    )


@pytest.fixture
def camille(asha: User) -> Patient:
    return make_patient(asha)


@pytest.fixture
def helene(asha: User) -> Patient:
    return make_patient(
        asha,
        given_name="Hélène",
        family_name="Lefèvre-Dupré",
        email="helene.lefevre@example.org",
        preferred_language="fr",
    )


@pytest.fixture
def plan(camille: Patient, practitioner: User, lipolytic: Formula) -> CoursePlan:
    return make_plan(camille, practitioner, "localised-fat", ["abdomen", "thighs"], lipolytic)


@pytest.fixture
def french_plan(helene: Patient, practitioner: User, hair_mix: Formula) -> CoursePlan:
    return make_plan(helene, practitioner, "alopecia", ["scalp"], hair_mix)


@pytest.fixture
def other_plan(catalogue: None, bob: User) -> CoursePlan:
    patient = make_patient(bob, given_name="Oliver", family_name="Hughes")
    return make_plan(patient, bob, "cellulite", ["thighs"], None)
