"""Patients of the named clinics, built through the services as staff would build them."""

from __future__ import annotations

from datetime import date

import pytest

from mesoclinic.clinics.models import User
from mesoclinic.patients import services
from mesoclinic.patients.models import Patient


def make_patient(actor: User, **fields: object) -> Patient:
    values: dict[str, object] = {
        "given_name": "Camille",
        "family_name": "Rousseau",
        "date_of_birth": date(1980, 3, 14),
        "phone": "+33 6 12 34 56 78",
        "email": "camille.rousseau@example.org",
        "notes": "Prefers morning appointments.",
    }
    assert actor.clinic is not None
    patient = Patient(clinic=actor.clinic, **(values | fields))
    return services.save_patient(patient, actor=actor, request=None)


@pytest.fixture
def patient_a(asha: User) -> Patient:
    """Camille Rousseau, a patient of clinic A."""
    return make_patient(asha)


@pytest.fixture
def patient_b(bob: User) -> Patient:
    """A patient of clinic B, whom clinic A's staff must never reach."""
    return make_patient(bob, given_name="Oliver", family_name="Hughes", phone="07700 900123")
