"""Clinic A's courses, pat bookable: a cellulite course on the thighs (primary scale: the
Hexsel Cellulite Severity Scale) and a localised-fat course (circumference at a landmark)."""

from __future__ import annotations

from typing import Any

import pytest

from mesoclinic.clinics.models import User
from mesoclinic.courses.models import CoursePlan
from mesoclinic.courses.testing import make_bookable
from mesoclinic.formulas.models import FormulaVersion
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient
from mesoclinic.screening.tests.conftest import compounded, make_plan


@pytest.fixture(autouse=True)
def fast_password_hasher(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def bookable_pat(pat: User, alice: User) -> User:
    return make_bookable(pat, alice)


@pytest.fixture
def patient(asha: User) -> Patient:
    return make_patient(asha)


@pytest.fixture
def version(catalogue: None, bookable_pat: User) -> FormulaVersion:
    return compounded(bookable_pat, "Thighs 1", ("L-carnitine", "10"), ("Caffeine", "2"))


@pytest.fixture
def thigh_plan(patient: Patient, bookable_pat: User, version: FormulaVersion) -> CoursePlan:
    return make_plan(patient, bookable_pat, "cellulite", ["thighs"], version)


@pytest.fixture
def fat_plan(patient: Patient, bookable_pat: User, version: FormulaVersion) -> CoursePlan:
    return make_plan(patient, bookable_pat, "localised-fat", ["thighs"], version)
