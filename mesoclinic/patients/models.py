from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.db import models
from simple_history.models import HistoricalRecords

from mesoclinic.catalogue.models import BodyArea, ConditionKind, DrugClass
from mesoclinic.clinics.models import Clinic


class Sex(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    OTHER = "other", "Other"
    UNKNOWN = "unknown", "Unknown"


def phone_digits(phone: str) -> str:
    """The digits of a phone number, for searching whatever way it was typed."""
    return re.sub(r"\D", "", phone)


class Patient(models.Model):
    clinic_path = "clinic"
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="patients")
    given_name = models.CharField(max_length=100)
    family_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=10, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=40, blank=True)
    phone_digits = models.CharField(max_length=40, blank=True, editable=False)
    email = models.EmailField(blank=True)
    preferred_language = models.CharField(
        max_length=8, choices=[("en", "English"), ("fr", "French")], default="en"
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by erasure: identity removed, clinical rows kept de-identified for the evidence.
    erased_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["family_name", "given_name"]
        indexes = [
            models.Index(fields=["clinic", "family_name", "given_name"]),
            models.Index(fields=["clinic", "date_of_birth"]),
            models.Index(fields=["clinic", "phone_digits"]),
        ]

    def __str__(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.phone_digits = phone_digits(self.phone)
        super().save(*args, **kwargs)

    def age_on(self, day: date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Medication(models.Model):
    """A drug the patient takes or took, as the patient or record names it. The name is
    resolved to catalogue drug classes when it can be; an unknown name is kept as typed."""

    clinic_path = "patient__clinic"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="medications")
    name = models.CharField(max_length=200)
    dose = models.CharField(max_length=100, blank=True)
    started = models.DateField(null=True, blank=True)
    stopped = models.DateField(null=True, blank=True)
    last_dose_taken = models.DateField(null=True, blank=True)
    drug_classes = models.ManyToManyField(DrugClass, blank=True, related_name="+")
    resolved_as = models.CharField(
        max_length=200, blank=True, help_text="The catalogue name this medication matched."
    )
    history = HistoricalRecords(m2m_fields=[drug_classes])

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(stopped__isnull=True)
                | models.Q(started__isnull=True)
                | models.Q(stopped__gte=models.F("started")),
                name="medication_stopped_after_started",
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.dose}".strip()

    @property
    def is_resolved(self) -> bool:
        return bool(self.resolved_as)


class Allergy(models.Model):
    """An allergy to a substance or an ingredient, as named; screening matches it against
    formula ingredients and their synonyms."""

    clinic_path = "patient__clinic"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="allergies")
    substance = models.CharField(max_length=200)
    reaction = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["substance"]
        verbose_name_plural = "allergies"

    def __str__(self) -> str:
        return self.substance


class Condition(models.Model):
    """A condition that matters for treatment, with the dates it applies between."""

    clinic_path = "patient__clinic"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="conditions")
    kind = models.CharField(max_length=24, choices=ConditionKind.choices)
    description = models.CharField(max_length=300, blank=True)
    body_area = models.ForeignKey(
        BodyArea,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="For a skin condition: where it is.",
    )
    started = models.DateField(null=True, blank=True)
    ended = models.DateField(null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["kind", "-started"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended__isnull=True)
                | models.Q(started__isnull=True)
                | models.Q(ended__gte=models.F("started")),
                name="condition_ended_after_started",
            )
        ]

    def __str__(self) -> str:
        return self.get_kind_display() + (f": {self.description}" if self.description else "")

    def active_on(self, day: date) -> bool:
        return (self.started is None or self.started <= day) and (
            self.ended is None or day <= self.ended
        )


class PortalAccount(models.Model):
    """Links a patient's portal sign-in to their record: the only way a patient account is
    anybody's. Made when the patient accepts the clinic's invitation; one record, one account."""

    clinic_path = "patient__clinic"

    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="portal_account")
    user = models.OneToOneField(
        "clinics.User", on_delete=models.PROTECT, related_name="portal_account"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Portal account of {self.patient}"
