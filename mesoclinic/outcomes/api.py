"""Outcome measurements over the API, at /api/v1/outcomes/.

Reading needs ``outcome.view``, recording and retracting ``outcome.record``. A course plan is
fetched through the tenancy helpers: another clinic's plan or measurement is 404. A value is
checked against its scale's range and step and refused (422) with the range in the message;
the time point is computed from the course's sessions in the clinic's time zone. A
measurement never changes: one entered in error is retracted, once, with a reason (409 the
second time).

Values are JSON numbers in the responses and may be sent as numbers or strings, with no more
than three decimal places. Times are ISO 8601 with their offset, returned in the clinic's
zone; a time without an offset is refused.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from mesoclinic.catalogue.models import Direction, ScaleKind
from mesoclinic.clinics import audit
from mesoclinic.clinics.api_errors import invalid
from mesoclinic.clinics.models import STAFF_ROLES, AuditAction, User
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.courses.models import CoursePlan
from mesoclinic.outcomes import results, services
from mesoclinic.outcomes.models import Measurement, Rater, TimePoint

router = Router(tags=["outcomes"])

NO_NUL = r"^[^\x00]*$"
RETRACTED = "This measurement was retracted already."
RETRACTED_CONFLICT = {"409": {"description": "The measurement was retracted already."}}
Value = Annotated[Decimal, Field(max_digits=10, decimal_places=3)]


class LevelOut(Schema):
    value: float
    label: str
    description: str


class ScaleOut(Schema):
    code: str
    label: str
    variant: str
    kind: ScaleKind
    min_value: float
    max_value: float
    step: float
    unit: str
    direction: Direction
    primary: bool = Field(description="The course indication's primary scale.")
    site_required: bool = Field(description="Values compare only at a named site.")
    levels: list[LevelOut]


class MeasurementIn(Schema):
    scale: str = Field(
        max_length=64, pattern=NO_NUL, description="The code of a scale serving the course."
    )
    value: Value = Field(description="A point of the scale: within its range, on its step.")
    measured_at: datetime = Field(description="With its UTC offset; not in the future.")
    rater: Rater
    rated_by_id: int | None = Field(
        None,
        ge=1,
        description="The staff member who rated (for the patient's own rating, who asked); "
        "the caller when left out.",
    )
    site: str = Field("", max_length=200, pattern=NO_NUL)
    note: str = Field("", max_length=10_000, pattern=NO_NUL)


class MeasurementRetractIn(Schema):
    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


class MeasurementOut(Schema):
    id: int
    plan_id: int
    patient_id: int
    scale: str
    value: float
    site: str
    measured_at: datetime
    time_point: TimePoint
    session_number: int | None = Field(description="During the course: the last session held.")
    chart_id: int | None
    rater: Rater
    rated_by_id: int
    recorded_by_id: int
    recorded_at: datetime
    note: str
    retracted_at: datetime | None
    retracted_by_id: int | None
    retraction_reason: str


class ResultPointOut(Schema):
    measurement_id: int
    measured_at: datetime
    time_point: TimePoint
    value: float
    change: float | None = Field(description="From the series' baseline; null without one.")


class SeriesOut(Schema):
    site: str
    baseline: float | None
    end: float | None
    change_at_end: float | None = Field(description="Null unless both were measured.")
    points: list[ResultPointOut]


class RatingOut(Schema):
    label: str
    scale: str | None
    value: float | None
    level: str
    measured_at: datetime | None


class ResultSideEffectOut(Schema):
    adverse_event_id: int
    label: str
    onset_on: date
    grade: int
    session_number: int | None


class ResultOut(Schema):
    plan_id: int
    scale: str
    scale_label: str
    unit: str
    direction: Direction
    course_over: bool
    series: list[SeriesOut] = Field(description="One per site measured.")
    missing: list[str] = Field(description="Baseline or end values not measured: never imputed.")
    ratings: list[RatingOut]
    side_effects: list[ResultSideEffectOut]
    evidence_note: str


def _plan(request: HttpRequest, plan_id: int) -> CoursePlan:
    return get_scoped_or_404(request, CoursePlan, pk=plan_id)


def _out(measurement: Measurement) -> dict[str, Any]:
    tz = measurement.plan.clinic.tz

    def local(moment: datetime | None) -> datetime | None:
        return None if moment is None else timezone.localtime(moment, tz)

    return {
        "id": measurement.pk,
        "plan_id": measurement.plan_id,
        "patient_id": measurement.patient_id,
        "scale": measurement.scale.code,
        "value": measurement.value,
        "site": measurement.site,
        "measured_at": local(measurement.measured_at),
        "time_point": measurement.time_point,
        "session_number": measurement.session_number,
        "chart_id": measurement.chart_id,
        "rater": measurement.rater,
        "rated_by_id": measurement.rated_by_id,
        "recorded_by_id": measurement.recorded_by_id,
        "recorded_at": local(measurement.recorded_at),
        "note": measurement.note,
        "retracted_at": local(measurement.retracted_at),
        "retracted_by_id": measurement.retracted_by_id,
        "retraction_reason": measurement.retraction_reason,
    }


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


@router.get(
    "/courses/{plan_id}/scales",
    response=list[ScaleOut],
    summary="The scales a course is measured on",
    description="Those serving the course's indication, its primary scale first.",
)
@api_requires(Perm.OUTCOME_VIEW)
def list_scales(request: HttpRequest, plan_id: int) -> list[dict[str, Any]]:
    plan = _plan(request, plan_id)
    return [
        {
            "code": scale.code,
            "label": scale.label,
            "variant": scale.variant,
            "kind": scale.kind,
            "min_value": scale.min_value,
            "max_value": scale.max_value,
            "step": scale.step,
            "unit": scale.unit,
            "direction": scale.direction,
            "primary": scale.pk == plan.indication.primary_scale_id,
            "site_required": services.site_required(scale),
            "levels": [
                {"value": level.value, "label": level.label, "description": level.description}
                for level in scale.levels.all()
            ],
        }
        for scale in services.scales_for(plan)
    ]


@router.get(
    "/courses/{plan_id}/measurements",
    response=list[MeasurementOut],
    summary="A course's measurements",
    description="Oldest first, retracted ones included (with the reason). The read is audited.",
)
@api_requires(Perm.OUTCOME_VIEW)
def list_measurements(
    request: HttpRequest, plan_id: int, scale: str | None = None, current: bool = False
) -> list[dict[str, Any]]:
    plan = _plan(request, plan_id)
    found = Measurement.objects.filter(plan=plan).select_related("scale", "plan__clinic")
    if scale is not None:
        found = found.filter(scale__code=scale)
    if current:
        found = found.filter(retracted_at__isnull=True)
    audit.record(AuditAction.VIEW, request=request, obj=plan, what="measurements")
    return [_out(m) for m in found.order_by("measured_at", "pk")]


@router.post(
    "/courses/{plan_id}/measurements",
    response={201: MeasurementOut},
    summary="Record a measurement",
    description="On a scale serving the course's indication, with a value of the scale (422 "
    "gives the range otherwise), a site where the scale needs one, at a time not in the "
    "future. The time point is computed from the course's sessions.",
)
@api_requires(Perm.OUTCOME_RECORD)
def record_measurement(
    request: HttpRequest, plan_id: int, payload: MeasurementIn
) -> Status[dict[str, Any]]:
    plan = _plan(request, plan_id)
    scale = next((s for s in services.scales_for(plan) if s.code == payload.scale), None)
    if scale is None:
        raise HttpError(
            422,
            f"{payload.scale!r} is not a scale serving {plan.indication.label.lower()} courses.",
        )
    if timezone.is_naive(payload.measured_at):
        raise HttpError(422, "measured_at has no UTC offset, so it names no instant.")
    actor = signed_in_user(request)
    rated_by: User = actor
    if payload.rated_by_id is not None:
        # Active staff only, as on the page: patients rate through their own portal account.
        found = (
            scoped(request, User)
            .filter(pk=payload.rated_by_id, role__in=STAFF_ROLES, is_active=True)
            .first()
        )
        if found is None:
            raise HttpError(
                422, f"No staff member of this clinic has the id {payload.rated_by_id}."
            )
        rated_by = found
    try:
        measurement = services.record_measurement(
            plan,
            scale,
            payload.value,
            payload.measured_at,
            payload.rater,
            rated_by,
            actor,
            site=payload.site,
            note=payload.note,
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, _out(measurement))


@router.post(
    "/measurements/{measurement_id}/retract",
    response=MeasurementOut,
    summary="Retract a measurement",
    description="With the reason; the measurement stays on record, marked retracted, and no "
    "longer counts in the result. A second retraction is 409.",
    openapi_extra={"responses": RETRACTED_CONFLICT},
)
@api_requires(Perm.OUTCOME_RECORD)
def retract_measurement(
    request: HttpRequest, measurement_id: int, payload: MeasurementRetractIn
) -> dict[str, Any]:
    measurement = get_scoped_or_404(request, Measurement, pk=measurement_id)
    if measurement.retracted_at is not None:
        raise HttpError(409, RETRACTED)
    try:
        services.retract_measurement(
            measurement, payload.reason, signed_in_user(request), request=request
        )
    except ValidationError as error:
        if Measurement.objects.filter(pk=measurement.pk, retracted_at__isnull=False).exists():
            raise HttpError(409, RETRACTED) from None
        raise invalid(error) from None
    return _out(measurement)


@router.get(
    "/courses/{plan_id}/result",
    response=ResultOut,
    summary="A course's result",
    description="The primary scale over time with the change from baseline, per site; what "
    "is missing (never imputed); the global ratings; the side effects of the sessions. The "
    "read is audited.",
)
@api_requires(Perm.OUTCOME_VIEW)
def course_result(request: HttpRequest, plan_id: int) -> dict[str, Any]:
    plan = _plan(request, plan_id)
    result = results.course_result(plan)
    tz = plan.clinic.tz
    audit.record(AuditAction.VIEW, request=request, obj=plan, what="result")
    return {
        "plan_id": plan.pk,
        "scale": result.scale.code,
        "scale_label": result.scale.label,
        "unit": result.scale.unit,
        "direction": result.scale.direction,
        "course_over": result.over,
        "series": [
            {
                "site": series.site,
                "baseline": _number(series.baseline.value if series.baseline else None),
                "end": _number(series.end.value if series.end else None),
                "change_at_end": _number(series.change_at_end),
                "points": [
                    {
                        "measurement_id": point.measurement.pk,
                        "measured_at": point.at,
                        "time_point": point.measurement.time_point,
                        "value": point.value,
                        "change": _number(point.change),
                    }
                    for point in series.points
                ],
            }
            for series in result.series
        ],
        "missing": result.missing,
        "ratings": [
            {
                "label": rating.label,
                "scale": rating.measurement.scale.code if rating.measurement else None,
                "value": _number(rating.measurement.value if rating.measurement else None),
                "level": rating.level,
                "measured_at": timezone.localtime(rating.measurement.measured_at, tz)
                if rating.measurement
                else None,
            }
            for rating in result.ratings
        ],
        "side_effects": [
            {
                "adverse_event_id": mark.event.pk,
                "label": mark.label,
                "onset_on": mark.onset_on,
                "grade": mark.grade,
                "session_number": mark.session_number,
            }
            for mark in result.side_effects
        ],
        "evidence_note": result.evidence_note,
    }
