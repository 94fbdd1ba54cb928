"""A bookable practitioner (pat, verified licence, weekday hours with lunch), a room, a
patient and a standard course plan in clinic A; bob is bookable in clinic B."""

from __future__ import annotations

import pytest

from mesoclinic.catalogue.models import Indication, Protocol
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses import plans
from mesoclinic.courses.models import CoursePlan, Room
from mesoclinic.courses.testing import make_bookable
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient


@pytest.fixture
def bookable_pat(pat: User, alice: User) -> User:
    return make_bookable(pat, alice)


@pytest.fixture
def room(clinic_a: Clinic) -> Room:
    return Room.objects.create(clinic=clinic_a, name="Room 1")


@pytest.fixture
def patient(asha: User) -> Patient:
    return make_patient(asha)


@pytest.fixture
def plan(catalogue: None, bookable_pat: User, patient: Patient) -> CoursePlan:
    return plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code="cellulite"),
        practitioner=bookable_pat,
        protocol=Protocol.objects.get(code="default"),
        actor=bookable_pat,
    )
