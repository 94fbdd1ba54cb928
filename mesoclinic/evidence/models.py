"""Outbreak alerts: an exposure shared by more infected patients than the clinic's background
explains, and the patients to contact about it (``outbreaks`` raises and updates them).

An alert is kept: it is closed with a note, never deleted, and django-simple-history keeps
every version of its figures and of each contact task. One alert per exposure is open at a
time (a partial unique constraint), so that a rescan updates it instead of raising another.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from mesoclinic.clinics.models import Clinic
from mesoclinic.formulas.models import ContactStatus, Lot
from mesoclinic.patients.models import Patient


class KeptAlertError(Exception):
    """Raised on an attempt to delete an alert or one of its contact tasks."""


class ExposureKind(models.TextChoices):
    LOT = "lot", "Product lot"
    VIAL = "vial", "Multi-dose vial"
    INJECTOR = "injector", "Injector gun"
    DAY = "day", "Clinic day"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    CLOSED = "closed", "Closed"


class _KeptQuerySet(models.QuerySet[Any]):
    def delete(self) -> tuple[int, dict[str, int]]:
        raise KeptAlertError("Outbreak alerts and their contacts are kept; close the alert.")


class OutbreakAlert(models.Model):
    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=ExposureKind.choices)
    key = models.CharField(
        max_length=120, help_text="Identifies the exposure within its kind and clinic."
    )
    lot = models.ForeignKey(
        Lot,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The lot, for a lot or a multi-dose vial alert.",
    )
    injector_id = models.CharField(max_length=100, blank=True)
    day = models.DateField(
        null=True, blank=True, help_text="The clinic day, or the day a vial was opened."
    )
    label = models.CharField(max_length=300)
    window_start = models.DateField(help_text="The first session day the counts include.")
    counted_to = models.DateField(help_text="The day of the scan that last changed the counts.")
    infections = models.PositiveIntegerField(help_text="Exposed patients with an infection.")
    exposed_patients = models.PositiveIntegerField(help_text="The binomial's trials.")
    sessions = models.PositiveIntegerField(help_text="Sessions with the exposure.")
    expected = models.FloatField(help_text="Infected patients expected at the background rate.")
    p_value = models.FloatField()
    background_rate = models.FloatField(
        help_text="Infected per treated patient in the clinic's year, with the prior."
    )
    threshold = models.FloatField(help_text="The p-value below which the scan raised it.")
    units_tested = models.PositiveIntegerField(help_text="Exposures the raising scan tested.")
    raised_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    status = models.CharField(max_length=6, choices=AlertStatus.choices, default=AlertStatus.OPEN)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)
    close_note = models.TextField(blank=True)
    history = HistoricalRecords()

    objects = _KeptQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["clinic", "kind", "key"],
                condition=models.Q(status="open"),
                name="evidence_alert_one_open_per_exposure",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status="open", closed_by__isnull=True, closed_at__isnull=True, close_note=""
                )
                | (
                    models.Q(status="closed", closed_by__isnull=False, closed_at__isnull=False)
                    & ~models.Q(close_note="")
                ),
                name="evidence_alert_closed_with_note",
                violation_error_message="An alert is closed by someone, at a time, with a note.",
            ),
            models.CheckConstraint(
                condition=models.Q(infections__lte=models.F("exposed_patients"))
                & models.Q(exposed_patients__lte=models.F("sessions")),
                name="evidence_alert_counts_nested",
            ),
        ]

    def __str__(self) -> str:
        return f"Outbreak alert {self.pk}: {self.label}"

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise KeptAlertError("An outbreak alert is kept; close it with a note instead.")

    @property
    def is_open(self) -> bool:
        return self.status == AlertStatus.OPEN

    @property
    def background_per_thousand(self) -> float:
        return 1000 * self.background_rate


class AlertContact(models.Model):
    """A task of an alert: tell one exposed patient (infected or not), and record how it went."""

    clinic_path = "alert__clinic"

    alert = models.ForeignKey(OutbreakAlert, on_delete=models.PROTECT, related_name="contacts")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    infected = models.BooleanField(default=False)
    onset_on = models.DateField(
        null=True, blank=True, help_text="Onset of the first infection counted against the unit."
    )
    first_exposed_on = models.DateField()
    last_exposed_on = models.DateField()
    sessions = models.PositiveIntegerField()
    status = models.CharField(
        max_length=12, choices=ContactStatus.choices, default=ContactStatus.TO_CONTACT
    )
    note = models.TextField(blank=True, help_text="What was said, or what was tried.")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(null=True, blank=True)
    history = HistoricalRecords()

    objects = _KeptQuerySet.as_manager()

    class Meta:
        ordering = ["alert", "-infected", "patient__family_name", "patient__given_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["alert", "patient"], name="evidence_alert_contact_once_per_patient"
            ),
            models.CheckConstraint(
                condition=models.Q(infected=False, onset_on__isnull=True)
                | models.Q(infected=True, onset_on__isnull=False),
                name="evidence_alert_contact_onset_iff_infected",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alert}: {self.patient}"

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise KeptAlertError("A contact task is kept; record how the contact went instead.")
