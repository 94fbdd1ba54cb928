"""Whose records an evidence page aggregates.

Staff see their own clinic. A researcher attached to a clinic sees that clinic's aggregates; a
researcher with no clinic works for the registry and sees every clinic's. Nobody else sees
any (the views' permissions already refuse them; this is the second lock).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from mesoclinic.clinics.models import STAFF_ROLES, Clinic, Role


def clinic_ids(request: HttpRequest) -> list[int]:
    user = request.user
    role = getattr(user, "role", None)
    clinic_id = getattr(user, "clinic_id", None)
    if role in STAFF_ROLES and clinic_id is not None:
        return [clinic_id]
    if role == Role.RESEARCHER:
        if clinic_id is not None:
            return [clinic_id]
        return list(Clinic.objects.values_list("pk", flat=True))
    raise PermissionDenied("Evidence is for clinic staff and researchers.")


def is_researcher(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) == Role.RESEARCHER
