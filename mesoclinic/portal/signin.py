"""Signing a patient in to the portal: with their email address and password, or with a
one-time code emailed to them.

The password goes through ``django.contrib.auth.authenticate``, so django-axes counts the
failures and locks the address as it does a staff username. The code is django-otp's email
device, with its own cooldown between codes, growing wait after a wrong code and 10 minutes'
validity (settings ``OTP_EMAIL_*``). Asking for a code answers the same whether the address
has an account or not, and a wrong code reads the same whatever the reason, so that neither
tells who has an account.

Only a patient account linked to a record that was not erased signs in here; staff use the
staff sign-in.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import authenticate, login
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, resolve, reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django_otp.plugins.otp_email.models import EmailDevice

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import STAFF_ROLES, AuditAction, Role, User
from mesoclinic.patients.accounts import portal_patient
from mesoclinic.patients.models import Patient

logger = logging.getLogger(__name__)

# The backend the session remembers: axes's standalone backend only counts failures.
BACKEND = "django.contrib.auth.backends.ModelBackend"
CODE_MINUTES = settings.OTP_EMAIL_TOKEN_VALIDITY // 60


class SignInRefused(Exception):
    """The sign-in did not succeed; ``message`` says so in the patient's words."""

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.locked = locked


def username_of(email: str) -> str:
    return email.strip().lower()


def wrong_password() -> str:
    return _(
        "The email address or the password is not right. Check them and try again, or "
        "sign in with a code sent by email."
    )


def wrong_code() -> str:
    return _(
        "This code is not right, or it is no longer valid. A code works once, for "
        "%(minutes)d minutes; after a wrong code, wait a few seconds before trying again, "
        "or ask for a new code."
    ) % {"minutes": CODE_MINUTES}


def locked_out() -> str:
    return _(
        "Too many wrong passwords were tried for this email address, so signing in with a "
        "password is locked for %(minutes)d minutes. You can sign in with a code sent by "
        "email instead, or call your clinic."
    ) % {"minutes": round(settings.AXES_COOLOFF_TIME * 60)}


def by_password(request: HttpRequest, email: str, password: str) -> tuple[User, Patient]:
    """The patient whose email address and password these are. ``SignInRefused`` otherwise,
    with ``locked`` set when django-axes refused the address after too many failures."""
    username = username_of(email)
    # A failure, the lockout included, is recorded in the audit log by the receiver of
    # user_login_failed (clinics/signals.py).
    user = authenticate(request, username=username, password=password)
    if getattr(request, "axes_locked_out", False):
        # The portal says it in its own page, in the patient's words: without this, axes's
        # middleware would put the staff lockout page in its place.
        request.axes_locked_out = False  # type: ignore[attr-defined]
        raise SignInRefused(locked_out(), locked=True)
    if user is None:
        raise SignInRefused(wrong_password())
    assert isinstance(user, User)
    patient = portal_patient(user)
    if patient is None:
        # The password was right: saying which sign-in to use reveals nothing more.
        staff = user.role in STAFF_ROLES
        audit.record(
            AuditAction.LOGIN_FAILED,
            request=request,
            actor=user,
            username=username,
            portal="not a portal account",
        )
        raise SignInRefused(
            _("This is the patients' sign-in: clinic staff, please use the staff sign-in.")
            if staff
            else _("This account cannot open the patient portal. Please call your clinic.")
        )
    return user, patient


def _portal_account(email: str) -> tuple[User, Patient] | None:
    user = User.objects.filter(
        username=username_of(email), role=Role.PATIENT, is_active=True
    ).first()
    patient = portal_patient(user) if user is not None else None
    if user is None or patient is None:
        return None
    # Codes go only to the address the clinic has now: after the clinic changes it (an inbox
    # shared or lost), the old address no longer signs in, and the patient is invited again.
    if patient.email.strip().lower() != user.email:
        return None
    return user, patient


def request_code(request: HttpRequest, email: str) -> None:
    """Email a sign-in code to ``email`` if it is a portal account's address; do nothing
    otherwise. Says nothing either way: the page answers the same to everyone."""
    found = _portal_account(email)
    if found is None:
        return
    user, patient = found
    device = EmailDevice.objects.filter(user=user).first() or EmailDevice.objects.create(
        user=user, name="Portal sign-in code", confirmed=True
    )
    # The subject and the body in the patient's language (settings.OTP_EMAIL_SUBJECT is lazy).
    with translation.override(patient.preferred_language):
        try:
            # Within the cooldown this sends nothing: the code sent a moment ago still works.
            device.generate_challenge({"clinic_name": patient.clinic.name, "minutes": CODE_MINUTES})
        except Exception:  # whatever the mail backend raises: the page must not tell
            logger.exception("The portal sign-in code of user %s could not be sent.", user.pk)


def by_code(request: HttpRequest, email: str, code: str) -> tuple[User, Patient]:
    """The patient whose address ``email`` is and who typed the code just emailed to it.
    ``SignInRefused`` otherwise, with the same sentence whatever the reason."""
    username = username_of(email)
    found = _portal_account(email)
    device = EmailDevice.objects.filter(user=found[0]).first() if found is not None else None
    verified = False
    if found is not None and device is not None:
        with transaction.atomic():
            # Locked so that guesses racing each other are counted one after the other by
            # the device's throttling.
            device = EmailDevice.objects.select_for_update().get(pk=device.pk)
            verified = device.verify_token("".join(code.split()))
    if not verified or found is None:
        audit.record(
            AuditAction.LOGIN_FAILED,
            request=request,
            actor=found[0] if found is not None else None,
            username=username,
            portal="email code",
        )
        raise SignInRefused(wrong_code())
    return found


def sign_in(request: HttpRequest, user: User) -> None:
    """Start the patient's session; the LOGIN audit event is recorded by the receiver of
    user_logged_in (clinics/signals.py)."""
    login(request, user, backend=BACKEND)


def _is_portal_page(target: str) -> bool:
    try:
        match = resolve(urlsplit(target).path)
    except Resolver404:
        return False
    return match.namespace == "portal" and getattr(match.func, "portal_view", False)


def safe_next(request: HttpRequest, target: str | None) -> str:
    """Where to go after signing in: ``target`` when it is a patient's page of the portal on
    this site, else the portal's home."""
    if (
        target
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and _is_portal_page(target)
    ):
        return target
    return reverse("portal:home")


def with_language(response: HttpResponse, patient: Patient) -> HttpResponse:
    """The interface in the patient's language from now on (the switch can change it)."""
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        patient.preferred_language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )
    return response
