"""Reminders as an outbox: each message to a patient is a row, written in the transaction that
books, moves or cancels what it is about, and sent later by ``mesoclinic worker``.

A row's life: ``pending`` until due; ``sending`` while a worker holds it (a lease until
``claimed_until``: a worker that dies mid-send lets it go when the lease ends); then ``sent``,
or back to ``pending`` with a later ``next_attempt_at`` after a failure, or ``failed`` once
the attempts run out (or there is nowhere to send it). ``cancelled`` when the appointment or
recall no longer needs it.
"""

from __future__ import annotations

from django.db import models

from mesoclinic.clinics.models import Clinic
from mesoclinic.courses.models import Appointment, MaintenanceRecall
from mesoclinic.patients.models import Patient


class ReminderKind(models.TextChoices):
    PRE_CARE = "pre_care", "Pre-care (no aspirin or NSAIDs)"
    DAY_BEFORE = "day_before", "Day before"
    FOLLOW_UP = "follow_up", "24-hour follow-up"
    MAINTENANCE = "maintenance", "Maintenance recall"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"


class ReminderStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Rows that may still go out. At most one per appointment and kind: a sent one is history,
# so a session moved after its pre-care went out gets a new one for the new date.
OPEN_STATUSES = (ReminderStatus.PENDING, ReminderStatus.SENDING, ReminderStatus.FAILED)


class Reminder(models.Model):
    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="reminders")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="reminders")
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.CASCADE, related_name="reminders"
    )
    maintenance = models.ForeignKey(
        MaintenanceRecall,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="reminders",
    )
    kind = models.CharField(max_length=12, choices=ReminderKind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.EMAIL)
    recipient = models.CharField(
        max_length=254,
        blank=True,
        help_text="The patient's address, as the record had it when the reminder was last planned.",
    )
    due_at = models.DateTimeField()
    payload = models.JSONField(default=dict, help_text="subject, body and language.")
    status = models.CharField(
        max_length=10, choices=ReminderStatus.choices, default=ReminderStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(
        blank=True, help_text="Why the last attempt failed, or why it was cancelled."
    )
    next_attempt_at = models.DateTimeField()
    claimed_by = models.CharField(max_length=200, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(
        max_length=250,
        blank=True,
        help_text="Kept from the first attempt, so that a resend is recognisably the same.",
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "kind"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="reminders_one_open_per_appointment_kind",
                violation_error_message="This appointment already has such a reminder.",
            ),
            models.UniqueConstraint(
                fields=["maintenance", "kind"],
                condition=models.Q(status__in=OPEN_STATUSES),
                name="reminders_one_open_per_recall_kind",
                violation_error_message="This maintenance recall already has such a reminder.",
            ),
            models.CheckConstraint(
                condition=models.Q(appointment__isnull=True, maintenance__isnull=False)
                | models.Q(appointment__isnull=False, maintenance__isnull=True),
                name="reminders_about_one_thing",
                violation_error_message="A reminder is about an appointment or a recall.",
            ),
        ]
        indexes = [
            # The worker's claim: what is due, oldest first.
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["clinic", "status", "due_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.patient} due {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def subject(self) -> str:
        return str(self.payload.get("subject", ""))
