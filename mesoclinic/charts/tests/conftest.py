"""A face course of clinic A ready to chart: the patient's consent signed, a session that
began 20 minutes ago with pat (practitioner, licensed), and a lot of carnitine in stock."""

from __future__ import annotations

import pytest

from mesoclinic.charts import services
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session, stock_lot
from mesoclinic.clinics.models import User
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.courses.testing import make_bookable
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
def session(face_plan: CoursePlan, asha: User) -> Appointment:
    return ready_session(face_plan, asha)


@pytest.fixture
def lot(bookable_pat: User) -> Lot:
    assert bookable_pat.clinic is not None
    return stock_lot(bookable_pat.clinic, bookable_pat)


@pytest.fixture
def chart(session: Appointment, bookable_pat: User) -> Chart:
    return services.start_chart(session, bookable_pat)
