"""A course's result for the course page, which belongs to an earlier app and cannot import
this one; and the filters that write its numbers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.safestring import mark_safe

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, has_perm
from mesoclinic.courses.models import CoursePlan
from mesoclinic.outcomes import results
from mesoclinic.outcomes.models import Measurement
from mesoclinic.outcomes.services import number_text

register = template.Library()


@register.inclusion_tag("outcomes/_result.html", takes_context=True)
def course_result(context: dict[str, Any], plan: CoursePlan) -> dict[str, Any]:
    request = context.get("request")
    if request is None or not has_perm(request.user, Perm.OUTCOME_VIEW, request):
        return {"allowed": False}
    result = results.course_result(plan)
    audit.record(
        AuditAction.VIEW, request=request, obj=plan, patient_id=plan.patient_id, what="result"
    )
    shown = result.has_values or result.side_effects
    return {
        "allowed": True,
        "plan": plan,
        "result": result,
        # plotly's own markup: a div and the script that draws into it, from our numbers.
        "plot": mark_safe(results.plot_html(result)) if shown else "",  # noqa: S308
        "can_record": has_perm(request.user, Perm.OUTCOME_RECORD, request),
    }


@register.filter
def number(value: Decimal | None) -> str:
    return "" if value is None else number_text(value)


@register.filter
def change(value: Decimal | None) -> str:
    return results.change_text(value)


@register.filter
def time_point(measurement: Measurement) -> str:
    return results.time_point_label(measurement)
