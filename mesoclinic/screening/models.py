"""Screening records: each run of the rules, what fired, the overrides, the check-in answers
and the prescriptions that prescription-only ingredients need.

A screening is a record of what the rules found at one moment, kept as it was: it is never
edited, a later run is a new screening. An override is tied to the appointment, the rule and
the data the rule fired on, so it carries over to a later run that finds the same thing, and
lapses when the data change (a new NSAID dose is a new finding).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from mesoclinic.catalogue.models import ScreeningRule, Severity
from mesoclinic.clinics.models import Clinic
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.patients.models import Patient


class ImmutableRecordError(Exception):
    """A screening record was asked to change after it was written."""


class Stage(models.TextChoices):
    BOOKING = "booking", "At booking"
    CHECK_IN = "check_in", "At check-in"
    CHART = "chart", "Before the chart"
    ON_REQUEST = "on_request", "On request"


class Outcome(models.TextChoices):
    """The most severe finding of a run, before any override."""

    BLOCK = "block", "Blocked"
    WARN = "warn", "Warnings"
    INFORM = "inform", "Information"
    CLEAR = "clear", "Clear"


class WriteOnce(models.Model):
    """A row written once and never changed or deleted through the ORM."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and type(self)._default_manager.filter(pk=self.pk).exists():
            raise ImmutableRecordError(f"A {self._meta.verbose_name} is never changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise ImmutableRecordError(f"A {self._meta.verbose_name} is never deleted.")


class Screening(WriteOnce):
    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="screenings")
    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, related_name="screenings"
    )
    plan = models.ForeignKey(
        CoursePlan, null=True, blank=True, on_delete=models.PROTECT, related_name="screenings"
    )
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    session_date = models.DateField(help_text="The session's date in the clinic's time zone.")
    stage = models.CharField(max_length=12, choices=Stage.choices)
    ruleset_version = models.CharField(
        max_length=100, help_text="The rules file's version and SHA-256 when this ran."
    )
    precare_window_days = models.PositiveSmallIntegerField(
        help_text="The NSAID stop window applied (the clinic's, or the catalogue's)."
    )
    outcome = models.CharField(max_length=8, choices=Outcome.choices)
    run_at = models.DateTimeField()
    run_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-run_at", "-pk"]
        indexes = [models.Index(fields=["appointment", "-run_at"])]

    def __str__(self) -> str:
        return f"Screening of {self.patient} for {self.session_date} ({self.get_stage_display()})"


class Finding(WriteOnce):
    """One rule that fired, on which data, with the rule's words as they were then."""

    clinic_path = "screening__clinic"

    screening = models.ForeignKey(Screening, on_delete=models.PROTECT, related_name="findings")
    rule = models.ForeignKey(ScreeningRule, on_delete=models.PROTECT, related_name="+")
    severity = models.CharField(max_length=8, choices=Severity.choices)
    overridable = models.BooleanField()
    # What the rule fired on, as a stable key ("medication:12:2026-11-22"): an override given
    # for one key covers a later run that fires on the same key, and no other.
    subject = models.CharField(max_length=200)
    evidence = models.TextField(help_text="The data the rule fired on, in words.")
    message = models.TextField()
    action = models.TextField()

    class Meta:
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.rule.label}: {self.evidence}"


class Override(WriteOnce):
    """A practitioner's decision to go ahead despite a block, with the reason."""

    clinic_path = "appointment__clinic"

    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, related_name="screening_overrides"
    )
    rule = models.ForeignKey(ScreeningRule, on_delete=models.PROTECT, related_name="+")
    subject = models.CharField(max_length=200)
    finding = models.ForeignKey(
        Finding,
        on_delete=models.PROTECT,
        related_name="overrides",
        help_text="The finding the practitioner reviewed.",
    )
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField()
    at = models.DateTimeField()

    class Meta:
        ordering = ["at"]
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "rule", "subject"], name="screening_override_once"
            ),
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="screening_override_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"Override of {self.rule.label} by {self.practitioner}"


class Answer(models.TextChoices):
    YES = "yes", "Yes"
    NO = "no", "No"
    NOT_APPLICABLE = "n/a", "Not applicable"


class CheckIn(WriteOnce):
    """The patient's answers on the day (or the day before, from the portal)."""

    clinic_path = "appointment__clinic"

    appointment = models.ForeignKey(Appointment, on_delete=models.PROTECT, related_name="check_ins")
    nsaid_last_week = models.CharField(
        max_length=4, choices=[(Answer.YES, "Yes"), (Answer.NO, "No")]
    )
    nsaid_name = models.CharField(max_length=200, blank=True)
    nsaid_last_dose = models.DateField(null=True, blank=True)
    new_medications = models.TextField(blank=True, help_text="One per line.")
    pregnant = models.CharField(max_length=4, choices=Answer.choices)
    notes = models.TextField(blank=True)
    answered_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    screening = models.OneToOneField(Screening, on_delete=models.PROTECT, related_name="check_in")

    class Meta:
        ordering = ["-answered_at"]

    def __str__(self) -> str:
        return f"Check-in of {self.appointment.patient} on {self.answered_at:%Y-%m-%d}"


class Prescription(models.Model):
    """A prescriber's decision for a course that uses prescription-only ingredients."""

    clinic_path = "plan__clinic"

    plan = models.ForeignKey(CoursePlan, on_delete=models.PROTECT, related_name="prescriptions")
    prescriber_name = models.CharField(max_length=200)
    prescriber_registration = models.CharField(
        max_length=100, help_text="The prescriber's professional registration number."
    )
    issued_on = models.DateField()
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-issued_on"]

    def __str__(self) -> str:
        return f"Prescription by {self.prescriber_name} on {self.issued_on}"
