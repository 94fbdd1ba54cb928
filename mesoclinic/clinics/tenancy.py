"""The one mechanism that scopes clinic data to the requesting user's clinic.

Every model holding clinic data names the path to its clinic (``clinic_path``); views and API
operations fetch through ``scoped`` and ``get_scoped_or_404`` and never filter by hand. An
object of another clinic is simply not found (404), so its existence is not revealed.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from django.db import models
from django.http import Http404, HttpRequest

from mesoclinic.clinics.models import STAFF_ROLES


class ClinicOwned(Protocol):
    clinic_path: str


M = TypeVar("M", bound=models.Model)


def clinic_id_of(request: HttpRequest) -> int | None:
    """The clinic whose records the request may reach: a staff member's own, else none."""
    user = request.user
    if not user.is_authenticated or getattr(user, "role", None) not in STAFF_ROLES:
        return None
    return getattr(user, "clinic_id", None)


def scoped(request: HttpRequest, model: type[M]) -> models.QuerySet[M]:
    path: str = model.clinic_path  # type: ignore[attr-defined]
    clinic_id = clinic_id_of(request)
    queryset = model._default_manager.all()
    if clinic_id is None:
        return queryset.none()
    return queryset.filter(**{path: clinic_id})


def get_scoped_or_404(request: HttpRequest, model: type[M], **lookup: Any) -> M:
    try:
        return scoped(request, model).get(**lookup)
    except model.DoesNotExist:  # type: ignore[attr-defined]
        raise Http404(f"No {model._meta.verbose_name} found.") from None
