"""Follow-up panels for the pages of earlier apps (the chart, the home page), which cannot
import this one."""

from __future__ import annotations

from typing import Any

from django import template

from mesoclinic.charts.models import Chart
from mesoclinic.clinics.permissions import Perm, has_perm
from mesoclinic.clinics.tenancy import scoped
from mesoclinic.followup.models import Flag, FollowUp
from mesoclinic.followup.services import FOLLOW_UP_AFTER

register = template.Library()


@register.inclusion_tag("followup/_chart_panel.html", takes_context=True)
def followup_panel(context: dict[str, Any], chart: Chart) -> dict[str, Any]:
    """On a signed chart: its follow-up, its side effects and its open flags, with links."""
    request = context.get("request")
    if request is None or chart.signed_at is None:
        return {"allowed": False}
    if not has_perm(request.user, Perm.FOLLOWUP_VIEW, request):
        return {"allowed": False}
    return {
        "allowed": True,
        "chart": chart,
        "follow_up": FollowUp.objects.filter(chart=chart).first(),
        "due_at": chart.ended_at + FOLLOW_UP_AFTER if chart.ended_at else None,
        "events": chart.adverse_events.filter(retracted_at__isnull=True).count(),
        "open_flags": chart.flags.filter(closed_at__isnull=True).count(),
    }


@register.inclusion_tag("followup/_home.html", takes_context=True)
def followup_home(context: dict[str, Any]) -> dict[str, Any]:
    """On the home page of staff: how many flags are open, and how many are theirs."""
    request = context["request"]
    if not has_perm(request.user, Perm.FOLLOWUP_VIEW, request):
        return {"allowed": False}
    flags = scoped(request, Flag).filter(closed_at__isnull=True)
    return {
        "allowed": True,
        "open": flags.count(),
        "mine": flags.filter(assigned_to=request.user).count(),
    }
