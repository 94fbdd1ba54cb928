"""The outbox follows the schedule: booking, moving, cancelling, attendance, maintenance
recalls and the patient's record, with due times in the clinic's zone across DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from mesoclinic.clinics.models import NSAID_PRECARE_RULE, User
from mesoclinic.courses import booking
from mesoclinic.courses.models import (
    Appointment,
    AppointmentKind,
    CoursePlan,
    MaintenanceRecall,
    MaintenanceStatus,
)
from mesoclinic.patients import services as patients
from mesoclinic.patients.models import Patient
from mesoclinic.reminders import planner, services
from mesoclinic.reminders.models import Reminder, ReminderKind, ReminderStatus
from mesoclinic.reminders.tests.conftest import local, weekday_ahead, weekday_soon

PRE, DAY, FOLLOW = ReminderKind.PRE_CARE, ReminderKind.DAY_BEFORE, ReminderKind.FOLLOW_UP


def book_at(
    patient: Patient, practitioner: User, starts_at: datetime, **extra: object
) -> Appointment:
    return booking.book(
        patient=patient,
        practitioner=practitioner,
        starts_at=starts_at,
        minutes=30,
        actor=practitioner,
        **extra,  # type: ignore[arg-type]
    )


def by_kind(appointment: Appointment, *statuses: str) -> dict[str, Reminder]:
    reminders = appointment.reminders.all()
    if statuses:
        reminders = reminders.filter(status__in=statuses)
    found = {r.kind: r for r in reminders}
    assert len(found) == reminders.count(), "two reminders of one kind"
    return found


def test_booking_a_session_plans_its_three_reminders_in_clinic_time(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    day = weekday_ahead(clinic, 14, weekday=2)  # a Wednesday
    starts = local(clinic, day, 14, 30)

    appointment = book_at(patient, bookable_pat, starts)

    reminders = by_kind(appointment)
    assert set(reminders) == {PRE, DAY, FOLLOW}
    assert reminders[PRE].due_at == local(clinic, day - timedelta(days=7), 14, 30)
    assert reminders[DAY].due_at == local(clinic, day - timedelta(days=1), 10)
    assert reminders[FOLLOW].due_at == starts + timedelta(minutes=30, hours=24)
    for reminder in reminders.values():
        assert reminder.status == ReminderStatus.PENDING
        assert reminder.next_attempt_at == reminder.due_at
        assert reminder.recipient == patient.email
        assert reminder.clinic == clinic and reminder.patient == patient
        assert reminder.payload["language"] == "en"
    assert "NSAIDs" in reminders[PRE].payload["body"]
    assert reminders[DAY].payload["subject"] == "Your mesotherapy session tomorrow at 14:30"


def test_a_maintenance_session_is_reminded_but_another_appointment_is_not(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    day = weekday_ahead(clinic, 14)
    maintenance = book_at(
        patient, bookable_pat, local(clinic, day, 9), kind=AppointmentKind.MAINTENANCE
    )
    other = book_at(patient, bookable_pat, local(clinic, day, 11), kind=AppointmentKind.OTHER)

    assert set(by_kind(maintenance)) == {PRE, DAY, FOLLOW}
    assert not other.reminders.exists()


def test_the_pre_care_window_is_the_catalogue_rules(
    catalogue: None, bookable_pat: User, patient: Patient
) -> None:
    from mesoclinic.catalogue.models import PreCareRule

    PreCareRule.objects.filter(code=NSAID_PRECARE_RULE).update(window_days=10)
    clinic = patient.clinic
    day = weekday_ahead(clinic, 21)

    appointment = book_at(patient, bookable_pat, local(clinic, day, 10))

    pre_care = by_kind(appointment)[PRE]
    assert pre_care.due_at == local(clinic, day - timedelta(days=10), 10)
    assert "For the 10 days before it" in pre_care.payload["body"]


def test_a_session_booked_inside_the_stop_window_gets_its_pre_care_at_once(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    before = timezone.now()

    appointment = book_at(patient, bookable_pat, local(clinic, weekday_soon(clinic), 10))

    reminders = by_kind(appointment)
    assert set(reminders) == {PRE, DAY, FOLLOW}
    assert before <= reminders[PRE].due_at <= timezone.now()


def test_a_clinic_window_moves_the_pre_care_reminder(
    catalogue: None, bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    clinic.precare_window_days = 14
    clinic.save()
    day = weekday_ahead(clinic, 21)

    appointment = book_at(patient, bookable_pat, local(clinic, day, 10))

    pre_care = by_kind(appointment)[PRE]
    assert pre_care.due_at == local(clinic, day - timedelta(days=14), 10)
    assert "For the 14 days before it" in pre_care.payload["body"]


def test_a_session_after_the_october_dst_change_gets_its_pre_care_at_the_local_time(
    bookable_pat: User, patient: Patient
) -> None:
    """Paris leaves summer time on the last Sunday of October: a 10:00 session the Monday
    after is at 09:00 UTC, and its pre-care a week earlier, still in summer time, is due at
    10:00 local, 08:00 UTC: not 09:00 UTC, which a subtraction in UTC would give."""
    clinic = patient.clinic
    year = clinic.today().year
    while True:
        last_sunday = date(year, 10, 31) - timedelta(days=(date(year, 10, 31).weekday() + 1) % 7)
        monday = last_sunday + timedelta(days=1)
        if monday - timedelta(days=8) > clinic.today():
            break
        year += 1
    starts = local(clinic, monday, 10)
    assert starts.utcoffset() == timedelta(hours=1)

    # Given in UTC, as the API receives it: the arithmetic must not happen in UTC.
    appointment = book_at(patient, bookable_pat, starts.astimezone(UTC))

    reminders = by_kind(appointment)
    week_before = monday - timedelta(days=7)
    assert reminders[PRE].due_at == datetime(*week_before.timetuple()[:3], 8, tzinfo=UTC)
    # 10:00 on the Sunday of the change itself, already winter time.
    assert reminders[DAY].due_at == datetime(*last_sunday.timetuple()[:3], 9, tzinfo=UTC)


def test_moving_a_session_re_times_its_pending_reminders_and_rewrites_them(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    first_day = weekday_ahead(clinic, 14)
    appointment = book_at(patient, bookable_pat, local(clinic, first_day, 10))
    before = by_kind(appointment)
    new_day = first_day + timedelta(days=2)

    booking.move_appointment(appointment, local(clinic, new_day, 15), bookable_pat)

    after = by_kind(appointment)
    assert {k: r.pk for k, r in after.items()} == {k: r.pk for k, r in before.items()}
    assert after[PRE].due_at == local(clinic, new_day - timedelta(days=7), 15)
    assert after[DAY].due_at == local(clinic, new_day - timedelta(days=1), 10)
    assert after[FOLLOW].due_at == local(clinic, new_day, 15, 30) + timedelta(hours=24)
    assert all(r.next_attempt_at == r.due_at for r in after.values())
    assert "15:00" in after[DAY].payload["subject"]
    assert f"{new_day.day} " in after[PRE].payload["body"]


def test_a_reminder_already_sent_stays_and_the_moved_session_gets_a_new_one(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    day = weekday_ahead(clinic, 14)
    appointment = book_at(patient, bookable_pat, local(clinic, day, 10))
    sent = by_kind(appointment)[PRE]
    Reminder.objects.filter(pk=sent.pk).update(
        status=ReminderStatus.SENT, sent_at=timezone.now(), message_id="<1@x>"
    )

    booking.move_appointment(appointment, local(clinic, day + timedelta(days=7), 10), bookable_pat)

    sent.refresh_from_db()
    assert sent.status == ReminderStatus.SENT
    assert sent.due_at == local(clinic, day - timedelta(days=7), 10)
    fresh = by_kind(appointment, ReminderStatus.PENDING)[PRE]
    assert fresh.pk != sent.pk
    assert fresh.due_at == local(clinic, day, 10)
    assert fresh.message_id == ""


def test_moving_a_session_inside_the_stop_window_sends_the_pre_care_at_once(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    appointment = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 14), 10))
    first = appointment.reminders.get(kind=PRE)
    soon = weekday_soon(clinic)
    booking.move_appointment(appointment, local(clinic, soon, 10), bookable_pat)

    pre_care = appointment.reminders.get(kind=PRE)
    assert pre_care.pk == first.pk
    assert pre_care.status == ReminderStatus.PENDING
    assert pre_care.due_at <= timezone.now()
    assert f"{soon:%-d %B}" in pre_care.payload["body"]
    assert set(by_kind(appointment, ReminderStatus.PENDING)) == {PRE, DAY, FOLLOW}


def test_a_move_takes_a_reminder_back_from_a_worker_sending_it(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    day = weekday_ahead(clinic, 14)
    appointment = book_at(patient, bookable_pat, local(clinic, day, 10))
    Reminder.objects.filter(appointment=appointment, kind=DAY).update(
        status=ReminderStatus.SENDING,
        claimed_by="worker-1",
        claimed_until=timezone.now() + timedelta(minutes=5),
        message_id="<old@x>",
    )

    booking.move_appointment(appointment, local(clinic, day + timedelta(days=1), 10), bookable_pat)

    reminder = appointment.reminders.get(kind=DAY)
    assert (reminder.status, reminder.claimed_by, reminder.message_id) == ("pending", "", "")
    assert reminder.due_at == local(clinic, day, 10)


def test_cancelling_a_session_cancels_its_open_reminders_but_not_the_sent_ones(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    appointment = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 14), 10))
    Reminder.objects.filter(appointment=appointment, kind=PRE).update(status=ReminderStatus.SENT)

    booking.cancel_appointment(appointment, "Patient unwell", bookable_pat)

    statuses = {r.kind: (r.status, r.last_error) for r in appointment.reminders.all()}
    assert statuses == {
        PRE: (ReminderStatus.SENT, ""),
        DAY: (ReminderStatus.CANCELLED, "The appointment was cancelled."),
        FOLLOW: (ReminderStatus.CANCELLED, "The appointment was cancelled."),
    }


def test_a_no_show_cancels_the_follow_up(bookable_pat: User, patient: Patient) -> None:
    clinic = patient.clinic
    appointment = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 14), 10))
    # The session has come and gone: shifted into the past without the booking rules.
    now = timezone.now()
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=now - timedelta(hours=2), ends_at=now - timedelta(hours=1, minutes=30)
    )
    appointment.refresh_from_db()

    booking.record_no_show(appointment, bookable_pat)

    follow_up = appointment.reminders.get(kind=FOLLOW)
    assert follow_up.status == ReminderStatus.CANCELLED
    assert not appointment.reminders.filter(status__in=("pending", "sending")).exists()


def test_attendance_cancels_what_was_due_before_the_session_and_keeps_the_follow_up(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    appointment = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 14), 10))
    now = timezone.now()
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=now - timedelta(hours=1), ends_at=now - timedelta(minutes=30)
    )
    appointment.refresh_from_db()

    booking.record_attended(appointment, bookable_pat)

    statuses = {r.kind: r.status for r in appointment.reminders.all()}
    assert statuses == {PRE: "cancelled", DAY: "cancelled", FOLLOW: "pending"}


def test_only_one_open_reminder_per_appointment_and_kind(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    appointment = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 14), 10))
    twin = by_kind(appointment)[DAY]
    twin.pk = None

    with pytest.raises(IntegrityError), transaction.atomic():
        twin.save()
    twin.status = ReminderStatus.CANCELLED
    twin.save()  # a cancelled one is history, as many as there were


def test_a_patient_without_an_address_gets_failed_reminders_until_one_is_added(
    bookable_pat: User, patient: Patient, asha: User
) -> None:
    patient.email = ""
    patients.save_patient(patient, actor=asha, request=None)
    clinic = patient.clinic
    appointment = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 14), 10))

    reminders = by_kind(appointment)
    assert {(r.status, r.last_error) for r in reminders.values()} == {
        (ReminderStatus.FAILED, planner.NO_ADDRESS)
    }
    assert set(services.reminders_failed(clinic)) == set(reminders.values())

    patient.email = "camille@example.org"
    patients.save_patient(patient, actor=asha, request=None)

    assert {(r.status, r.recipient) for r in by_kind(appointment).values()} == {
        (ReminderStatus.PENDING, "camille@example.org")
    }
    assert not services.reminders_failed(clinic).exists()


def test_pending_reminders_follow_the_record_s_address_and_language(
    bookable_pat: User, patient: Patient, asha: User
) -> None:
    clinic = patient.clinic
    appointment = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 14), 10))

    patient.email = "camille.new@example.org"
    patient.preferred_language = "fr"
    patients.save_patient(patient, actor=asha, request=None)

    for reminder in by_kind(appointment).values():
        assert reminder.recipient == "camille.new@example.org"
        assert reminder.payload["language"] == "fr"
        assert reminder.payload["body"].startswith("Bonjour Camille,")


def test_erasing_a_patient_cancels_their_reminders_and_forgets_the_address(
    bookable_pat: User, patient: Patient, alice: User
) -> None:
    clinic = patient.clinic
    appointment = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 14), 10))
    Reminder.objects.filter(appointment=appointment, kind=PRE).update(status=ReminderStatus.SENT)

    with transaction.atomic():
        patients.erase_patient(patient, actor=alice, reason="Asked to be forgotten")

    for reminder in appointment.reminders.all():
        assert reminder.status in (ReminderStatus.SENT, ReminderStatus.CANCELLED)
        assert (reminder.recipient, reminder.payload) == ("", {})
    assert appointment.reminders.filter(status=ReminderStatus.CANCELLED).count() == 2


def test_a_maintenance_recall_is_reminded_a_month_ahead_at_ten_and_dropped_once_booked(
    plan: CoursePlan,
) -> None:
    clinic = plan.clinic
    due_on = clinic.today() + timedelta(days=200)

    recall = MaintenanceRecall.objects.create(plan=plan, due_on=due_on)

    reminder = recall.reminders.get()
    assert reminder.kind == ReminderKind.MAINTENANCE
    assert reminder.due_at == local(clinic, due_on - timedelta(days=30), 10)
    assert reminder.status == ReminderStatus.PENDING
    assert reminder.recipient == plan.patient.email
    assert reminder.payload["subject"] == "Your maintenance session: time to book"

    recall.status = MaintenanceStatus.BOOKED
    recall.save(update_fields=["status"])

    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.CANCELLED
    assert reminder.last_error == "The recall is booked."


def test_a_recall_due_within_the_month_gets_no_reminder(plan: CoursePlan) -> None:
    recall = MaintenanceRecall.objects.create(
        plan=plan, due_on=plan.clinic.today() + timedelta(days=10)
    )
    assert not recall.reminders.exists()


def test_the_due_list_covers_the_coming_week_including_overdue(
    bookable_pat: User, patient: Patient
) -> None:
    clinic = patient.clinic
    soon = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 3), 10))
    later = book_at(patient, bookable_pat, local(clinic, weekday_ahead(clinic, 30), 10))
    overdue = by_kind(later)[PRE]
    Reminder.objects.filter(pk=overdue.pk).update(due_at=timezone.now() - timedelta(hours=1))

    due = list(services.reminders_due(clinic))

    in_week = [r for r in soon.reminders.all() if r.due_at <= timezone.now() + timedelta(days=7)]
    assert due == sorted([*in_week, Reminder.objects.get(pk=overdue.pk)], key=lambda r: r.due_at)
