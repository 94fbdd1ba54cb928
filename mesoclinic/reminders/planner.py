"""When each reminder is due, what it says, and keeping the outbox in step with the schedule.

The receivers here run inside the transaction that books, moves or cancels an appointment
(``courses.signals.appointment_changed``), creates or closes a maintenance recall, or saves a
patient: the outbox can never disagree with what was committed.

Times are computed in the clinic's time zone, so that a reminder due "7 days before a 10:00
session" is due at 10:00 local even when a daylight-saving change falls in between. The
follow-up is the exception: "24 hours after" counts elapsed hours.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from mesoclinic.courses.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    MaintenanceRecall,
    MaintenanceStatus,
)
from mesoclinic.courses.plans import MAINTENANCE_NOTICE_DAYS
from mesoclinic.patients.models import Patient
from mesoclinic.reminders import messages
from mesoclinic.reminders.models import OPEN_STATUSES, Reminder, ReminderKind, ReminderStatus

DAY_BEFORE_AT = time(10)
FOLLOW_UP_AFTER = timedelta(hours=24)
# Sent when the recall starts to show in the "due for maintenance" list.
MAINTENANCE_AT = time(10)
SESSION_KINDS = (ReminderKind.PRE_CARE, ReminderKind.DAY_BEFORE, ReminderKind.FOLLOW_UP)
# Only appointments where the patient is injected: an "other" appointment (a consultation)
# has nothing to prepare for and nothing to check afterwards.
REMINDED_APPOINTMENTS = (AppointmentKind.SESSION, AppointmentKind.MAINTENANCE)
NO_ADDRESS = "The patient has no email address: add one to their record."


def session_due_times(appointment: Appointment, window: int) -> dict[str, datetime]:
    tz = appointment.clinic.tz
    start = timezone.localtime(appointment.starts_at, tz)
    return {
        ReminderKind.PRE_CARE: datetime.combine(
            start.date() - timedelta(days=window), start.time(), tzinfo=tz
        ),
        ReminderKind.DAY_BEFORE: datetime.combine(
            start.date() - timedelta(days=1), DAY_BEFORE_AT, tzinfo=tz
        ),
        ReminderKind.FOLLOW_UP: appointment.ends_at + FOLLOW_UP_AFTER,
    }


def maintenance_due_time(recall: MaintenanceRecall) -> datetime:
    day = recall.due_on - timedelta(days=MAINTENANCE_NOTICE_DAYS)
    return datetime.combine(day, MAINTENANCE_AT, tzinfo=recall.plan.clinic.tz)


def _context(patient: Patient, **values: Any) -> messages.Context:
    clinic = patient.clinic
    return messages.Context(
        given_name=patient.given_name,
        clinic_name=clinic.name,
        clinic_phone=clinic.phone,
        clinic_email=clinic.email,
        **values,
    )


def session_message(kind: str, appointment: Appointment, window: int) -> messages.Message:
    length = appointment.ends_at - appointment.starts_at
    context = _context(
        appointment.patient,
        practitioner=str(appointment.practitioner),
        starts_at=timezone.localtime(appointment.starts_at, appointment.clinic.tz),
        minutes=round(length.total_seconds() / 60),
        window_days=window,
    )
    return messages.render(kind, appointment.patient.preferred_language, context)


def maintenance_message(recall: MaintenanceRecall) -> messages.Message:
    patient = recall.plan.patient
    context = _context(patient, due_on=recall.due_on)
    return messages.render(ReminderKind.MAINTENANCE, patient.preferred_language, context)


def message_for(reminder: Reminder) -> messages.Message:
    """The reminder's text from the record as it is now."""
    if reminder.appointment is not None:
        return session_message(
            reminder.kind, reminder.appointment, reminder.appointment.clinic.nsaid_window_days()
        )
    assert reminder.maintenance is not None  # a reminder is about one or the other
    return maintenance_message(reminder.maintenance)


def _address(reminder: Reminder, patient: Patient) -> None:
    """Capture the patient's address; without one the reminder cannot go, and says why."""
    reminder.recipient = patient.email
    reminder.status = ReminderStatus.PENDING if patient.email else ReminderStatus.FAILED
    reminder.last_error = "" if patient.email else NO_ADDRESS


def _schedule(
    reminder: Reminder, patient: Patient, due_at: datetime, message: messages.Message
) -> Reminder:
    """(Re)start ``reminder`` as a fresh message due at ``due_at``."""
    _address(reminder, patient)
    reminder.due_at = reminder.next_attempt_at = due_at
    reminder.payload = message.as_payload()
    reminder.attempts = 0
    reminder.claimed_by, reminder.claimed_until = "", None
    # New content is a new message: a mail client must not take it for the earlier one,
    # which a worker may have had in flight when the appointment moved.
    reminder.message_id = ""
    reminder.save()
    return reminder


def plan_session_reminders(appointment: Appointment) -> None:
    """Bring the appointment's reminders in step with its time: each kind whose time is still
    to come has one open reminder, due then and naming the new date; an open one whose time
    has now passed is cancelled, except the pre-care advice, which is then due at once. A
    reminder already sent stays as it was."""
    if appointment.kind not in REMINDED_APPOINTMENTS:
        return
    now = timezone.now()
    window = appointment.clinic.nsaid_window_days()
    # Locked so that a worker claiming one of them waits, and then sees the change.
    current = {
        reminder.kind: reminder
        for reminder in appointment.reminders.select_for_update().filter(status__in=OPEN_STATUSES)
    }
    for kind, due_at in session_due_times(appointment, window).items():
        reminder = current.get(kind)
        if kind == ReminderKind.PRE_CARE and due_at <= now < appointment.starts_at:
            # Booked or moved inside the stop window: the advice is late, but still useful
            # for the days that remain, and screening at check-in asks about the rest.
            due_at = now
        elif due_at <= now:
            if reminder is not None:
                cancel(Reminder.objects.filter(pk=reminder.pk), "Its time passed in a move.")
            continue
        _schedule(
            reminder
            or Reminder(
                clinic=appointment.clinic,
                patient=appointment.patient,
                appointment=appointment,
                kind=kind,
            ),
            appointment.patient,
            due_at,
            session_message(kind, appointment, window),
        )


def schedule_follow_up(appointment: Appointment, ended_at: datetime) -> Reminder | None:
    """Time the 24-hour follow-up from when the session really ended, as its signed chart
    records; nothing when that moment has already passed (a chart written up late)."""
    if appointment.kind not in REMINDED_APPOINTMENTS:
        return None
    due_at = ended_at + FOLLOW_UP_AFTER
    reminder = (
        appointment.reminders.select_for_update()
        .filter(kind=ReminderKind.FOLLOW_UP, status__in=OPEN_STATUSES)
        .first()
    )
    if due_at <= timezone.now():
        if reminder is not None:
            cancel(Reminder.objects.filter(pk=reminder.pk), "Its time passed before signing.")
        return None
    window = appointment.clinic.nsaid_window_days()
    return _schedule(
        reminder
        or Reminder(
            clinic=appointment.clinic,
            patient=appointment.patient,
            appointment=appointment,
            kind=ReminderKind.FOLLOW_UP,
        ),
        appointment.patient,
        due_at,
        session_message(ReminderKind.FOLLOW_UP, appointment, window),
    )


def plan_maintenance_reminder(recall: MaintenanceRecall) -> Reminder | None:
    due_at = maintenance_due_time(recall)
    if due_at <= timezone.now():
        return None
    patient = recall.plan.patient
    reminder = Reminder(
        clinic=recall.plan.clinic,
        patient=patient,
        maintenance=recall,
        kind=ReminderKind.MAINTENANCE,
    )
    return _schedule(reminder, patient, due_at, maintenance_message(recall))


def cancel(reminders: QuerySet[Reminder], reason: str = "") -> int:
    """Cancel the open ones. A worker holding one finds it no longer its own and does not
    record it sent."""
    return reminders.filter(status__in=OPEN_STATUSES).update(
        status=ReminderStatus.CANCELLED, claimed_by="", claimed_until=None, last_error=reason
    )


# --- receivers ----------------------------------------------------------------------------


def on_appointment_changed(sender: Any, appointment: Appointment, change: str, **_: Any) -> None:
    if change in ("booked", "moved"):
        plan_session_reminders(appointment)
    elif change == AppointmentStatus.CANCELLED:
        cancel(appointment.reminders.all(), "The appointment was cancelled.")
    elif change == AppointmentStatus.NO_SHOW:
        cancel(appointment.reminders.all(), "The patient did not attend.")
    elif change == AppointmentStatus.ATTENDED:
        # Anything before the session that did not go out in time is pointless now.
        cancel(
            appointment.reminders.filter(kind__in=(ReminderKind.PRE_CARE, ReminderKind.DAY_BEFORE)),
            "The session took place before it was sent.",
        )


def on_recall_saved(
    sender: Any, instance: MaintenanceRecall, created: bool, raw: bool = False, **_: Any
) -> None:
    if raw:
        return
    if created and instance.status == MaintenanceStatus.DUE:
        plan_maintenance_reminder(instance)
    elif not created and instance.status != MaintenanceStatus.DUE:
        cancel(instance.reminders.all(), f"The recall is {instance.get_status_display().lower()}.")


def on_patient_saved(
    sender: Any, instance: Patient, created: bool, raw: bool = False, **_: Any
) -> None:
    """Reminders still to go follow the record: its address, name and language. An erased
    patient is sent nothing more, and the outbox keeps no trace of who they were."""
    if raw or created:
        return
    reminders = Reminder.objects.filter(patient=instance)
    if instance.erased_at is not None:
        cancel(reminders, "The patient's identity was erased.")
        reminders.update(recipient="", payload={})
        return
    # Pending ones, and those that failed only for want of an address and are not due yet.
    waiting = reminders.filter(status=ReminderStatus.PENDING) | reminders.filter(
        status=ReminderStatus.FAILED, last_error=NO_ADDRESS, due_at__gt=timezone.now()
    )
    for reminder in waiting.select_for_update(of=("self",)).select_related(
        "appointment__clinic", "appointment__practitioner", "maintenance__plan__clinic"
    ):
        reminder.patient = instance
        _address(reminder, instance)
        reminder.payload = message_for(reminder).as_payload()
        reminder.save(update_fields=["recipient", "status", "last_error", "payload"])
