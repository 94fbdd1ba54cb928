"""Booking: hours, leave, licences, the database's refusal of double bookings, course series
across a daylight-saving change, moves that break the interval, and 50 requests racing for
one slot."""

from __future__ import annotations

import contextlib
import itertools
import threading
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesoclinic.catalogue.models import Indication, Protocol
from mesoclinic.clinics.licences import licence_check
from mesoclinic.clinics.models import Clinic, Licence, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses import booking, plans
from mesoclinic.courses.models import (
    Appointment,
    AppointmentStatus,
    CoursePlan,
    Leave,
    Room,
)
from mesoclinic.courses.testing import make_bookable
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient

PARIS = ZoneInfo("Europe/Paris")
# Europe leaves summer time on Sunday 25 October 2026.
MONDAY_BEFORE_DST_END = date(2026, 10, 19)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def book(patient: Patient, practitioner: User, starts_at: datetime, **kw: object) -> Appointment:
    return booking.book(
        patient=patient,
        practitioner=practitioner,
        starts_at=starts_at,
        minutes=30,
        actor=practitioner,
        **kw,  # type: ignore[arg-type]
    )


def test_a_booking_inside_hours_is_made_and_audited(bookable_pat: User, patient: Patient) -> None:
    appointment = book(patient, bookable_pat, at(MONDAY_BEFORE_DST_END, 9))
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=30)
    assert appointment.status == AppointmentStatus.BOOKED


@pytest.mark.parametrize(
    ("starts", "message"),
    [
        (at(MONDAY_BEFORE_DST_END, 8, 45), "outside Pat Practitioner's hours"),
        (at(MONDAY_BEFORE_DST_END, 12, 15), "outside Pat Practitioner's hours"),  # into lunch
        (at(MONDAY_BEFORE_DST_END, 17, 45), "outside Pat Practitioner's hours"),
        (at(date(2026, 10, 24), 10), "does not work on Saturdays"),
        (datetime(2026, 10, 19, 10), "must carry a time zone"),
    ],
)
def test_a_booking_outside_hours_is_refused_with_the_reason(
    bookable_pat: User, patient: Patient, starts: datetime, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        book(patient, bookable_pat, starts)
    assert not Appointment.objects.exists()


def test_leave_and_licence_validity_are_respected(
    bookable_pat: User, alice: User, patient: Patient
) -> None:
    Leave.objects.create(
        practitioner=bookable_pat, starts_on=date(2026, 10, 20), ends_on=date(2026, 10, 21)
    )
    with pytest.raises(ValidationError, match="on leave on 2026-10-21"):
        book(patient, bookable_pat, at(date(2026, 10, 21), 10))
    Licence.objects.filter(practitioner=bookable_pat).update(valid_until=date(2026, 10, 22))
    with pytest.raises(ValidationError, match="No licence of Pat Practitioner is valid"):
        book(patient, bookable_pat, at(date(2026, 10, 23), 10))
    assert book(patient, bookable_pat, at(date(2026, 10, 22), 10))


def test_only_a_practitioner_of_the_clinic_is_booked(
    asha: User, bob: User, alice: User, patient: Patient
) -> None:
    with pytest.raises(ValidationError, match="is not a practitioner of this clinic"):
        book(patient, make_bookable(bob, alice), at(MONDAY_BEFORE_DST_END, 10))
    with pytest.raises(ValidationError):
        book(patient, asha, at(MONDAY_BEFORE_DST_END, 10))


def test_an_overlap_is_refused_for_the_practitioner_and_for_the_room(
    bookable_pat: User, alice: User, clinic_a: Clinic, patient: Patient, room: Room
) -> None:
    book(patient, bookable_pat, at(MONDAY_BEFORE_DST_END, 10), room=room)
    with pytest.raises(ValidationError, match="Pat Practitioner is already booked on 2026-10-19"):
        book(patient, bookable_pat, at(MONDAY_BEFORE_DST_END, 10, 15))
    other = make_bookable(create_user("dr.other", Role.PRACTITIONER, clinic_a), alice)
    with pytest.raises(ValidationError, match=r"Room 1 is already booked .* from 10:00 to 10:30"):
        book(patient, other, at(MONDAY_BEFORE_DST_END, 10), room=room)
    # Back to back is not an overlap.
    assert book(patient, other, at(MONDAY_BEFORE_DST_END, 10, 30), room=room)


@pytest.mark.parametrize("column", ["practitioner", "room"])
def test_the_database_itself_refuses_an_overlap(
    bookable_pat: User, alice: User, clinic_a: Clinic, patient: Patient, room: Room, column: str
) -> None:
    """Written straight through the ORM, around every Python check."""
    first = book(patient, bookable_pat, at(MONDAY_BEFORE_DST_END, 10), room=room)
    other = make_bookable(create_user("dr.other", Role.PRACTITIONER, clinic_a), alice)
    values: dict[str, Any] = {
        "clinic": clinic_a,
        "patient": patient,
        "practitioner": bookable_pat if column == "practitioner" else other,
        "room": room if column == "room" else None,
        "starts_at": at(MONDAY_BEFORE_DST_END, 10, 15),
        "ends_at": at(MONDAY_BEFORE_DST_END, 10, 45),
        "created_by": bookable_pat,
    }
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(**values)
    # Moving an existing row onto the slot is refused too; a cancelled one frees it.
    later = {
        "starts_at": at(MONDAY_BEFORE_DST_END, 11),
        "ends_at": at(MONDAY_BEFORE_DST_END, 11, 30),
    }
    second = Appointment.objects.create(**values | later)
    second.starts_at, second.ends_at = values["starts_at"], values["ends_at"]
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save()
    Appointment.objects.filter(pk=first.pk).update(status=AppointmentStatus.CANCELLED)
    second.save()


def test_a_cancelled_appointment_frees_its_slot(bookable_pat: User, patient: Patient) -> None:
    first = book(patient, bookable_pat, at(MONDAY_BEFORE_DST_END, 10))
    with pytest.raises(ValidationError, match="Give the reason"):
        booking.cancel_appointment(first, " ", bookable_pat)
    booking.cancel_appointment(first, "Patient unwell", bookable_pat)
    assert book(patient, bookable_pat, at(MONDAY_BEFORE_DST_END, 10))


def test_a_course_is_proposed_every_two_weeks_at_the_same_local_time_across_dst(
    plan: CoursePlan, bookable_pat: User
) -> None:
    proposals = booking.propose_course(plan, date(2026, 10, 12))
    assert [p.session_number for p in proposals] == list(range(1, 9))
    local = [p.starts_at.astimezone(PARIS) for p in proposals]
    assert local[0].date() == date(2026, 10, 12)
    assert [d.date() - c.date() for c, d in itertools.pairwise(local)] == [timedelta(days=14)] * 7
    # 09:00 in Paris is 07:00 UTC in summer and 08:00 UTC in winter.
    assert {d.time() for d in local} == {time(9)}
    assert proposals[0].starts_at.astimezone(ZoneInfo("UTC")).hour == 7
    assert proposals[1].starts_at.astimezone(ZoneInfo("UTC")).hour == 8
    booked = booking.book_course(plan, proposals, bookable_pat)
    assert [a.session_number for a in booked] == list(range(1, 9))
    # Nothing is left to propose.
    assert booking.propose_course(plan, date(2026, 10, 12)) == []


def test_the_series_moves_within_the_tolerance_around_a_busy_day(
    plan: CoursePlan, bookable_pat: User, patient: Patient, alice: User
) -> None:
    # The target day of session 2 (26 October) is taken by leave: it goes a day either side.
    Leave.objects.create(
        practitioner=bookable_pat, starts_on=date(2026, 10, 26), ends_on=date(2026, 10, 26)
    )
    proposals = booking.propose_course(plan, date(2026, 10, 12))
    assert proposals[1].starts_at.astimezone(PARIS).date() == date(2026, 10, 27)
    assert proposals[2].starts_at.astimezone(PARIS).date() == date(2026, 11, 10)


def test_no_slot_within_the_tolerance_is_a_clear_refusal(
    plan: CoursePlan, bookable_pat: User
) -> None:
    Leave.objects.create(
        practitioner=bookable_pat, starts_on=date(2026, 10, 20), ends_on=date(2026, 11, 5)
    )
    with pytest.raises(ValidationError, match="No free slot for session 2 between 2026-10-23"):
        booking.propose_course(plan, date(2026, 10, 12))


def test_a_series_is_booked_all_or_nothing(
    plan: CoursePlan, bookable_pat: User, patient: Patient
) -> None:
    proposals = booking.propose_course(plan, date(2026, 10, 12))
    intruder = make_patient(bookable_pat, given_name="Inès", family_name="Dupont")
    book(intruder, bookable_pat, proposals[5].starts_at)  # taken since the proposal
    with pytest.raises(ValidationError, match="already booked"):
        booking.book_course(plan, proposals, bookable_pat)
    assert not plan.appointments.exists()


def test_moving_a_session_outside_its_interval_needs_a_reason(
    plan: CoursePlan, bookable_pat: User
) -> None:
    sessions = booking.book_course(
        plan, booking.propose_course(plan, date(2026, 10, 12)), bookable_pat
    )
    third = sessions[2]  # 9 November; neighbours 26 October and 23 November
    within = at(date(2026, 11, 11), 14)
    booking.move_appointment(third, within, bookable_pat)
    assert third.move_reason == ""
    outside = at(date(2026, 11, 18), 14)
    with pytest.raises(ValidationError) as refused:
        booking.move_appointment(third, outside, bookable_pat)
    assert refused.value.messages == [
        "Session 3 would be 23 days from session 2 and 5 days to session 4, outside 14 ± 3 days.",
        "Give a reason to move it there anyway.",
    ]
    third.refresh_from_db()
    assert third.starts_at == within
    booking.move_appointment(third, outside, bookable_pat, reason="Patient travelling")
    third.refresh_from_db()
    assert (third.starts_at, third.move_reason) == (outside, "Patient travelling")


def test_completing_a_course_plans_its_maintenance(
    plan: CoursePlan, bookable_pat: User, clinic_a: Clinic
) -> None:
    plan.maintenance_per_year = 2
    plan.save()
    start = clinic_a.today() - timedelta(days=120)
    sessions = booking.book_course(plan, booking.propose_course(plan, start)[:2], bookable_pat)
    with pytest.raises(ValidationError, match="No session of this course was attended"):
        plans.complete_plan(plan, bookable_pat)
    for session in sessions:
        booking.record_attended(session, bookable_pat)
    plan.refresh_from_db()
    assert plan.status == "active"
    recalls = plans.complete_plan(plan, bookable_pat)
    last_day = timezone.localdate(sessions[-1].starts_at, clinic_a.tz)
    assert [r.due_on for r in recalls] == [
        plans.add_months(last_day, 6),
        plans.add_months(last_day, 12),
    ]
    due = plans.due_for_maintenance(CoursePlan.objects.all(), recalls[0].due_on)
    assert list(due) == [recalls[0]]


def test_stopping_a_course_cancels_its_booked_sessions(
    plan: CoursePlan, bookable_pat: User
) -> None:
    booking.book_course(plan, booking.propose_course(plan, date(2026, 10, 12)), bookable_pat)
    with pytest.raises(ValidationError, match="reason"):
        booking.stop_plan(plan, "", bookable_pat)
    booking.stop_plan(plan, "Bruising did not settle", bookable_pat)
    assert set(plan.appointments.values_list("status", flat=True)) == {"cancelled"}
    assert plan.status == "stopped"


def test_a_plan_departing_from_the_protocol_needs_a_reason(
    catalogue: None, bookable_pat: User, patient: Patient
) -> None:
    def create(**adjustments: Any) -> CoursePlan:
        return plans.create_plan(
            patient=patient,
            indication=Indication.objects.get(code="alopecia"),
            practitioner=bookable_pat,
            protocol=Protocol.objects.get(code="default"),
            actor=bookable_pat,
            **adjustments,
        )

    with pytest.raises(ValidationError, match="departs from the standard course"):
        create(interval_days=7)
    with pytest.raises(ValidationError, match="interval must be between 7 and 90 days"):
        create(interval_days=400, adjustment_reason="x")
    with pytest.raises(ValidationError, match="tolerance must be at least 0 and below"):
        create(tolerance_days=14, adjustment_reason="x")
    assert not CoursePlan.objects.exists()
    plan = create(interval_days=7, adjustment_reason="Weekly for hair")
    assert (plan.interval_days, plan.sessions_planned) == (7, 8)


# --- Invariants over generated plans -------------------------------------------------------


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sessions=st.integers(1, 10),
    interval=st.integers(7, 28),
    tolerance_share=st.floats(0, 0.99),
    minutes=st.sampled_from([15, 30, 45, 60, 90]),
    start_offset=st.integers(0, 60),
    busy=st.lists(st.tuples(st.integers(0, 200), st.integers(9 * 4, 17 * 4)), max_size=25),
    leave=st.lists(st.tuples(st.integers(0, 200), st.integers(0, 6)), max_size=3),
    licence_days=st.one_of(st.none(), st.integers(20, 300)),
)
def test_any_proposed_course_respects_interval_hours_bookings_leave_and_licence(
    plan: CoursePlan,
    bookable_pat: User,
    alice: User,
    sessions: int,
    interval: int,
    tolerance_share: float,
    minutes: int,
    start_offset: int,
    busy: list[tuple[int, int]],
    leave: list[tuple[int, int]],
    licence_days: int | None,
) -> None:
    # Around the end of summer time, so that many series straddle it.
    origin = date(2026, 9, 1)
    start_on = origin + timedelta(days=start_offset)
    tolerance = int(tolerance_share * interval)
    with transaction.atomic():
        CoursePlan.objects.filter(pk=plan.pk).update(
            sessions_planned=sessions,
            interval_days=interval,
            tolerance_days=tolerance,
            session_minutes=minutes,
        )
        plan.refresh_from_db()
        other = make_patient(bookable_pat, given_name="Busy", family_name="Patient")
        for day_offset, quarter in busy:
            # Outside hours or overlapping: refused, so not a busy slot.
            with contextlib.suppress(ValidationError):
                book(
                    other,
                    bookable_pat,
                    at(origin + timedelta(days=day_offset), 0) + quarter * booking.SLOT_STEP,
                )
        for day_offset, length in leave:
            first = origin + timedelta(days=day_offset)
            Leave.objects.create(
                practitioner=bookable_pat, starts_on=first, ends_on=first + timedelta(days=length)
            )
        if licence_days is not None:
            Licence.objects.filter(practitioner=bookable_pat).update(
                valid_until=origin + timedelta(days=licence_days)
            )
        try:
            proposals = booking.propose_course(plan, start_on)
        except ValidationError:
            proposals = None
        if proposals is not None:
            check_series(plan, bookable_pat, proposals, start_on, minutes)
            booked = booking.book_course(plan, proposals, bookable_pat)
            assert len(booked) == sessions
        transaction.set_rollback(True)


def check_series(
    plan: CoursePlan,
    practitioner: User,
    proposals: list[booking.Proposal],
    start_on: date,
    minutes: int,
) -> None:
    days = [p.starts_at.astimezone(PARIS).date() for p in proposals]
    assert days[0] >= start_on
    for earlier, later in itertools.pairwise(days):
        assert abs((later - earlier).days - plan.interval_days) <= plan.tolerance_days
    for proposal, day in zip(proposals, days, strict=True):
        assert proposal.ends_at - proposal.starts_at == timedelta(minutes=minutes)
        blocks = booking.working_blocks(practitioner, day, PARIS)
        assert any(s <= proposal.starts_at and proposal.ends_at <= e for s, e in blocks)
        assert licence_check(practitioner, day).ok
        assert not Leave.objects.filter(
            practitioner=practitioner, starts_on__lte=day, ends_on__gte=day
        ).exists()
        assert not booking.conflicts(practitioner, None, proposal.starts_at, proposal.ends_at)


# --- Fifty requests racing for one slot ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_bookings_of_one_slot_give_exactly_one(catalogue: None) -> None:
    clinic = Clinic.objects.create(name="Race", slug="race", time_zone="Europe/Paris")
    admin = create_user("race.admin", Role.ADMIN, clinic)
    practitioner = make_bookable(create_user("race.practitioner", Role.PRACTITIONER, clinic), admin)
    patients = [
        Patient.objects.create(
            clinic=clinic, given_name=f"P{n}", family_name="Race", date_of_birth=date(1980, 1, 1)
        )
        for n in range(50)
    ]
    slot = at(MONDAY_BEFORE_DST_END, 11)
    start = threading.Barrier(50)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(patient: Patient) -> None:
        try:
            start.wait()
            try:
                book(patient, practitioner, slot)
                outcome = "booked"
            except ValidationError as error:
                outcome = " ".join(error.messages)
            with lock:
                outcomes.append(outcome)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(p,)) for p in patients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 50
    assert outcomes.count("booked") == 1
    refusals = [o for o in outcomes if o != "booked"]
    assert all(
        o == booking.TAKEN or o.startswith("Race Practitioner is already booked on 2026-10-19")
        for o in refusals
    ), set(refusals)
    assert Appointment.objects.filter(starts_at=slot).count() == 1


def test_a_cancelled_session_between_booked_ones_is_proposed_again_between_them(
    plan: CoursePlan, bookable_pat: User
) -> None:
    sessions = booking.book_course(
        plan, booking.propose_course(plan, date(2026, 10, 12)), bookable_pat
    )
    booking.cancel_appointment(sessions[2], "Patient ill", bookable_pat)
    [again] = booking.propose_course(plan, date(2026, 10, 12))
    assert again.session_number == 3
    day = again.starts_at.astimezone(PARIS).date()
    assert 11 <= (day - date(2026, 10, 26)).days <= 17
    assert 11 <= (date(2026, 11, 23) - day).days <= 17
    booking.book_course(plan, [again], bookable_pat)
