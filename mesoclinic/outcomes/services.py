"""Recording and retracting outcome measurements.

A value is checked against its scale (range and step, counted from the scale's minimum), the
scale must serve the course's indication, and the time point is computed from the course's
sessions (``timepoints``). A measurement is never changed: one entered in error is retracted
with a reason, once, and a new one recorded.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from mesoclinic.catalogue.models import OutcomeScale
from mesoclinic.charts.models import Chart
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Role, User
from mesoclinic.courses.models import CoursePlan
from mesoclinic.outcomes import timepoints
from mesoclinic.outcomes.models import Measurement, Rater

# Scales whose values compare only at the same marked place: a circumference at its landmark,
# hairs counted in a tattooed target area, one wrinkle of the face.
SITE_REQUIRED = frozenset(
    {"circumference", "hair-density", "terminal-hair-density", "vellus-hair-density", "lemperle"}
)
EARLIEST_YEAR = 2000


def number_text(value: Decimal) -> str:
    """12, 0.5, 172.3: a decimal as people write it, without trailing zeros."""
    return f"{value.normalize():f}"


def scale_range(scale: OutcomeScale) -> str:
    unit = f" {scale.unit}" if scale.unit else ""
    return (
        f"from {number_text(scale.min_value)} to {number_text(scale.max_value)}{unit} "
        f"in steps of {number_text(scale.step)}"
    )


def validate_value(scale: OutcomeScale, value: Decimal | int | str) -> Decimal:
    """The value as a Decimal if it is a point of the scale, else a ValidationError that
    gives the scale's range."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(f"“{value}” is not a number.") from None
    if not number.is_finite():
        raise ValidationError(f"“{value}” is not a number.")
    takes = f"{scale.label} takes values {scale_range(scale)}"
    if not scale.min_value <= number <= scale.max_value:
        raise ValidationError(f"{takes}; {number_text(number)} is outside that range.")
    if (number - scale.min_value) % scale.step:
        raise ValidationError(f"{takes}; {number_text(number)} is not one of them.")
    return number


def scales_for(plan: CoursePlan) -> list[OutcomeScale]:
    """The scales that serve the course's indication, its primary scale first."""
    found = (
        OutcomeScale.objects.filter(retired=False)
        .filter(Q(all_indications=True) | Q(indications=plan.indication_id))
        .distinct()
        .prefetch_related("levels")
    )
    primary = plan.indication.primary_scale_id
    return sorted(found, key=lambda scale: (scale.pk != primary, scale.label))


def site_required(scale: OutcomeScale) -> bool:
    return scale.code in SITE_REQUIRED


def sites_used(plan: CoursePlan, scale: OutcomeScale) -> list[str]:
    """The named sites of the course's current readings on ``scale``, first used first.
    Offered when a reading is recorded: a change is computed only between readings at the
    same site, so "Navel + 5 cm" and "navel +5cm" would not be compared."""
    sites = (
        Measurement.objects.filter(plan=plan, scale=scale, retracted_at__isnull=True)
        .exclude(site="")
        .order_by("measured_at", "pk")
        .values_list("site", flat=True)
    )
    return list(dict.fromkeys(sites))


def _check_rater(plan: CoursePlan, rater: str, rated_by: User) -> None:
    if rater not in Rater.values:
        raise ValidationError(f"“{rater}” is not a rater: {', '.join(Rater.values)}.")
    if rated_by.clinic_id != plan.clinic_id:
        raise ValidationError("The person who rated must belong to the course's clinic.")
    if rater == Rater.PRACTITIONER and rated_by.role != Role.PRACTITIONER:
        raise ValidationError(f"{rated_by} is not a practitioner: choose another rater.")
    if rated_by.role == Role.PATIENT and rater != Rater.PATIENT:
        raise ValidationError("A patient's own account records only the patient's rating.")


def _chart_of(plan: CoursePlan, measured_at: datetime, chart: Chart | None) -> Chart | None:
    """The session the measurement was taken at: the one named, or the course's only chart
    of that day in the clinic's zone."""
    tz = plan.clinic.tz
    day = timezone.localdate(measured_at, tz)
    if chart is not None:
        if chart.plan_id != plan.pk:
            raise ValidationError("That chart is not of this course.")
        if timezone.localdate(chart.appointment.starts_at, tz) != day:
            raise ValidationError("The measurement was not taken on the day of that session.")
        return chart
    same_day = [
        found
        for found in Chart.objects.filter(plan=plan).select_related("appointment")
        if timezone.localdate(found.appointment.starts_at, tz) == day
    ]
    return same_day[0] if len(same_day) == 1 else None


def record_measurement(
    plan: CoursePlan,
    scale: OutcomeScale,
    value: Decimal | int | str,
    measured_at: datetime,
    rater: str,
    rated_by: User,
    actor: User,
    *,
    site: str = "",
    note: str = "",
    chart: Chart | None = None,
    request: HttpRequest | None = None,
) -> Measurement:
    problems = []
    if scale.retired:
        problems.append(f"{scale.label} is no longer in the catalogue.")
    elif not (scale.all_indications or scale.indications.filter(pk=plan.indication_id).exists()):
        problems.append(f"{scale.label} does not serve {plan.indication.label.lower()} courses.")
    try:
        number = validate_value(scale, value)
    except ValidationError as error:
        problems.extend(error.messages)
    if timezone.is_naive(measured_at):
        raise ValidationError("The time of measurement needs its time zone.")
    if measured_at > timezone.now():
        problems.append("The time of measurement is in the future.")
    elif measured_at.year < EARLIEST_YEAR:
        problems.append(f"The time of measurement is before {EARLIEST_YEAR}.")
    site = site.strip()
    if site_required(scale) and not site:
        problems.append(
            f"Name the site measured for {scale.label} (for example “navel + 5 cm” or "
            "“vertex tattoo”): its values compare only at the same place."
        )
    try:
        _check_rater(plan, rater, rated_by)
    except ValidationError as error:
        problems.extend(error.messages)
    if problems:
        raise ValidationError(problems)
    point, session_number = timepoints.time_point_of(plan, measured_at)
    measurement = Measurement(
        clinic_id=plan.clinic_id,
        patient_id=plan.patient_id,
        plan=plan,
        scale=scale,
        value=number,
        site=site,
        measured_at=measured_at,
        time_point=point,
        session_number=session_number,
        chart=_chart_of(plan, measured_at, chart),
        rater=rater,
        rated_by=rated_by,
        recorded_by=actor,
        note=note.strip(),
    )
    measurement.full_clean(exclude=["clinic", "patient", "plan", "scale", "rated_by", "chart"])
    with transaction.atomic():
        measurement.save()
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=measurement,
            scale=scale.code,
            value=str(number),
            time_point=point,
        )
    return measurement


def retract_measurement(
    measurement: Measurement, reason: str, actor: User, request: HttpRequest | None = None
) -> Measurement:
    reason = reason.strip()
    if not reason:
        raise ValidationError("Give the reason for retracting the measurement.")
    now = timezone.now()
    with transaction.atomic():
        # Conditional, so that of two retractions at once only one is kept.
        done = Measurement.objects.filter(pk=measurement.pk, retracted_at__isnull=True).update(
            retracted_at=now, retracted_by=actor, retraction_reason=reason
        )
        if not done:
            raise ValidationError("This measurement was retracted already.")
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=measurement,
            retracted=True,
            reason=reason,
        )
    measurement.retracted_at, measurement.retracted_by, measurement.retraction_reason = (
        now,
        actor,
        reason,
    )
    return measurement
