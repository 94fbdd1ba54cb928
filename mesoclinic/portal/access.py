"""Who may open a portal page: a signed-in patient, on their own record only.

Every portal view is wrapped by ``patient_view``: it answers an anonymous visitor with the
portal's sign-in page, anyone but a linked patient with 403, and gives the view
``request.patient``. Views then look every object up *through* that patient, so another
patient's id answers 404, whatever the URL."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone, translation

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, User
from mesoclinic.patients.accounts import portal_patient
from mesoclinic.patients.models import Patient

F = TypeVar("F", bound=Callable[..., HttpResponse])


def patient_of(request: HttpRequest) -> Patient:
    """The signed-in patient's record, set by ``patient_view``."""
    patient: Patient = request.patient  # type: ignore[attr-defined]
    return patient


def patient_view(view: F) -> F:
    @login_not_required
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        assert isinstance(user, User)
        patient = portal_patient(user)
        if patient is None:
            raise PermissionDenied("The portal is for patients, on their own record.")
        request.patient = patient  # type: ignore[attr-defined]
        # The patient's own language unless they chose another with the switch.
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in dict(settings.LANGUAGES) else patient.preferred_language
        with timezone.override(patient.clinic.tz), translation.override(language):
            request.LANGUAGE_CODE = language
            response = view(request, *args, **kwargs)
            # Templates render lazily; render now, in the patient's zone and language.
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        response.headers.setdefault("Content-Language", language)
        return response

    # Marks the view for the enumerated access tests (tests/test_access.py and the portal's).
    wrapped.portal_view = True  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def seen(request: HttpRequest, page: str, obj: models.Model | None = None, **detail: Any) -> None:
    """Audit a portal read of the patient's record: ``page`` names what was shown."""
    patient = patient_of(request)
    audit.record(
        AuditAction.VIEW,
        request=request,
        obj=obj,
        patient_id=patient.pk,
        clinic_id=patient.clinic_id,
        portal=page,
        **detail,
    )
