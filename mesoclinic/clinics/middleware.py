from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from mesoclinic.clinics.models import STAFF_ROLES, User
from mesoclinic.clinics.permissions import is_second_factor_satisfied


class StaffTwoFactorMiddleware:
    """Sends a signed-in staff member who has not proved a second factor in this session to
    the two-factor page (set-up when they have no device yet). The API is left to its own
    permission check, which answers 403 instead of redirecting."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if (
            isinstance(user, User)
            and user.role in STAFF_ROLES
            and not is_second_factor_satisfied(user, request)
            and not self._exempt(request.path)
        ):
            return redirect(f"{reverse('account:two-factor')}?next={request.path}")
        return self.get_response(request)

    @staticmethod
    def _exempt(path: str) -> bool:
        exempt = (
            reverse("account:two-factor"),
            reverse("logout"),
            reverse("health"),
            "/static/",
            "/api/",
        )
        return path.startswith(exempt)


class ClinicTimeZoneMiddleware:
    """Shows times in the signed-in person's clinic zone: a 10:00 appointment in Paris reads
    10:00 there whatever the server's zone. Storage stays UTC."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        clinic = user.clinic if isinstance(user, User) and user.clinic_id else None
        if clinic is None:
            return self.get_response(request)
        with timezone.override(clinic.tz):
            return self.get_response(request)
