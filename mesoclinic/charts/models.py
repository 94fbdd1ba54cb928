"""The treatment chart of a session: what was injected where, with what, and how.

A chart is a draft until its practitioner signs it. While a draft, every change is saved at
once (the page has no "save" button), and the draft's syringes, lots, areas and points are
rewritten as a whole by ``services.save_draft``. Signing takes the lots from stock, stamps
``signed_at`` and the SHA-256 of the chart's content, and from then on nothing of the chart
changes: the models refuse ``save()`` and ``delete()``, the querysets refuse ``update()``
and ``delete()``, and database triggers (migration 0002) refuse any UPDATE, DELETE or new
row under a signed chart from any SQL. A correction is a ``ChartAmendment``, itself append-
only, which keeps the original value beside the new one.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models

from mesoclinic.catalogue.models import BodyArea, BodyMapView
from mesoclinic.clinics.models import Clinic
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.formulas.models import FormulaVersion, Lot, LotUse
from mesoclinic.patients.models import Patient
from mesoclinic.screening.models import Screening


class SignedChartError(Exception):
    """Raised on any attempt to change or remove a signed chart or what it holds."""


class Technique(models.TextChoices):
    NAPPAGE = "nappage", "Nappage (many shallow micro-injections)"
    PAPULE = "papule", "Papule (small intradermal bleb)"
    POINT = "point", "Point by point"
    LINEAR = "linear", "Linear (threading along a line)"
    INJECTOR = "injector", "Injector gun"


class Device(models.TextChoices):
    SYRINGE = "syringe", "Syringe and needle"
    INJECTOR = "injector", "Injector gun"


class Side(models.TextChoices):
    NONE = "", "Midline / not sided"
    LEFT = "left", "Left"
    RIGHT = "right", "Right"
    BOTH = "both", "Both sides"


class PhotoMoment(models.TextChoices):
    BEFORE = "before", "Before"
    AFTER = "after", "Immediately after"


class PhotoView(models.TextChoices):
    """The standard views, so that photos of the same area compare across sessions."""

    FRONT = "front", "Front"
    LEFT_OBLIQUE = "left_oblique", "Left 45°"
    RIGHT_OBLIQUE = "right_oblique", "Right 45°"
    LEFT = "left", "Left profile"
    RIGHT = "right", "Right profile"
    BACK = "back", "Back"
    TOP = "top", "From above (scalp)"


class _SignedGuard(models.QuerySet[Any]):
    """Refuses bulk changes of rows under a signed chart (the triggers refuse them too)."""

    chart_field = "chart__signed_at__isnull"

    def _touches_signed(self) -> bool:
        return self.filter(**{self.chart_field: False}).exists()

    def update(self, **kwargs: Any) -> int:
        if self._touches_signed():
            raise SignedChartError("A signed chart cannot be changed; record an amendment.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self._touches_signed():
            raise SignedChartError("A signed chart cannot be deleted.")
        return super().delete()


class ChartQuerySet(_SignedGuard):
    chart_field = "signed_at__isnull"


def _signed(chart_id: int | None) -> bool:
    # Asked of the stored row, not the instance, which may be stale.
    return (
        chart_id is not None and Chart.objects.filter(pk=chart_id, signed_at__isnull=False).exists()
    )


class _ChartPart(models.Model):
    """A row that belongs to a chart and freezes with it."""

    clinic_path = "chart__clinic"
    # Each subclass declares its ``chart`` foreign key; this names its column for the checks.
    chart_id: int

    objects = _SignedGuard.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if _signed(self.chart_id):
            raise SignedChartError("A signed chart cannot be changed; record an amendment.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if _signed(self.chart_id):
            raise SignedChartError("A signed chart cannot be deleted.")
        return super().delete(*args, **kwargs)


class Chart(models.Model):
    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    appointment = models.OneToOneField(Appointment, on_delete=models.PROTECT, related_name="chart")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="charts")
    plan = models.ForeignKey(
        CoursePlan, null=True, blank=True, on_delete=models.PROTECT, related_name="charts"
    )
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    formula_version = models.ForeignKey(FormulaVersion, on_delete=models.PROTECT, related_name="+")
    screening = models.ForeignKey(
        Screening,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The screening that cleared the chart to start.",
    )
    session_number = models.PositiveSmallIntegerField(null=True, blank=True)
    copied_from = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The earlier chart this one started as a copy of.",
    )

    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    anaesthetic_product = models.CharField(
        max_length=200, blank=True, help_text="Empty when no anaesthetic cream was applied."
    )
    anaesthetic_minutes = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(180)]
    )
    pain_score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(10)], help_text="0 (none) to 10."
    )
    immediate_reactions = models.TextField(blank=True)
    aftercare_given = models.TextField(blank=True)
    notes = models.TextField(blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    content_sha256 = models.CharField(
        max_length=64, blank=True, help_text="SHA-256 of the chart's content as signed."
    )

    objects = ChartQuerySet.as_manager()

    class Meta:
        ordering = ["-appointment__starts_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(pain_score__isnull=True) | models.Q(pain_score__lte=10),
                name="charts_pain_score_0_10",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    signed_at__isnull=True, signed_by__isnull=True, content_sha256=""
                )
                | models.Q(
                    signed_at__isnull=False,
                    signed_by__isnull=False,
                    started_at__isnull=False,
                    ended_at__isnull=False,
                )
                & ~models.Q(content_sha256=""),
                name="charts_signed_is_complete",
                violation_error_message="A signed chart needs its signer, times and hash.",
            ),
        ]

    def __str__(self) -> str:
        return f"Chart {self.pk} of {self.patient} ({self.appointment})"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if _signed(self.pk):
            raise SignedChartError("A signed chart cannot be changed; record an amendment.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if _signed(self.pk):
            raise SignedChartError("A signed chart cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None


class Syringe(_ChartPart):
    chart = models.ForeignKey(Chart, on_delete=models.CASCADE, related_name="syringes")
    number = models.PositiveSmallIntegerField()
    device = models.CharField(max_length=10, choices=Device.choices, default=Device.SYRINGE)
    volume_ml = models.DecimalField(
        max_digits=7, decimal_places=2, help_text="What was drawn into it and injected."
    )
    needle_gauge = models.PositiveSmallIntegerField(null=True, blank=True)
    needle_length_mm = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    injector_id = models.CharField(
        max_length=100, blank=True, help_text="The injector gun's serial or asset number."
    )

    class Meta:
        ordering = ["chart", "number"]
        constraints = [
            models.UniqueConstraint(fields=["chart", "number"], name="charts_syringe_number"),
            models.CheckConstraint(
                condition=models.Q(volume_ml__gt=0), name="charts_syringe_volume_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"Syringe {self.number}"


class SyringeLot(_ChartPart):
    """A product lot drawn into a syringe; at signing it becomes a ``LotUse`` (the trace)."""

    chart = models.ForeignKey(Chart, on_delete=models.CASCADE, related_name="+")
    syringe = models.ForeignKey(Syringe, on_delete=models.CASCADE, related_name="lots")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    volume_ml = models.DecimalField(max_digits=7, decimal_places=2)
    opens_unit = models.BooleanField(
        default=False, help_text="A new vial of a multi-dose product was opened for this."
    )
    lot_use = models.OneToOneField(
        LotUse, null=True, blank=True, on_delete=models.PROTECT, related_name="chart_line"
    )

    class Meta:
        ordering = ["syringe", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(volume_ml__gt=0), name="charts_syringe_lot_volume_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.volume_ml} mL of lot {self.lot.lot_number}"


class AreaTreatment(_ChartPart):
    """One body area (and side) treated, from one syringe, with one technique."""

    chart = models.ForeignKey(Chart, on_delete=models.CASCADE, related_name="areas")
    position = models.PositiveSmallIntegerField()
    body_area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=5, choices=Side.choices, blank=True)
    syringe = models.ForeignKey(Syringe, on_delete=models.CASCADE, related_name="areas")
    technique = models.CharField(max_length=10, choices=Technique.choices)
    depth_mm = models.DecimalField(max_digits=4, decimal_places=1)
    volume_per_point_ml = models.DecimalField(max_digits=6, decimal_places=3)
    point_count = models.PositiveIntegerField(
        help_text="Injection points in all, including any not placed on the map one by one."
    )

    class Meta:
        ordering = ["chart", "position"]
        constraints = [
            models.UniqueConstraint(fields=["chart", "position"], name="charts_area_position"),
            models.CheckConstraint(
                condition=models.Q(depth_mm__gt=0, volume_per_point_ml__gt=0, point_count__gt=0),
                name="charts_area_positive",
            ),
        ]

    def __str__(self) -> str:
        side = f" ({self.get_side_display().lower()})" if self.side else ""
        return f"{self.body_area.label}{side}"


class InjectionPoint(_ChartPart):
    """A point placed on the map; depth and volume default to its area's."""

    chart = models.ForeignKey(Chart, on_delete=models.CASCADE, related_name="+")
    area = models.ForeignKey(AreaTreatment, on_delete=models.CASCADE, related_name="points")
    number = models.PositiveSmallIntegerField(help_text="Numbered within the chart, 1, 2, ...")
    view = models.CharField(max_length=10, choices=BodyMapView.choices)
    x = models.DecimalField(max_digits=5, decimal_places=1)
    y = models.DecimalField(max_digits=5, decimal_places=1)
    depth_mm = models.DecimalField(max_digits=4, decimal_places=1, null=True, blank=True)
    volume_ml = models.DecimalField(max_digits=6, decimal_places=3, null=True, blank=True)

    class Meta:
        ordering = ["chart", "number"]
        constraints = [
            models.UniqueConstraint(fields=["chart", "number"], name="charts_point_number"),
        ]

    def __str__(self) -> str:
        return f"Point {self.number}"

    @property
    def key(self) -> str:
        return str(self.number)

    @property
    def label(self) -> str:
        return str(self.number)


def photo_upload_to(instance: ChartPhoto, filename: str) -> str:
    # Not the uploaded name, which may carry the patient's name.
    return f"charts/{instance.chart.clinic_id}/{instance.chart_id}/{uuid4().hex}.jpg"


class ChartPhoto(_ChartPart):
    chart = models.ForeignKey(Chart, on_delete=models.CASCADE, related_name="photos")
    moment = models.CharField(max_length=6, choices=PhotoMoment.choices)
    body_area = models.ForeignKey(BodyArea, on_delete=models.PROTECT, related_name="+")
    view = models.CharField(max_length=14, choices=PhotoView.choices)
    image = models.FileField(upload_to=photo_upload_to)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    taken_at = models.DateTimeField()
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["chart", "body_area", "view", "moment", "pk"]

    def __str__(self) -> str:
        return f"{self.get_moment_display()} {self.body_area.label}, {self.get_view_display()}"


class AmendableField(models.TextChoices):
    """What a signed chart's amendment may correct. The lots and the map are the trace of
    what went into the patient; a wrong lot is corrected through the formulas' lot records,
    not by rewriting the chart."""

    STARTED_AT = "started_at", "Start time"
    ENDED_AT = "ended_at", "End time"
    ANAESTHETIC_PRODUCT = "anaesthetic_product", "Anaesthetic cream"
    ANAESTHETIC_MINUTES = "anaesthetic_minutes", "Minutes the cream was on"
    PAIN_SCORE = "pain_score", "Pain score"
    IMMEDIATE_REACTIONS = "immediate_reactions", "Immediate reactions"
    AFTERCARE_GIVEN = "aftercare_given", "Aftercare given"
    NOTES = "notes", "Notes"


class AmendmentQuerySet(models.QuerySet["ChartAmendment"]):
    def update(self, **kwargs: Any) -> int:
        raise SignedChartError("An amendment cannot be changed; record another.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise SignedChartError("An amendment cannot be deleted.")


class ChartAmendment(models.Model):
    """A correction of a signed chart: the value it replaced, the new one, who, when, why."""

    clinic_path = "chart__clinic"

    chart = models.ForeignKey(Chart, on_delete=models.PROTECT, related_name="amendments")
    field = models.CharField(max_length=24, choices=AmendableField.choices)
    original = models.TextField(blank=True, help_text="The value before this amendment.")
    value = models.TextField(blank=True)
    reason = models.TextField()
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AmendmentQuerySet.as_manager()

    class Meta:
        ordering = ["chart", "created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(reason=""), name="charts_amendment_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"Amendment of {self.get_field_display().lower()} on chart {self.chart_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise SignedChartError("An amendment cannot be changed; record another.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise SignedChartError("An amendment cannot be deleted.")
