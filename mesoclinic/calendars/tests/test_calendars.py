"""The calendars built from appointments: what each audience sees, alarms, time zones, and
how calendar apps learn that a session moved or was cancelled."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from django.utils import timezone
from icalendar import Calendar

from mesoclinic.calendars import calendars
from mesoclinic.calendars.tests.conftest import PARIS, at, event_for, events, next_monday
from mesoclinic.catalogue.models import PreCareRule
from mesoclinic.clinics.models import User
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment, CoursePlan, Room
from mesoclinic.patients.models import Patient


def book_session(
    plan: CoursePlan, number: int, starts_at: datetime, room: Room | None = None
) -> Appointment:
    return booking.book(
        patient=plan.patient,
        practitioner=plan.practitioner,
        starts_at=starts_at,
        minutes=plan.session_minutes,
        actor=plan.practitioner,
        room=room,
        plan=plan,
        session_number=number,
    )


def plan_ics(plan: CoursePlan) -> bytes:
    return calendars.to_ics(calendars.plan_calendar(plan, timezone.now()))


def practitioner_ics(practitioner: User, now: datetime | None = None) -> bytes:
    assert practitioner.clinic is not None
    return calendars.to_ics(
        calendars.practitioner_calendar(practitioner, practitioner.clinic, now or timezone.now())
    )


def patient_ics(patient: Patient, now: datetime | None = None) -> bytes:
    return calendars.to_ics(calendars.patient_calendar(patient, now or timezone.now()))


def last_sunday_of_october(year: int) -> date:
    last = date(year, 10, 31)
    return last - timedelta(days=(last.weekday() - 6) % 7)


def test_a_course_file_holds_every_booked_session_with_its_pre_care_alarms(
    plan: CoursePlan, room: Room
) -> None:
    proposals = booking.propose_course(plan, next_monday(), room=room)
    booked = booking.book_course(plan, proposals, plan.practitioner)
    booking.cancel_appointment(booked[-1], "Patient away", plan.practitioner)
    rule = PreCareRule.objects.get(code="no-nsaids-before-session")

    found = events(plan_ics(plan))

    # The cancelled session is not handed to the patient; the others are, in order.
    assert [event["UID"] for event in found] == [
        f"appointment-{appointment.pk}@a.mesoclinic" for appointment in booked[:-1]
    ]
    for event, appointment in zip(found, booked, strict=False):
        assert event.start == appointment.starts_at
        assert event.end == appointment.ends_at
        assert event["SUMMARY"] == (
            f"Course session {appointment.session_number} of {plan.sessions_planned} "
            "at Clinique des Tilleuls"
        )
        alarms = {alarm["TRIGGER"].to_ical(): alarm for alarm in event.walk("VALARM")}
        assert set(alarms) == {b"-P7D", b"-P1D"}
        assert alarms[b"-P7D"]["ACTION"] == "DISPLAY"
        assert alarms[b"-P7D"]["DESCRIPTION"] == rule.message_for()
        assert "aspirin" in str(alarms[b"-P7D"]["DESCRIPTION"])
        local = timezone.localtime(appointment.starts_at, PARIS)
        assert str(alarms[b"-P1D"]["DESCRIPTION"]).startswith(f"Tomorrow at {local:%H:%M}")


def test_times_stay_local_across_the_end_of_summer_time(plan: CoursePlan) -> None:
    """Sessions at 10:00 in Paris the Friday before and the Monday after the clocks go back
    read 10:00 in the calendar, one hour apart in UTC."""
    today = timezone.localdate(timezone=PARIS)
    year = today.year if last_sunday_of_october(today.year) > today else today.year + 1
    change = last_sunday_of_october(year)
    friday = book_session(plan, 1, at(change - timedelta(days=2), 10))
    monday = book_session(plan, 2, at(change + timedelta(days=1), 10))

    data = plan_ics(plan)

    before = event_for(data, calendars.uid(friday))
    after = event_for(data, calendars.uid(monday))
    for event in (before, after):
        assert event["DTSTART"].params["TZID"] == "Europe/Paris"
    before_start, after_start = before.start, after.start
    assert isinstance(before_start, datetime)
    assert isinstance(after_start, datetime)
    assert (before_start.hour, after_start.hour) == (10, 10)
    assert before_start.astimezone(UTC).hour == 8  # CEST, UTC+2
    assert after_start.astimezone(UTC).hour == 9  # CET, UTC+1
    assert after_start == monday.starts_at
    (zone,) = Calendar.from_ical(data).timezones
    assert zone["TZID"] == "Europe/Paris"
    assert {component.name for component in zone.subcomponents} >= {"STANDARD", "DAYLIGHT"}


def test_a_moved_session_keeps_its_uid_and_raises_its_sequence(plan: CoursePlan) -> None:
    monday = next_monday()
    appointment = book_session(plan, 1, at(monday, 10))
    first = event_for(plan_ics(plan), calendars.uid(appointment))

    booking.move_appointment(appointment, at(monday + timedelta(days=1), 14), plan.practitioner)
    moved = event_for(plan_ics(plan), calendars.uid(appointment))

    assert first["SEQUENCE"] == 0
    assert moved["SEQUENCE"] == 1
    assert moved.start == at(monday + timedelta(days=1), 14)


def test_a_cancelled_appointment_stays_in_the_feeds_marked_cancelled(
    plan: CoursePlan, patient: Patient
) -> None:
    appointment = book_session(plan, 1, at(next_monday(), 10))
    booking.cancel_appointment(appointment, "Patient unwell", plan.practitioner)

    for data in (practitioner_ics(plan.practitioner), patient_ics(patient)):
        event = event_for(data, calendars.uid(appointment))
        assert event["STATUS"] == "CANCELLED"
        assert event["SEQUENCE"] == 1
        assert event["TRANSP"] == "TRANSPARENT"
        assert str(event["SUMMARY"]).startswith("Cancelled: ")
        # No reminder to prepare for a session that will not happen.
        assert event.walk("VALARM") == []


def test_the_practitioners_feed_names_patients_by_initials_only(
    plan: CoursePlan, patient: Patient, room: Room
) -> None:
    appointment = book_session(plan, 1, at(next_monday(), 10), room)

    data = practitioner_ics(plan.practitioner)

    event = event_for(data, calendars.uid(appointment))
    assert event["SUMMARY"] == f"C.R. · Course session 1 of {plan.sessions_planned} · Room 1"
    assert event["LOCATION"] == "Room 1, Clinique des Tilleuls"
    assert event["STATUS"] == "CONFIRMED"
    text = data.decode()
    for identifying in (patient.given_name, patient.family_name, patient.email, "Cellulite"):
        assert identifying not in text


def test_the_patients_feed_gives_the_clinic_the_practitioner_and_the_address(
    plan: CoursePlan, patient: Patient
) -> None:
    clinic = patient.clinic
    clinic.address = "12 rue des Tilleuls\n75011 Paris"
    clinic.phone = "+33 1 23 45 67 89"
    clinic.save()
    appointment = book_session(plan, 1, at(next_monday(), 10))

    event = event_for(patient_ics(patient), calendars.uid(appointment))

    assert event["SUMMARY"] == f"Course session 1 of {plan.sessions_planned} at {clinic.name}"
    assert event["LOCATION"] == "Clinique des Tilleuls, 12 rue des Tilleuls, 75011 Paris"
    assert event["DESCRIPTION"] == (
        "With Pat Practitioner.\nTo move or cancel it, call +33 1 23 45 67 89."
    )
    assert {alarm["TRIGGER"].to_ical() for alarm in event.walk("VALARM")} == {b"-P7D", b"-P1D"}


def test_a_feed_runs_from_a_month_ago_to_a_year_ahead(plan: CoursePlan) -> None:
    monday = next_monday()
    too_old = book_session(plan, 1, at(monday - timedelta(days=42), 10))
    recent = book_session(plan, 2, at(monday - timedelta(days=28), 10))
    coming = book_session(plan, 3, at(monday + timedelta(days=350), 10))
    too_far = book_session(plan, 4, at(monday + timedelta(days=406), 10))
    now = at(monday - timedelta(days=1), 12)

    for data in (practitioner_ics(plan.practitioner, now), patient_ics(plan.patient, now)):
        uids = {str(event["UID"]) for event in events(data)}
        assert uids == {calendars.uid(recent), calendars.uid(coming)}
        assert calendars.uid(too_old) not in uids
        assert calendars.uid(too_far) not in uids


def test_a_feed_never_holds_another_practitioners_or_another_clinics_appointments(
    plan: CoursePlan,
    patient: Patient,
    bookable_pia: User,
    bookable_bob: User,
    patient_b: Patient,
) -> None:
    monday = next_monday()
    pats = book_session(plan, 1, at(monday, 10))
    pias = booking.book(
        patient=patient,
        practitioner=bookable_pia,
        starts_at=at(monday, 11),
        minutes=30,
        actor=bookable_pia,
    )
    bobs = booking.book(
        patient=patient_b,
        practitioner=bookable_bob,
        starts_at=at(monday, 10),
        minutes=30,
        actor=bookable_bob,
    )

    def uids(data: bytes) -> set[str]:
        return {str(event["UID"]) for event in events(data)}

    assert uids(practitioner_ics(plan.practitioner)) == {calendars.uid(pats)}
    assert uids(practitioner_ics(bookable_pia)) == {calendars.uid(pias)}
    assert uids(practitioner_ics(bookable_bob)) == {calendars.uid(bobs)}
    # A patient's feed has their appointments with every practitioner, and no one else's.
    assert uids(patient_ics(patient)) == {calendars.uid(pats), calendars.uid(pias)}
    assert uids(patient_ics(patient_b)) == {calendars.uid(bobs)}
