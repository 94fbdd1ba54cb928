"""``audit.record``: the one way every read and write of protected data is logged."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.http import HttpRequest

from mesoclinic.clinics.models import AuditAction, AuditEvent, User


def _client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: a forwarded-for header is whatever the client chose to send, unless a
    # trusted proxy sets it, and then the proxy should rewrite REMOTE_ADDR.
    return request.META.get("REMOTE_ADDR") or None


def record(
    action: AuditAction,
    *,
    request: HttpRequest | None = None,
    actor: User | None = None,
    obj: models.Model | None = None,
    patient_id: int | None = None,
    clinic_id: int | None = None,
    **detail: Any,
) -> AuditEvent:
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user  # type: ignore[assignment]
    if clinic_id is None:
        clinic_id = getattr(obj, "clinic_id", None) or getattr(actor, "clinic_id", None)
    if patient_id is None and obj is not None:
        patient_id = getattr(obj, "patient_id", None)
        if patient_id is None and obj._meta.label == "patients.Patient":
            patient_id = obj.pk
    return AuditEvent.objects.create(
        actor=actor,
        clinic_id=clinic_id,
        ip_address=_client_ip(request) if request is not None else None,
        user_agent=(request.META.get("HTTP_USER_AGENT", "")[:300] if request is not None else ""),
        action=action,
        object_type=obj._meta.label if obj is not None else "",
        object_id=str(obj.pk) if obj is not None else "",
        patient_id=patient_id,
        detail=detail,
    )
