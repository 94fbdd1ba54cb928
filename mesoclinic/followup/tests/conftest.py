"""A face course of clinic A with a lot in stock, as the chart tests have it, and signed
sessions of it to follow up: pat (practitioner, licensed) gave them."""

from __future__ import annotations

import pytest

from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import stock_lot
from mesoclinic.clinics.models import User
from mesoclinic.courses.models import CoursePlan
from mesoclinic.courses.testing import make_bookable
from mesoclinic.followup.testing import hours_ago, signed_chart
from mesoclinic.formulas.models import FormulaVersion, Lot
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient
from mesoclinic.screening.tests.conftest import compounded, make_plan


@pytest.fixture
def bookable_pat(pat: User, alice: User) -> User:
    return make_bookable(pat, alice)


@pytest.fixture
def patient(asha: User) -> Patient:
    return make_patient(asha)


@pytest.fixture
def face_version(catalogue: None, bookable_pat: User) -> FormulaVersion:
    return compounded(bookable_pat, "Glow 1", ("Hyaluronic acid", "0.5"), ("Biotin", "0.5"))


@pytest.fixture
def face_plan(patient: Patient, bookable_pat: User, face_version: FormulaVersion) -> CoursePlan:
    return make_plan(
        patient, bookable_pat, "wrinkles-and-lines", ["forehead", "cheeks"], face_version
    )


@pytest.fixture
def lot(bookable_pat: User) -> Lot:
    assert bookable_pat.clinic is not None
    return stock_lot(bookable_pat.clinic, bookable_pat)


@pytest.fixture
def chart(face_plan: CoursePlan, asha: User, lot: Lot) -> Chart:
    """Signed; the session ended 5 minutes ago."""
    return signed_chart(face_plan, asha, lot)


@pytest.fixture
def day_old_chart(face_plan: CoursePlan, asha: User, lot: Lot) -> Chart:
    """Signed; the session (number 2) ended 30 hours ago."""
    return signed_chart(face_plan, asha, lot, ended_at=hours_ago(30), session_number=2)


@pytest.fixture
def old_chart(face_plan: CoursePlan, asha: User, lot: Lot) -> Chart:
    """Signed; the session (number 3) ended 80 hours ago."""
    return signed_chart(face_plan, asha, lot, ended_at=hours_ago(80), session_number=3)
