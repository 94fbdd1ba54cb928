"""A course's measurements page: the values by scale and time point, the course's result, the
record form for one scale at a time, and retraction with a reason."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from mesoclinic.catalogue.models import OutcomeScale, ScaleLevel
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Role
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404
from mesoclinic.courses.models import CoursePlan
from mesoclinic.outcomes import services
from mesoclinic.outcomes.forms import MeasurementForm, RetractForm
from mesoclinic.outcomes.models import Measurement, Rater


def _scale(plan: CoursePlan, scales: list[OutcomeScale], code: str | None) -> OutcomeScale:
    """The scale asked for, else the course's primary scale, else the first that serves it
    (the scales for every indication, such as GAIS, always serve)."""
    chosen = next((scale for scale in scales if scale.code == code), None)
    primary = next((s for s in scales if s.pk == plan.indication.primary_scale_id), None)
    return chosen or primary or scales[0]


def _page(
    request: HttpRequest, plan: CoursePlan, form: MeasurementForm | None = None, status: int = 200
) -> HttpResponse:
    scales = services.scales_for(plan)
    scale = form.scale if form is not None else _scale(plan, scales, request.GET.get("scale"))
    user = signed_in_user(request)
    can_record = has_perm(user, Perm.OUTCOME_RECORD, request)
    if form is None and can_record:
        form = MeasurementForm(
            scale=scale,
            clinic_id=plan.clinic_id,
            tz=plan.clinic.tz,
            sites=services.sites_used(plan, scale),
            initial={
                "measured_at": timezone.localtime(timezone.now(), plan.clinic.tz).replace(
                    second=0, microsecond=0, tzinfo=None
                ),
                "rater": Rater.PRACTITIONER if user.role == Role.PRACTITIONER else Rater.ASSESSOR,
                "rated_by": user.pk,
            },
        )
    measurements = list(
        Measurement.objects.filter(plan=plan)
        .select_related("scale", "rated_by", "recorded_by", "retracted_by")
        .order_by("scale__label", "site", "measured_at", "pk")
    )
    levels = {
        (level.scale_id, level.value): level.label
        for level in ScaleLevel.objects.filter(scale__in={m.scale_id for m in measurements})
    }
    groups: dict[OutcomeScale, list[dict[str, Any]]] = {}
    for m in measurements:
        groups.setdefault(m.scale, []).append(
            {
                "measurement": m,
                "at": timezone.localtime(m.measured_at, plan.clinic.tz),
                "level": levels.get((m.scale_id, m.value), ""),
            }
        )
    audit.record(
        AuditAction.VIEW, request=request, obj=plan, patient_id=plan.patient_id, what="outcomes"
    )
    context: dict[str, Any] = {
        "plan": plan,
        "groups": list(groups.items()),
        "scales": scales,
        "scale": scale,
        "form": form if can_record else None,
        "can_record": can_record,
        "site_required": services.site_required(scale),
    }
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "outcomes/_record_form.html", context, status=status)
    return render(request, "outcomes/measurements.html", context, status=status)


@requires(Perm.OUTCOME_VIEW)
def measurements(request: HttpRequest, plan_pk: int) -> HttpResponse:
    return _page(request, get_scoped_or_404(request, CoursePlan, pk=plan_pk))


@require_POST
@requires(Perm.OUTCOME_RECORD)
def record(request: HttpRequest, plan_pk: int) -> HttpResponse:
    plan = get_scoped_or_404(request, CoursePlan, pk=plan_pk)
    scales = services.scales_for(plan)
    scale = next((s for s in scales if s.code == request.POST.get("scale")), None)
    if scale is None:
        messages.error(request, "Choose a scale that serves this course's indication.")
        return redirect("outcomes:measurements", plan.pk)
    form = MeasurementForm(
        request.POST,
        scale=scale,
        clinic_id=plan.clinic_id,
        tz=plan.clinic.tz,
        sites=services.sites_used(plan, scale),
    )
    if form.is_valid():
        data = form.cleaned_data
        try:
            measurement = services.record_measurement(
                plan,
                scale,
                data["value"],
                data["measured_at"],
                data["rater"],
                data["rated_by"],
                signed_in_user(request),
                site=data["site"],
                note=data["note"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"{scale.label}: {services.number_text(measurement.value)} recorded "
                f"({measurement.get_time_point_display().lower()}"
                f"{f' {measurement.session_number}' if measurement.session_number else ''}).",
            )
            return redirect(
                f"{reverse('outcomes:measurements', args=[plan.pk])}?scale={scale.code}"
            )
    return _page(request, plan, form, status=422)


@require_POST
@requires(Perm.OUTCOME_RECORD)
def retract(request: HttpRequest, pk: int) -> HttpResponse:
    measurement = get_scoped_or_404(request, Measurement, pk=pk)
    form = RetractForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Give the reason for retracting the measurement.")
        services.retract_measurement(
            measurement, form.cleaned_data["reason"], signed_in_user(request), request=request
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, "Measurement retracted; it stays on the record, struck out.")
    return redirect("outcomes:measurements", measurement.plan_id)
