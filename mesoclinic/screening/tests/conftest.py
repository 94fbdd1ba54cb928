"""Clinic A's hair course: a compounded minoxidil + finasteride mix for alopecia at the
scalp, and a cellulite course on the thighs with no prescription drug; pat is bookable."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses import booking, plans
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.courses.testing import make_bookable
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import FormulaVersion, Ingredient
from mesoclinic.formulas.services import ComponentSpec
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient


def shared(name: str) -> Ingredient:
    return Ingredient.objects.get(clinic__isnull=True, name=name)


def compounded(pat: User, name: str, *parts: tuple[str, str]) -> FormulaVersion:
    assert pat.clinic is not None
    formula = formulas.create_formula(
        clinic=pat.clinic,
        name=name,
        author=pat,
        components=[
            ComponentSpec(
                ingredient=shared(ingredient),
                volume_ml=Decimal(1),
                concentration=Decimal(percent),
                unit="%",
            )
            for ingredient, percent in parts
        ],
        total_volume_ml=Decimal(4),
        actor=pat,
    )
    return formula.current_version


def next_weekday(clinic: Clinic, days: int) -> date:
    day = clinic.today() + timedelta(days=days)
    return day + timedelta(days=(-day.weekday()) % 7)  # the Monday on or after


def local(clinic: Clinic, day: date, hour: int = 10) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=clinic.tz)


@pytest.fixture
def bookable_pat(pat: User, alice: User) -> User:
    return make_bookable(pat, alice)


@pytest.fixture
def patient(asha: User) -> Patient:
    return make_patient(asha)


@pytest.fixture
def hair_version(catalogue: None, bookable_pat: User) -> FormulaVersion:
    return compounded(
        bookable_pat, "Hair 1", ("Minoxidil", "0.5"), ("Finasteride", "0.05"), ("Biotin", "0.5")
    )


@pytest.fixture
def cellulite_version(catalogue: None, bookable_pat: User) -> FormulaVersion:
    return compounded(bookable_pat, "Thighs 1", ("L-carnitine", "10"), ("Caffeine", "2"))


def make_plan(
    patient: Patient, practitioner: User, indication: str, areas: list[str], version: FormulaVersion
) -> CoursePlan:
    return plans.create_plan(
        patient=patient,
        indication=Indication.objects.get(code=indication),
        practitioner=practitioner,
        protocol=Protocol.objects.get(code="default"),
        areas=BodyArea.objects.filter(code__in=areas),
        formula_version=version,
        actor=practitioner,
    )


@pytest.fixture
def hair_plan(patient: Patient, bookable_pat: User, hair_version: FormulaVersion) -> CoursePlan:
    return make_plan(patient, bookable_pat, "alopecia", ["scalp"], hair_version)


@pytest.fixture
def thigh_plan(
    patient: Patient, bookable_pat: User, cellulite_version: FormulaVersion
) -> CoursePlan:
    return make_plan(patient, bookable_pat, "cellulite", ["thighs"], cellulite_version)


def book_session(plan: CoursePlan, starts_at: datetime, actor: User) -> Appointment:
    return booking.book(
        patient=plan.patient,
        practitioner=plan.practitioner,
        starts_at=starts_at,
        minutes=30,
        actor=actor,
        plan=plan,
        session_number=1,
    )


@pytest.fixture
def session_day(clinic_a: Clinic) -> date:
    return next_weekday(clinic_a, 21)


@pytest.fixture
def thigh_session(thigh_plan: CoursePlan, session_day: date, asha: User) -> Appointment:
    return book_session(thigh_plan, local(thigh_plan.clinic, session_day), asha)


@pytest.fixture
def hair_session(hair_plan: CoursePlan, session_day: date, asha: User) -> Appointment:
    return book_session(hair_plan, local(hair_plan.clinic, session_day), asha)


def soonest_weekday(clinic: Clinic) -> date:
    """Tomorrow, or the Monday after a weekend: at most three days ahead."""
    day = clinic.today() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


@pytest.fixture
def soon_session(thigh_plan: CoursePlan, asha: User) -> Appointment:
    clinic = thigh_plan.clinic
    return book_session(thigh_plan, local(clinic, soonest_weekday(clinic)), asha)
