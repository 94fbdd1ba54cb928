"""Home and My course: the course as the patient reads it, the pre-care date across
daylight-saving changes and time zones, each rule of moving and cancelling (and nothing
changed when one refuses), reminders following a move, the calendar files, and another
patient's ids answering 404 on every URL of this part."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from mesoclinic.calendars.calendars import uid
from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, User
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment, AppointmentKind, AppointmentStatus, CoursePlan
from mesoclinic.patients.models import Patient
from mesoclinic.portal import course
from mesoclinic.portal.models import PatientChange, PatientChangeKind, PortalRules
from mesoclinic.portal.testing import portal_user
from mesoclinic.reminders.models import OPEN_STATUSES, ReminderKind

CLINIC_PHONE = "+33 1 40 00 00 00"
PARIS = ZoneInfo("Europe/Paris")


# --- data ------------------------------------------------------------------------------------------


def monday_after(clinic: Clinic, days: int) -> date:
    day = clinic.today() + timedelta(days=days)
    return day + timedelta(days=(-day.weekday()) % 7)


def book_all(plan: CoursePlan, actor: User, start_on: date) -> list[Appointment]:
    return booking.book_course(plan, booking.propose_course(plan, start_on), actor)


def at(day: date, hour: int, minute: int = 0, tz: ZoneInfo = PARIS) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


@pytest.fixture
def phone(clinic_a: Clinic) -> Clinic:
    clinic_a.phone = CLINIC_PHONE
    clinic_a.save()
    return clinic_a


@pytest.fixture
def sessions(face_plan: CoursePlan, asha: User, phone: Clinic) -> list[Appointment]:
    """The face course booked from the Monday at least 8 days ahead: session 1 that Monday,
    then every 14 days."""
    return book_all(face_plan, asha, monday_after(phone, 8))


def refreshed(appointment: Appointment) -> Appointment:
    return Appointment.objects.select_related("clinic", "plan").get(pk=appointment.pk)


def snapshot(appointment: Appointment) -> tuple[Any, ...]:
    fresh = refreshed(appointment)
    reminders = sorted(
        appointment.reminders.values_list("kind", "status", "due_at"), key=lambda r: r[0]
    )
    return (fresh.starts_at, fresh.ends_at, fresh.status, fresh.move_reason, reminders)


def slot_on(appointment: Appointment, day: date) -> datetime:
    options = course.move_options(refreshed(appointment), timezone.now())
    (found,) = [option for option in options if option.day == day]
    return found.slots[len(found.slots) // 2]


# --- the course as the patient reads it ----------------------------------------------------------


def test_the_course_lists_sessions_done_next_remaining_and_cancelled(
    face_plan: CoursePlan, asha: User, chart: Any, phone: Clinic
) -> None:
    """Session 1 charted (signed); the others booked; one of them cancelled by the clinic."""
    booked = book_all(face_plan, asha, phone.today() + timedelta(days=3))
    booking.cancel_appointment(booked[-1], "Practitioner away", asha)
    view = course.courses_of(face_plan.patient, timezone.now())[0]
    assert [line.appointment.session_number for line in view.done] == [1]
    assert view.next is not None and view.next.appointment == booked[0]
    assert [line.appointment for line in view.remaining] == booked[1:-1]
    assert [line.appointment for line in view.cancelled] == [booked[-1]]
    assert view.not_booked == 1  # the cancelled session's place is free again
    assert [line.text for line in view.ingredients] == ["Biotin (a vitamin)", "Hyaluronic acid"]


def test_the_course_page_shows_it_in_plain_words(
    portal: Client, face_plan: CoursePlan, asha: User, chart: Any, phone: Clinic
) -> None:
    booked = book_all(face_plan, asha, phone.today() + timedelta(days=3))
    booking.cancel_appointment(booked[-1], "Practitioner away", asha)
    response = portal.get(reverse("portal:course"))
    assert response.status_code == 200
    page = response.content.decode()
    planned = face_plan.sessions_planned
    assert f"Sessions done: 1 of {planned}." in page
    assert "Biotin (a vitamin)" in page
    assert "Hyaluronic acid" in page
    assert "They may adjust it at any session" in page
    assert "Cancelled" in page and "Done" in page
    assert reverse("portal:course-ics", kwargs={"plan_pk": face_plan.pk}) in page
    assert reverse("portal:appointment-move", kwargs={"appointment_pk": booked[1].pk}) in page
    next_start = timezone.localtime(booked[0].starts_at, phone.tz)
    assert f"{next_start:%H:%M}" in page
    assert page.count("<h1") == 1
    event = AuditEvent.objects.filter(action=AuditAction.VIEW, patient_id=face_plan.patient_id)
    assert event.filter(detail__portal="course").exists()


def test_no_move_or_cancel_link_inside_the_notice(
    portal: Client, sessions: list[Appointment], phone: Clinic
) -> None:
    PortalRules.objects.create(clinic=phone, change_notice_hours=24 * 400)
    page = portal.get(reverse("portal:course")).content.decode()
    assert reverse("portal:appointment-move", kwargs={"appointment_pk": sessions[0].pk}) not in page
    assert (
        reverse("portal:appointment-cancel", kwargs={"appointment_pk": sessions[0].pk}) not in page
    )
    assert CLINIC_PHONE in page


def test_home_greets_and_gives_the_next_session_and_its_precare_date(
    portal: Client, sessions: list[Appointment], phone: Clinic
) -> None:
    response = portal.get(reverse("portal:home"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Hello, Camille" in page
    first = timezone.localtime(sessions[0].starts_at, phone.tz)
    deadline = first.date() - timedelta(days=7)
    assert f"{first:%A} {first.day} {first:%B} {first.year}, {first:%H:%M}" in page
    assert (
        f"Stop aspirin and anti-inflammatory painkillers such as ibuprofen from "
        f"{deadline:%A} {deadline.day} {deadline:%B}." in page
    )
    assert "Do not stop a medicine your doctor prescribed" in page
    assert AuditEvent.objects.filter(action=AuditAction.VIEW, detail__portal="home").exists()


def test_home_links_the_check_in_only_once_it_is_open(
    portal: Client, sessions: list[Appointment], phone: Clinic
) -> None:
    now = timezone.now()
    assert not course.check_in_open(sessions[0], now)
    assert course.check_in_open(sessions[0], sessions[0].starts_at - timedelta(hours=47))
    assert not course.check_in_open(sessions[0], sessions[0].starts_at)
    check_in = reverse("portal:check-in", kwargs={"appointment_pk": sessions[0].pk})
    assert check_in not in portal.get(reverse("portal:home")).content.decode()
    PortalRules.objects.create(clinic=phone, check_in_opens_hours=24 * 60)
    assert check_in in portal.get(reverse("portal:home")).content.decode()


def test_the_pages_render_in_french(
    portal: Client, sessions: list[Appointment], patient: Patient
) -> None:
    patient.preferred_language = "fr"
    patient.save()
    first = sessions[0]
    for url in (
        reverse("portal:home"),
        reverse("portal:course"),
        reverse("portal:appointment-move", kwargs={"appointment_pk": first.pk}),
        reverse("portal:appointment-cancel", kwargs={"appointment_pk": first.pk}),
    ):
        response = portal.get(url)
        assert response.status_code == 200, url
        assert response["Content-Language"] == "fr"
        assert '<html lang="fr">' in response.content.decode()


def test_home_gives_no_precare_for_a_consultation(
    portal: Client, patient: Patient, bookable_pat: User, asha: User, phone: Clinic
) -> None:
    booking.book(
        patient=patient,
        practitioner=bookable_pat,
        starts_at=at(monday_after(phone, 8), 11),
        minutes=30,
        actor=asha,
        kind=AppointmentKind.OTHER,
    )
    page = portal.get(reverse("portal:home")).content.decode()
    assert "Your next session" in page and "Appointment with Pat Practitioner" in page
    assert "aspirin" not in page


def test_home_without_a_session(portal: Client, phone: Clinic) -> None:
    page = portal.get(reverse("portal:home")).content.decode()
    assert "You have no session booked" in page
    assert CLINIC_PHONE in page


# --- the pre-care date ----------------------------------------------------------------------------


def appointment_at(clinic: Clinic, starts_at: datetime) -> Appointment:
    return Appointment(
        clinic=clinic, starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30)
    )


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        # Paris springs forward on Sunday 29 March 2026: the window crosses it.
        ((date(2026, 3, 31), 10, 0), date(2026, 3, 24)),
        ((date(2026, 4, 2), 0, 30), date(2026, 3, 26)),  # 22:30 UTC the day before
        ((date(2026, 3, 30), 23, 30), date(2026, 3, 23)),
        ((date(2026, 3, 29), 3, 30), date(2026, 3, 22)),  # the first hour of summer time
        # And falls back on Sunday 25 October 2026.
        ((date(2026, 10, 27), 0, 30), date(2026, 10, 20)),
        ((date(2026, 10, 26), 23, 30), date(2026, 10, 19)),
        ((date(2026, 10, 25), 2, 30), date(2026, 10, 18)),  # the hour that happens twice
    ],
)
def test_the_precare_date_is_the_local_day_less_the_window_across_dst(
    clinic_a: Clinic, local: tuple[date, int, int], expected: date
) -> None:
    day, hour, minute = local
    assert course.precare_deadline(appointment_at(clinic_a, at(day, hour, minute))) == expected


@pytest.mark.parametrize(
    ("zone", "local", "expected"),
    [
        # New York springs forward on 8 March 2026; 23:30 there is the next day in UTC.
        ("America/New_York", (date(2026, 3, 10), 23, 30), date(2026, 3, 3)),
        ("America/New_York", (date(2026, 11, 2), 0, 30), date(2026, 10, 26)),
        # London springs forward on 29 March 2026 (00:30 is then 23:30 UTC the day before)
        # and falls back on 25 October.
        ("Europe/London", (date(2026, 3, 30), 0, 30), date(2026, 3, 23)),
        ("Europe/London", (date(2026, 10, 27), 23, 30), date(2026, 10, 20)),
    ],
)
def test_the_precare_date_is_in_the_clinics_own_zone(
    db: None, zone: str, local: tuple[date, int, int], expected: date
) -> None:
    clinic = Clinic.objects.create(name="Elsewhere", slug="elsewhere", time_zone=zone)
    day, hour, minute = local
    starts_at = at(day, hour, minute, ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))
    assert course.precare_deadline(appointment_at(clinic, starts_at)) == expected


def test_the_precare_date_follows_the_clinics_window_and_the_reminder(
    sessions: list[Appointment], phone: Clinic
) -> None:
    first = refreshed(sessions[0])
    reminder = first.reminders.get(kind=ReminderKind.PRE_CARE, status__in=OPEN_STATUSES)
    assert course.precare_deadline(first) == timezone.localdate(reminder.due_at, phone.tz)
    phone.precare_window_days = 10
    phone.save()
    local_day = timezone.localdate(first.starts_at, phone.tz)
    assert course.precare_deadline(refreshed(first)) == local_day - timedelta(days=10)


# --- moving ---------------------------------------------------------------------------------------


def test_move_options_keep_the_interval_the_notice_and_a_few_a_day(
    sessions: list[Appointment], phone: Clinic
) -> None:
    first, second = refreshed(sessions[0]), refreshed(sessions[1])
    now = timezone.now()
    options = course.move_options(first, now)
    assert options
    s1 = timezone.localdate(first.starts_at, phone.tz)
    s2 = timezone.localdate(second.starts_at, phone.tz)
    for option in options:
        assert 11 <= (s2 - option.day).days <= 17  # 14 ± 3 days before session 2
        assert 0 < len(option.slots) <= course.SLOTS_PER_DAY
        for slot in option.slots:
            assert slot > now + timedelta(hours=48)
            assert slot != first.starts_at
            assert not booking.interval_breaks(first, slot)
            assert timezone.localtime(slot, phone.tz).minute in (0, 30)
    assert {option.day for option in options} <= {s1 + timedelta(days=n) for n in range(-3, 4)}
    # Session 2, between two others, on each working day within the tolerance of both:
    # the Friday before it to the Thursday after (session 1 is on a Monday).
    assert [option.day for option in course.move_options(second, now)] == [
        s2 + timedelta(days=n) for n in (-3, 0, 1, 2, 3)
    ]


def test_an_appointment_outside_a_course_is_offered_three_weeks(
    patient: Patient, bookable_pat: User, asha: User, phone: Clinic
) -> None:
    day = monday_after(phone, 8)
    other = booking.book(
        patient=patient,
        practitioner=bookable_pat,
        starts_at=at(day, 11),
        minutes=30,
        actor=asha,
        kind=AppointmentKind.OTHER,
    )
    now = timezone.now()
    days = [option.day for option in course.move_options(other, now)]
    first = timezone.localdate(now + timedelta(hours=48), phone.tz)
    assert days[0] <= first + timedelta(days=3)  # the first working day after the notice
    assert days[-1] >= first + timedelta(days=16)
    assert all(first <= d <= first + timedelta(days=course.MOVE_HORIZON_DAYS - 1) for d in days)


def test_a_move_updates_the_appointment_and_its_reminders(
    sessions: list[Appointment], patient_user: User, phone: Clinic
) -> None:
    first = refreshed(sessions[0])
    day = timezone.localdate(first.starts_at, phone.tz) + timedelta(days=1)
    target = slot_on(first, day)
    course.patient_move(first, target, patient_user)
    moved = refreshed(first)
    assert moved.starts_at == target
    assert moved.ends_at - moved.starts_at == timedelta(minutes=30)
    day_before = moved.reminders.get(kind=ReminderKind.DAY_BEFORE, status__in=OPEN_STATUSES)
    assert day_before.due_at == at(day - timedelta(days=1), 10)
    pre_care = moved.reminders.get(kind=ReminderKind.PRE_CARE, status__in=OPEN_STATUSES)
    assert timezone.localdate(pre_care.due_at, phone.tz) == course.precare_deadline(moved)
    (change,) = PatientChange.objects.all()
    assert (change.kind, change.by, change.from_starts_at, change.to_starts_at) == (
        PatientChangeKind.MOVE,
        patient_user,
        sessions[0].starts_at,
        target,
    )
    audited = AuditEvent.objects.filter(
        action=AuditAction.UPDATE, actor=patient_user, object_id=str(first.pk)
    )
    assert audited.exists()


def refused(call: Any, match: str) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    text = " ".join(caught.value.messages)
    assert match in text, text


def assert_unchanged(appointment: Appointment, before: tuple[Any, ...]) -> None:
    assert snapshot(appointment) == before
    assert not PatientChange.objects.filter(appointment=appointment).exists()


def test_a_move_inside_the_notice_is_refused(
    sessions: list[Appointment], patient_user: User, phone: Clinic
) -> None:
    first = refreshed(sessions[0])
    target = slot_on(first, timezone.localdate(first.starts_at, phone.tz) + timedelta(days=1))
    before = snapshot(first)
    PortalRules.objects.create(clinic=phone, change_notice_hours=24 * 400)
    refused(
        lambda: course.patient_move(first, target, patient_user),
        f"until 9600 hours before the appointment. Please call the clinic on {CLINIC_PHONE}.",
    )
    assert_unchanged(first, before)


def test_a_new_time_inside_the_notice_is_refused(
    sessions: list[Appointment], patient_user: User, phone: Clinic
) -> None:
    """The appointment is outside the notice but the new time, earlier, is not."""
    second = refreshed(sessions[1])
    target = slot_on(second, timezone.localdate(second.starts_at, phone.tz) - timedelta(days=3))
    hours = int((target - timezone.now()).total_seconds() // 3600) + 1
    PortalRules.objects.create(clinic=phone, change_notice_hours=hours)
    before = snapshot(second)
    refused(
        lambda: course.patient_move(second, target, patient_user),
        f"The new time must be more than {hours} hours from now.",
    )
    assert_unchanged(second, before)


def test_a_third_move_is_refused(
    sessions: list[Appointment], patient_user: User, phone: Clinic
) -> None:
    first = refreshed(sessions[0])
    day = timezone.localdate(first.starts_at, phone.tz)
    course.patient_move(first, slot_on(first, day + timedelta(days=1)), patient_user)
    course.patient_move(first, slot_on(first, day + timedelta(days=2)), patient_user)
    target = slot_on(first, day + timedelta(days=3))
    before = snapshot(first)
    refused(
        lambda: course.patient_move(first, target, patient_user),
        "You have already moved this appointment 2 times online.",
    )
    assert snapshot(first) == before
    assert PatientChange.objects.filter(appointment=first).count() == 2
    assert course.move_options(first, timezone.now())  # times exist; the rule refuses


def test_a_move_that_breaks_the_interval_is_refused_without_an_override(
    sessions: list[Appointment], patient_user: User, phone: Clinic
) -> None:
    second = refreshed(sessions[1])
    s1 = timezone.localdate(sessions[0].starts_at, phone.tz)
    target = at(s1 + timedelta(days=22), 10)  # a Tuesday, 22 days after session 1
    assert booking.interval_breaks(second, target)
    before = snapshot(second)
    refused(
        lambda: course.patient_move(second, target, patient_user),
        "spacing between sessions your course needs",
    )
    assert_unchanged(second, before)


def test_a_slot_taken_meanwhile_gives_the_taken_message(
    sessions: list[Appointment],
    patient_user: User,
    other_patient: Patient,
    bookable_pat: User,
    asha: User,
    phone: Clinic,
) -> None:
    first = refreshed(sessions[0])
    target = slot_on(first, timezone.localdate(first.starts_at, phone.tz) + timedelta(days=1))
    booking.book(
        patient=other_patient, practitioner=bookable_pat, starts_at=target, minutes=30, actor=asha
    )
    before = snapshot(first)
    refused(
        lambda: course.patient_move(first, target, patient_user),
        "That time was taken a moment ago by another booking; choose another time.",
    )
    assert_unchanged(first, before)


def test_a_time_never_offered_is_refused(
    sessions: list[Appointment], patient_user: User, phone: Clinic
) -> None:
    first = refreshed(sessions[0])
    day = timezone.localdate(first.starts_at, phone.tz) + timedelta(days=1)
    before = snapshot(first)
    for moment in (at(day, 3), at(day, 10, 15), at(day, 12, 30)):  # night, quarter, lunch
        refused(
            lambda moment=moment: course.patient_move(first, moment, patient_user),
            "not one of the times offered",
        )
    assert_unchanged(first, before)


def test_only_a_booked_appointment_moves(
    sessions: list[Appointment], patient_user: User, asha: User, phone: Clinic
) -> None:
    first = refreshed(sessions[0])
    target = slot_on(first, timezone.localdate(first.starts_at, phone.tz) + timedelta(days=1))
    booking.cancel_appointment(first, "Unwell", asha)
    before = snapshot(first)
    refused(
        lambda: course.patient_move(refreshed(first), target, patient_user),
        "This appointment is cancelled, so it cannot be changed.",
    )
    refused(
        lambda: course.patient_cancel(refreshed(first), "Away", patient_user),
        "This appointment is cancelled",
    )
    assert_unchanged(first, before)


def test_a_past_appointment_cannot_be_changed(
    sessions: list[Appointment], patient_user: User, phone: Clinic
) -> None:
    first = refreshed(sessions[0])
    target = slot_on(first, timezone.localdate(first.starts_at, phone.tz) + timedelta(days=1))
    past = timezone.now() - timedelta(days=2)
    Appointment.objects.filter(pk=first.pk).update(
        starts_at=past, ends_at=past + timedelta(minutes=30)
    )
    before = snapshot(first)
    refused(
        lambda: course.patient_move(refreshed(first), target, patient_user),
        "This appointment has already taken place.",
    )
    refused(
        lambda: course.patient_cancel(refreshed(first), "Away", patient_user),
        "already taken place",
    )
    assert_unchanged(first, before)


def test_another_patients_appointment_is_refused_by_the_service_too(
    sessions: list[Appointment], other_patient: Patient, phone: Clinic
) -> None:
    first = refreshed(sessions[0])
    intruder = portal_user(other_patient)
    target = slot_on(first, timezone.localdate(first.starts_at, phone.tz) + timedelta(days=1))
    before = snapshot(first)
    refused(lambda: course.patient_move(first, target, intruder), "not yours")
    refused(lambda: course.patient_cancel(first, "Because", intruder), "not yours")
    assert_unchanged(first, before)


# --- cancelling -----------------------------------------------------------------------------------


def test_a_cancellation_with_a_reason_cancels_and_stops_the_reminders(
    sessions: list[Appointment], patient_user: User
) -> None:
    first = refreshed(sessions[0])
    refused(lambda: course.patient_cancel(first, "   ", patient_user), "why you are cancelling")
    assert refreshed(first).status == AppointmentStatus.BOOKED
    course.patient_cancel(first, "I am away", patient_user)
    cancelled = refreshed(first)
    assert cancelled.status == AppointmentStatus.CANCELLED
    assert "I am away" in cancelled.status_reason
    assert not cancelled.reminders.filter(status__in=OPEN_STATUSES).exists()
    (change,) = PatientChange.objects.all()
    assert (change.kind, change.to_starts_at) == (PatientChangeKind.CANCEL, None)


def test_cancelling_is_refused_when_the_clinic_does_not_allow_it(
    sessions: list[Appointment], patient_user: User, phone: Clinic
) -> None:
    PortalRules.objects.create(clinic=phone, patients_may_cancel=False)
    first = refreshed(sessions[0])
    before = snapshot(first)
    refused(
        lambda: course.patient_cancel(first, "I am away", patient_user),
        f"The clinic takes cancellations by phone only. Please call the clinic on {CLINIC_PHONE}.",
    )
    assert_unchanged(first, before)


def test_cancelling_inside_the_notice_is_refused(
    sessions: list[Appointment], patient_user: User, phone: Clinic
) -> None:
    PortalRules.objects.create(clinic=phone, change_notice_hours=24 * 400)
    first = refreshed(sessions[0])
    before = snapshot(first)
    refused(
        lambda: course.patient_cancel(first, "I am away", patient_user),
        "until 9600 hours before",
    )
    assert_unchanged(first, before)


# --- the pages of moving and cancelling -----------------------------------------------------------


def test_the_move_page_offers_times_by_day_and_moves(
    portal: Client, sessions: list[Appointment], phone: Clinic
) -> None:
    first = refreshed(sessions[0])
    url = reverse("portal:appointment-move", kwargs={"appointment_pk": first.pk})
    page = portal.get(url).content.decode()
    assert page.count("<fieldset") >= 2 and "<legend>" in page
    assert page.count('type="radio" name="starts_at"') >= 2
    target = slot_on(first, timezone.localdate(first.starts_at, phone.tz) + timedelta(days=1))
    assert f'value="{target.isoformat()}"' in page
    response = portal.post(url, {"starts_at": target.isoformat()})
    assert response.status_code == 302 and response["Location"] == reverse("portal:course")
    assert refreshed(first).starts_at == target
    assert AuditEvent.objects.filter(detail__portal="appointment-move").exists()


@pytest.mark.parametrize("value", ["", "tomorrow", "2026-12-01T10:00:00"])
def test_a_bad_time_is_a_400_with_the_error_linked(
    portal: Client, sessions: list[Appointment], value: str
) -> None:
    first = refreshed(sessions[0])
    before = snapshot(first)
    url = reverse("portal:appointment-move", kwargs={"appointment_pk": first.pk})
    response = portal.post(url, {"starts_at": value})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="move-error"' in page and 'aria-describedby="move-error"' in page
    assert_unchanged(first, before)


def test_a_refused_move_on_the_page_says_why_and_gives_the_phone(
    portal: Client, sessions: list[Appointment], phone: Clinic
) -> None:
    second = refreshed(sessions[1])
    s1 = timezone.localdate(sessions[0].starts_at, phone.tz)
    before = snapshot(second)
    url = reverse("portal:appointment-move", kwargs={"appointment_pk": second.pk})
    response = portal.post(url, {"starts_at": at(s1 + timedelta(days=22), 10).isoformat()})
    assert response.status_code == 400
    page = response.content.decode()
    assert "spacing between sessions" in page and CLINIC_PHONE in page
    assert_unchanged(second, before)
    PortalRules.objects.create(clinic=phone, change_notice_hours=24 * 400)
    page = portal.get(url).content.decode()
    assert "until 9600 hours before" in page and 'type="radio"' not in page


def test_the_cancel_page_confirms_with_a_reason(
    portal: Client, sessions: list[Appointment]
) -> None:
    first = refreshed(sessions[0])
    url = reverse("portal:appointment-cancel", kwargs={"appointment_pk": first.pk})
    page = portal.get(url).content.decode()
    assert '<label for="reason">' in page
    response = portal.post(url, {"reason": ""})
    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.content.decode()
    assert refreshed(first).status == AppointmentStatus.BOOKED
    response = portal.post(url, {"reason": "I am unwell"})
    assert response.status_code == 302
    assert refreshed(first).status == AppointmentStatus.CANCELLED


def test_a_refused_cancellation_on_the_page_changes_nothing(
    portal: Client, sessions: list[Appointment], phone: Clinic
) -> None:
    PortalRules.objects.create(clinic=phone, patients_may_cancel=False)
    first = refreshed(sessions[0])
    before = snapshot(first)
    url = reverse("portal:appointment-cancel", kwargs={"appointment_pk": first.pk})
    assert "<textarea" not in portal.get(url).content.decode()
    response = portal.post(url, {"reason": "I am away"})
    assert response.status_code == 400
    assert "by phone only" in response.content.decode()
    assert_unchanged(first, before)


# --- calendar files -------------------------------------------------------------------------------


def test_the_course_calendar_holds_only_this_patients_booked_sessions(
    portal: Client,
    sessions: list[Appointment],
    patient_user: User,
    other_patient: Patient,
    bookable_pat: User,
    asha: User,
    phone: Clinic,
) -> None:
    day = timezone.localdate(sessions[0].starts_at, phone.tz)
    theirs = booking.book(
        patient=other_patient,
        practitioner=bookable_pat,
        starts_at=at(day, 15),
        minutes=30,
        actor=asha,
        plan=None,
    )
    plan = sessions[0].plan
    assert plan is not None
    response = portal.get(reverse("portal:course-ics", kwargs={"plan_pk": plan.pk}))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment;")
    events = Calendar.from_ical(response.content).events
    assert {str(event["UID"]) for event in events} == {uid(a) for a in sessions}
    assert uid(theirs) not in response.content.decode()
    assert AuditEvent.objects.filter(
        action=AuditAction.EXPORT, actor=patient_user, object_id=str(plan.pk)
    ).exists()


def test_one_appointments_calendar(
    portal: Client, sessions: list[Appointment], patient_user: User
) -> None:
    first = sessions[0]
    response = portal.get(reverse("portal:appointment-ics", kwargs={"appointment_pk": first.pk}))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.content)
    assert [str(event["UID"]) for event in calendar.events] == [uid(first)]
    assert "REFRESH-INTERVAL" not in response.content.decode()
    assert AuditEvent.objects.filter(
        action=AuditAction.EXPORT, actor=patient_user, object_id=str(first.pk)
    ).exists()


# --- denial ---------------------------------------------------------------------------------------


def test_another_patient_gets_404_on_every_url_and_changes_nothing(
    other_portal: Client, sessions: list[Appointment]
) -> None:
    first = refreshed(sessions[0])
    plan = first.plan
    assert plan is not None
    before = snapshot(first)
    urls = [
        reverse("portal:course-ics", kwargs={"plan_pk": plan.pk}),
        reverse("portal:appointment-ics", kwargs={"appointment_pk": first.pk}),
        reverse("portal:appointment-move", kwargs={"appointment_pk": first.pk}),
        reverse("portal:appointment-cancel", kwargs={"appointment_pk": first.pk}),
    ]
    for url in urls:
        assert other_portal.get(url).status_code == 404, url
        data = {"starts_at": first.starts_at.isoformat(), "reason": "Not mine"}
        assert other_portal.post(url, data).status_code == 404, url
    assert_unchanged(first, before)
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()
    # Their own pages show nothing of Camille's.
    for name in ("portal:home", "portal:course"):
        page = other_portal.get(reverse(name)).content.decode()
        assert "Camille" not in page
        assert f"/appointments/{first.pk}/" not in page


def test_staff_and_anonymous_are_kept_out(
    client: Client, client_for: Any, pat: User, sessions: list[Appointment]
) -> None:
    first = sessions[0]
    urls = [
        reverse("portal:home"),
        reverse("portal:course"),
        reverse("portal:appointment-move", kwargs={"appointment_pk": first.pk}),
        reverse("portal:appointment-ics", kwargs={"appointment_pk": first.pk}),
    ]
    staff = client_for(pat)
    for url in urls:
        assert client.get(url).status_code == 302, url
        assert staff.get(url).status_code == 403, url
