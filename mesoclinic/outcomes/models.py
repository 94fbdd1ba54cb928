"""Outcome measurements of a course, on the catalogue's validated scales.

Each value is stored with its scale (so a value is never ambiguous between variants), the
moment it was taken, its time point relative to the course (computed from the sessions in the
clinic's time zone, see ``timepoints``), who rated it and who recorded it. A measurement never
changes; one entered in error is retracted with a reason and a new one recorded.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from mesoclinic.catalogue.models import OutcomeScale
from mesoclinic.charts.models import Chart
from mesoclinic.clinics.models import Clinic
from mesoclinic.courses.models import CoursePlan
from mesoclinic.patients.models import Patient


class MeasurementChangeError(Exception):
    """Raised on an attempt to change or delete a recorded measurement."""


class TimePoint(models.TextChoices):
    BASELINE = "baseline", "Baseline"
    SESSION = "session", "During the course"
    END = "end", "End of course"
    MONTH_3 = "month_3", "3 months after"
    MONTH_6 = "month_6", "6 months after"
    MONTH_12 = "month_12", "12 months after"
    UNSCHEDULED = "unscheduled", "Outside the scheduled time points"


class Rater(models.TextChoices):
    PRACTITIONER = "practitioner", "Practitioner"
    PATIENT = "patient", "Patient"
    ASSESSOR = "assessor", "Other clinic staff"


RETRACTION_FIELDS = frozenset({"retracted_at", "retracted_by", "retraction_reason"})


class MeasurementQuerySet(models.QuerySet["Measurement"]):
    def update(self, **kwargs: Any) -> int:
        if set(kwargs) - RETRACTION_FIELDS:
            raise MeasurementChangeError("A measurement is not changed; retract it instead.")
        if self.filter(retracted_at__isnull=False).exists():
            raise MeasurementChangeError("A retraction is final.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        raise MeasurementChangeError("A measurement is kept; retract it with a reason instead.")

    def current(self) -> MeasurementQuerySet:
        return self.filter(retracted_at__isnull=True)


class Measurement(models.Model):
    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="measurements")
    plan = models.ForeignKey(CoursePlan, on_delete=models.PROTECT, related_name="measurements")
    scale = models.ForeignKey(OutcomeScale, on_delete=models.PROTECT, related_name="+")
    value = models.DecimalField(max_digits=10, decimal_places=3)
    site = models.CharField(
        max_length=200,
        blank=True,
        help_text="The landmark or target area measured (e.g. 'navel + 5 cm', 'vertex tattoo').",
    )
    measured_at = models.DateTimeField()
    time_point = models.CharField(max_length=12, choices=TimePoint.choices)
    session_number = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="For a measurement during the course: the last session."
    )
    chart = models.ForeignKey(
        Chart,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="measurements",
        help_text="The session it was taken at, if any.",
    )
    rater = models.CharField(max_length=12, choices=Rater.choices)
    rated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)
    note = models.TextField(blank=True)
    retracted_at = models.DateTimeField(null=True, blank=True)
    retracted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    retraction_reason = models.TextField(blank=True)

    objects = MeasurementQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "scale", "measured_at", "pk"]
        indexes = [models.Index(fields=["plan", "scale", "measured_at"])]

    def __str__(self) -> str:
        return f"{self.scale.code} = {self.value} ({self.get_time_point_display()})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            fields = set(kwargs.get("update_fields") or ())
            if not fields or fields - RETRACTION_FIELDS:
                raise MeasurementChangeError("A measurement is not changed; retract it instead.")
            if Measurement.objects.filter(pk=self.pk, retracted_at__isnull=False).exists():
                raise MeasurementChangeError("A retraction is final.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise MeasurementChangeError("A measurement is kept; retract it with a reason instead.")
