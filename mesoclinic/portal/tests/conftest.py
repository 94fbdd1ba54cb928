"""Two patients of clinic A with portal accounts: ``patient`` (who has the face course of
the follow-up tests, pat injecting) and ``other_patient`` (who must never see anything of
the first). Fixtures particular to one part of the portal live in that part's test module."""

from __future__ import annotations

import pytest
from django.test import Client

from mesoclinic.clinics.models import User
from mesoclinic.followup.tests.conftest import (  # noqa: F401 (fixtures)
    bookable_pat,
    chart,
    day_old_chart,
    face_plan,
    face_version,
    lot,
    old_chart,
)
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient
from mesoclinic.portal.testing import portal_client, portal_user


@pytest.fixture
def patient(asha: User) -> Patient:
    """Camille Rousseau, the face course's patient."""
    return make_patient(asha)


@pytest.fixture
def patient_user(patient: Patient) -> User:
    return portal_user(patient)


@pytest.fixture
def portal(client: Client, patient: Patient, patient_user: User) -> Client:
    """Signed in to the portal as ``patient``."""
    return portal_client(client, patient)


@pytest.fixture
def other_patient(asha: User) -> Patient:
    return make_patient(
        asha, given_name="Noor", family_name="Haddad", email="noor@example.org", phone=""
    )


@pytest.fixture
def other_portal(other_patient: Patient) -> Client:
    """Signed in to the portal as ``other_patient``, on a client of its own."""
    return portal_client(Client(), other_patient)
