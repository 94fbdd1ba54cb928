"""Sign-ins and failed sign-ins go to the audit log like every other access."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver
from django.http import HttpRequest

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, User


@receiver(user_logged_in)
def record_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    audit.record(AuditAction.LOGIN, request=request, actor=user, second_factor="pending")


@receiver(user_login_failed)
def record_login_failure(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # The username typed is kept (it may not exist); the password never is.
    audit.record(
        AuditAction.LOGIN_FAILED, request=request, username=str(credentials.get("username", ""))
    )
