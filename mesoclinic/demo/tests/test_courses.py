"""The demo's schedule: courses at every stage in each clinic, bookings that respect hours,
leave, licences and each other, and the refusal an expired licence meets."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import date, datetime, time, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from mesoclinic.clinics.models import Clinic, Licence, User
from mesoclinic.courses import booking, plans
from mesoclinic.courses.models import (
    FREEING_STATUS,
    Appointment,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    Leave,
    WorkingHours,
)
from mesoclinic.demo.generator import DEFAULT_PATIENTS, DEFAULT_SEED, build_demo
from mesoclinic.demo.tests.test_generator import TODAY

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


@pytest.fixture
def demo(catalogue: None) -> None:
    build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)


def local_day(appointment: Appointment) -> date:
    return timezone.localdate(appointment.starts_at, appointment.clinic.tz)


def stage(plan: CoursePlan) -> str:
    """What the demo means by each stage, read from the plan and its appointments."""
    statuses = [a.status for a in plan.appointments.all()]
    future = [a for a in plan.appointments.all() if local_day(a) >= TODAY]
    if plan.status == CourseStatus.PLANNED:
        if not statuses:
            return "planned"
        booked = statuses == [AppointmentStatus.BOOKED] * plan.sessions_planned
        return "booked" if booked and len(future) == len(statuses) else "?"
    return str(plan.status)


@pytest.mark.usefixtures("demo")
def test_each_clinic_has_courses_at_every_stage() -> None:
    for clinic in Clinic.objects.all():
        clinic_plans = CoursePlan.objects.filter(clinic=clinic)
        stages = defaultdict(list)
        for plan in clinic_plans:
            stages[stage(plan)].append(plan)
        assert set(stages) == {"planned", "booked", "active", "completed", "stopped"}, clinic

        for booked in stages["booked"]:
            first = booked.appointments.order_by("starts_at").first()
            assert first is not None
            assert 0 < (local_day(first) - TODAY).days <= 14
        for active in stages["active"]:
            assert active.appointments.filter(status=AppointmentStatus.ATTENDED).exists()
        for completed in stages["completed"]:
            assert not completed.appointments.exclude(status=AppointmentStatus.ATTENDED)
            assert completed.maintenance.count() == completed.maintenance_per_year
        for stopped in stages["stopped"]:
            assert stopped.status_reason
            assert stopped.appointments.filter(status=AppointmentStatus.CANCELLED).exists()
            assert not stopped.appointments.filter(status=AppointmentStatus.BOOKED).exists()

        appointments = Appointment.objects.filter(clinic=clinic)
        assert appointments.filter(status=AppointmentStatus.NO_SHOW).exists()
        assert appointments.exclude(move_reason="").filter(status=AppointmentStatus.BOOKED)
        assert plans.due_for_maintenance(clinic_plans, TODAY).exists()
        assert 2 <= clinic.rooms.count() <= 3
        assert clinic_plans.filter(concurrent__isnull=False).exists()
        for plan in clinic_plans.exclude(formula_version=None):
            assert plan.formula_version is not None
            assert plan.formula_version.formula.indications.filter(pk=plan.indication_id)
    assert Leave.objects.count() == 1


@pytest.mark.usefixtures("demo")
def test_bookings_respect_hours_leave_the_interval_and_each_other() -> None:
    holding = list(
        Appointment.objects.exclude(status=FREEING_STATUS).select_related(
            "clinic", "practitioner", "plan"
        )
    )
    assert len(holding) > 40
    for key in ("practitioner_id", "room_id"):
        by_holder = defaultdict(list)
        for appointment in holding:
            if getattr(appointment, key) is not None:
                by_holder[getattr(appointment, key)].append(appointment)
        for appointments in by_holder.values():
            appointments.sort(key=lambda a: a.starts_at)
            for earlier, later in itertools.pairwise(appointments):
                assert earlier.ends_at <= later.starts_at, (earlier, later)

    for appointment in holding:
        tz = appointment.clinic.tz
        starts = timezone.localtime(appointment.starts_at, tz)
        ends = timezone.localtime(appointment.ends_at, tz)
        blocks = WorkingHours.objects.filter(
            practitioner=appointment.practitioner, weekday=starts.weekday()
        )
        assert any(b.starts <= starts.time() and ends.time() <= b.ends for b in blocks)
        assert not Leave.objects.filter(
            practitioner=appointment.practitioner,
            starts_on__lte=starts.date(),
            ends_on__gte=starts.date(),
        )

    for plan in CoursePlan.objects.all():
        sessions = list(plan.appointments.exclude(status=FREEING_STATUS).order_by("session_number"))
        for earlier, later in itertools.pairwise(sessions):
            gap = (local_day(later) - local_day(earlier)).days
            within = abs(gap - plan.interval_days) <= plan.tolerance_days
            assert within or later.move_reason or earlier.move_reason, (plan, gap)


@pytest.mark.usefixtures("demo")
def test_an_expired_licence_stops_the_booking_and_is_not_worked_around() -> None:
    hughes = User.objects.get(username="dr.hughes")
    licence = Licence.objects.get(practitioner=hughes)
    assert licence.valid_until is not None and licence.valid_until < TODAY
    appointments = Appointment.objects.filter(practitioner=hughes)
    assert appointments.exists()
    assert all(local_day(a) <= licence.valid_until for a in appointments)
    [unfinished] = CoursePlan.objects.filter(practitioner=hughes, status=CourseStatus.ACTIVE)
    assert unfinished.appointments.count() < unfinished.sessions_planned

    with pytest.raises(ValidationError, match="not licensed"):
        booking.propose_course(unfinished, TODAY)
    next_week = TODAY + timedelta(days=7 - TODAY.weekday())
    with pytest.raises(ValidationError, match="No licence of Siân Hughes is valid"):
        booking.book(
            patient=unfinished.patient,
            practitioner=hughes,
            starts_at=datetime.combine(next_week, time(10), tzinfo=unfinished.clinic.tz),
            minutes=30,
            actor=hughes,
        )


def test_a_small_demo_still_shows_every_stage_first() -> None:
    build_demo(seed=5, patients=17, today=TODAY)
    stages = {stage(plan) for plan in CoursePlan.objects.all()}
    assert {"booked", "active", "completed", "stopped", "planned"} <= stages
