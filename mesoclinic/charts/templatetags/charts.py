"""A session's chart and a course's charting for the pages of earlier apps (check-in, the
course's timeline) that cannot import this one."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone

from mesoclinic.charts import photos
from mesoclinic.charts.models import Chart, ChartPhoto
from mesoclinic.charts.services import CHARTED_KINDS, experience, progress
from mesoclinic.clinics.models import Role, User
from mesoclinic.clinics.permissions import Perm, has_perm
from mesoclinic.courses.models import Appointment, AppointmentStatus, CoursePlan

register = template.Library()


@register.inclusion_tag("charts/_panel.html", takes_context=True)
def chart_panel(context: dict[str, Any], appointment: Appointment) -> dict[str, Any]:
    request = context.get("request")
    if request is None or not has_perm(request.user, Perm.CHART_VIEW, request):
        return {"allowed": False}
    chart = Chart.objects.filter(appointment=appointment).first()
    clinic = appointment.clinic
    startable = (
        chart is None
        and appointment.kind in CHARTED_KINDS
        and appointment.status in (AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED)
        and timezone.localdate(appointment.starts_at, clinic.tz) <= clinic.today()
        and has_perm(request.user, Perm.CHART_EDIT, request)
    )
    return {
        "allowed": True,
        "appointment": appointment,
        "chart": chart,
        "startable": startable,
        "earlier": list(
            Chart.objects.filter(patient=appointment.patient_id, signed_at__isnull=False)
            .select_related("appointment")
            .order_by("-appointment__starts_at")[:8]
        )
        if startable
        else [],
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("charts/_link.html", takes_context=True)
def chart_link(context: dict[str, Any], appointment: Appointment) -> dict[str, Any]:
    """The session's chart as a badge that links to it, in a course's timeline."""
    request = context.get("request")
    if request is None or not has_perm(request.user, Perm.CHART_VIEW, request):
        return {"chart": None}
    return {"chart": Chart.objects.filter(appointment=appointment).first()}


@register.inclusion_tag("charts/_progress.html", takes_context=True)
def chart_progress(context: dict[str, Any], plan: CoursePlan) -> dict[str, Any]:
    """How far the course has been charted, with its printable history."""
    request = context.get("request")
    if request is None or not has_perm(request.user, Perm.CHART_VIEW, request):
        return {"allowed": False}
    return {"allowed": True, "plan": plan, "progress": progress(plan)}


@register.inclusion_tag("charts/_photo_checklist.html", takes_context=True)
def photo_checklist(context: dict[str, Any], plan: CoursePlan) -> dict[str, Any]:
    """On a course's page: the baseline and end-of-course photos, taken or missing by area."""
    request = context.get("request")
    if request is None or not has_perm(request.user, Perm.CHART_VIEW, request):
        return {"allowed": False}
    sets = photos.photo_sets(plan)
    compare_url = ""
    if ChartPhoto.objects.filter(chart__plan=plan).exists():
        compare_url = (
            reverse("charts:photos-compare", args=[plan.patient_id]) + f"?course={plan.pk}"
        )
    return {
        "allowed": True,
        "has_areas": bool(sets[0].taken or sets[0].missing),
        "sets": sets,
        "compare_url": compare_url,
    }


@register.inclusion_tag("charts/_experience.html", takes_context=True)
def practitioner_experience(context: dict[str, Any], member: User) -> dict[str, Any]:
    """On a practitioner's staff page: the sessions they signed, per indication."""
    request = context.get("request")
    if (
        member.role != Role.PRACTITIONER
        or request is None
        or not has_perm(request.user, Perm.STAFF_VIEW, request)
    ):
        return {"shown": False}
    return {"shown": True, "member": member, "rows": experience(member)}
