"""What staff see of the outbox and may do with it: the reminders due and failed, and retrying
a failed one."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Clinic, User
from mesoclinic.courses.models import MaintenanceStatus
from mesoclinic.reminders import planner
from mesoclinic.reminders.models import Reminder, ReminderKind, ReminderStatus

DUE_LIST_DAYS = 7
_RELATED = ("patient", "appointment__practitioner", "maintenance")


def reminders_due(clinic: Clinic) -> QuerySet[Reminder]:
    """Still to go out within ``DUE_LIST_DAYS``, including any a stopped worker left overdue."""
    horizon = timezone.now() + timedelta(days=DUE_LIST_DAYS)
    return (
        Reminder.objects.filter(
            clinic=clinic,
            status__in=(ReminderStatus.PENDING, ReminderStatus.SENDING),
            due_at__lte=horizon,
        )
        .select_related(*_RELATED)
        .order_by("due_at", "pk")
    )


def reminders_failed(clinic: Clinic) -> QuerySet[Reminder]:
    return (
        Reminder.objects.filter(clinic=clinic, status=ReminderStatus.FAILED)
        .select_related(*_RELATED)
        .order_by("due_at", "pk")
    )


def stale_reason(reminder: Reminder, now: datetime | None = None) -> str | None:
    """Why the reminder is no use any more, or None. Checked again just before sending."""
    now = now or timezone.now()
    appointment = reminder.appointment
    if (
        appointment is not None
        and reminder.kind in (ReminderKind.PRE_CARE, ReminderKind.DAY_BEFORE)
        and appointment.starts_at <= now
    ):
        return "The session had started before it could be sent."
    recall = reminder.maintenance
    if recall is not None and recall.status != MaintenanceStatus.DUE:
        return f"The recall is {recall.get_status_display().lower()}."
    return None


def retry(reminder: Reminder, actor: User, *, request: HttpRequest | None = None) -> Reminder:
    """Send a failed reminder again, from a fresh count of attempts, to the patient's address
    and in the words of their record as they are now."""
    now = timezone.now()
    if reminder.status != ReminderStatus.FAILED:
        raise ValidationError(
            f"Only a failed reminder can be retried; this one is "
            f"{reminder.get_status_display().lower()}."
        )
    reason = stale_reason(reminder, now)
    if reason is not None:
        raise ValidationError(f"{reason} It is no longer worth sending.")
    patient = reminder.patient
    if not patient.email:
        raise ValidationError(planner.NO_ADDRESS)
    previous_error = reminder.last_error
    with transaction.atomic():
        updated = Reminder.objects.filter(pk=reminder.pk, status=ReminderStatus.FAILED).update(
            status=ReminderStatus.PENDING,
            recipient=patient.email,
            payload=planner.message_for(reminder).as_payload(),
            attempts=0,
            last_error="",
            next_attempt_at=max(now, reminder.due_at),
            claimed_by="",
            claimed_until=None,
        )
        if not updated:
            raise ValidationError("This reminder changed meanwhile; look at it again.")
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=reminder,
            retried=True,
            previous_error=previous_error,
        )
    reminder.refresh_from_db()
    return reminder
