"""``{% consent_summary plan %}``: a course plan's consent at a glance, with the way to its
documents, for the pages of earlier apps (the course page) that cannot import this one."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from mesoclinic.clinics.permissions import Perm, has_perm
from mesoclinic.consent import services
from mesoclinic.consent.models import ConsentDocument
from mesoclinic.courses.models import CoursePlan

register = template.Library()


@register.inclusion_tag("consent/_plan_summary.html", takes_context=True)
def consent_summary(context: dict[str, Any], plan: CoursePlan) -> dict[str, Any]:
    request = context.get("request")
    allowed = request is not None and has_perm(request.user, Perm.CONSENT_VIEW, request)
    if not allowed:
        return {"allowed": False}
    return {
        "allowed": True,
        "plan": plan,
        "valid": services.valid_consent(plan, timezone.now()),
        "has_draft": ConsentDocument.objects.filter(plan=plan, signed_at__isnull=True).exists(),
    }
