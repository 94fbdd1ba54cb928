"""The portal's own records: invitations to it, and each clinic's rules for what a patient
may change themselves. The link between an account and a record is patients.PortalAccount."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from mesoclinic.clinics.models import Clinic
from mesoclinic.patients.models import Patient


class Invitation(models.Model):
    """An invitation to the portal: a link emailed to the patient, and a one-time code the
    clinic gives them by another way (in person, on the phone). Both are needed, so that
    neither a forwarded email nor an overheard code opens the record alone. Only digests are
    stored."""

    clinic_path = "patient__clinic"

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="invitations")
    token_digest = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=64)
    sent_to = models.EmailField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    # Set when a newer invitation replaces this one, or the clinic withdraws it.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"Invitation of {self.patient} ({self.created_at:%Y-%m-%d})"


class PortalRules(models.Model):
    """What a clinic lets patients do themselves in the portal; without a row the defaults
    of ``portal.rules`` apply."""

    clinic_path = "clinic"

    clinic = models.OneToOneField(Clinic, on_delete=models.CASCADE, related_name="portal_rules")
    # Hours before a session after which the patient must phone instead of changing it.
    change_notice_hours = models.PositiveSmallIntegerField(default=48)
    # How many times a patient may move the same appointment themselves.
    moves_per_appointment = models.PositiveSmallIntegerField(default=2)
    patients_may_cancel = models.BooleanField(default=True)
    # How long before a session its check-in questionnaire opens at home.
    check_in_opens_hours = models.PositiveSmallIntegerField(default=48)

    class Meta:
        verbose_name_plural = "portal rules"

    def __str__(self) -> str:
        return f"Portal rules of {self.clinic}"


class PatientChangeKind(models.TextChoices):
    MOVE = "move", "Moved"
    CANCEL = "cancel", "Cancelled"


class PatientChange(models.Model):
    """An appointment a patient moved or cancelled themselves in the portal: counts the moves
    against the clinic's ``moves_per_appointment`` and keeps who changed what, when. The
    change itself went through ``courses.booking``, which audits it."""

    clinic_path = "appointment__clinic"

    appointment = models.ForeignKey(
        "courses.Appointment", on_delete=models.PROTECT, related_name="patient_changes"
    )
    kind = models.CharField(max_length=8, choices=PatientChangeKind.choices)
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    from_starts_at = models.DateTimeField()
    to_starts_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(kind="move", to_starts_at__isnull=False)
                | models.Q(kind="cancel", to_starts_at__isnull=True),
                name="portal_patient_change_move_has_target",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by the patient: {self.appointment}"
