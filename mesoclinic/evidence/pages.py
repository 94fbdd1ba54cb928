"""What every evidence page's frame needs: its tabs (those the person may open) and the
threshold the honesty note quotes."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from mesoclinic.clinics.permissions import Perm, has_perm
from mesoclinic.evidence.stats import MIN_COURSES

TABS = (
    ("Outcomes by formula", "evidence:outcomes", Perm.EVIDENCE_VIEW),
    ("Side-effect rates", "evidence:safety", Perm.EVIDENCE_VIEW),
    ("Outbreak alerts", "evidence:alerts", Perm.ALERT_VIEW),
    ("Research export", "evidence:export", Perm.RESEARCH_VIEW),
)


def frame(request: HttpRequest, current: str, **context: Any) -> dict[str, Any]:
    """The template context of an evidence page whose URL name is ``current``."""
    tabs = [
        {"label": label, "url": reverse(name), "active": name == current}
        for label, name, perm in TABS
        if has_perm(request.user, perm, request)
    ]
    return {"evidence_tabs": tabs, "min_courses": MIN_COURSES, **context}
