"""Who may do what: the one table of permissions, checked on every view and API operation.

Deny by default. A role has only the permissions listed for it here; a view declares the one
it needs with ``@requires``, an API operation with ``api_requires``; and the test that
enumerates every URL and operation fails for one that declares nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from importlib import import_module
from typing import Any, TypeVar

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver
from ninja.errors import HttpError
from ninja.operation import Operation
from ninja.utils import contribute_operation_callback

from mesoclinic.clinics.models import STAFF_ROLES, Role, User


class Perm(StrEnum):
    HOME = "home.view"  # any signed-in person: their landing page
    ACCOUNT_SELF = "account.self"  # one's own password, two-factor device, API tokens
    # Proving the second factor: the one thing staff may do before having proved it.
    SECOND_FACTOR = "account.second_factor"
    CATALOGUE_VIEW = "catalogue.view"
    PATIENT_VIEW = "patient.view"
    PATIENT_EDIT = "patient.edit"
    PATIENT_EXPORT = "patient.export"
    PATIENT_ERASE = "patient.erase"
    AUDIT_VIEW = "audit.view"
    STAFF_VIEW = "staff.view"
    STAFF_MANAGE = "staff.manage"
    LICENCE_VIEW = "licence.view"
    LICENCE_MANAGE = "licence.manage"
    RESEARCH_VIEW = "research.view"  # the de-identified research export and its dictionary
    EVIDENCE_VIEW = "evidence.view"  # aggregate outcome and safety reports, no patient named
    ALERT_VIEW = "alert.view"  # outbreak alerts, their exposed patients and contact tasks
    FORMULA_VIEW = "formula.view"  # the formula library, products, ingredients and lots
    FORMULA_EDIT = "formula.edit"  # write or change a formula
    STOCK_MANAGE = "stock.manage"  # add products and ingredients, receive lots
    LOT_STATUS = "lot.status"  # quarantine, recall or release a lot
    LOT_TRACE = "lot.trace"  # who received a lot, the recall list and its contacts
    COURSE_VIEW = "course.view"  # course plans, the schedule, maintenance due, reminders
    COURSE_PLAN = "course.plan"  # write, complete or stop a course plan
    BOOKING_MANAGE = "booking.manage"  # book, move, cancel; record attendance
    SCHEDULE_MANAGE = "schedule.manage"  # rooms, working hours and leave
    CLINIC_SETTINGS = "clinic.settings"  # the clinic's own settings (pre-care window, paper)
    SCREENING_RUN = "screening.run"  # run screening, check a patient in
    SCREENING_OVERRIDE = "screening.override"  # override a block after review (practitioners)
    CONSENT_VIEW = "consent.view"  # consent documents and their PDFs
    CONSENT_MANAGE = "consent.manage"  # prepare, take a signature, record a withdrawal
    CHART_VIEW = "chart.view"  # treatment charts, their photos and PDFs
    CHART_EDIT = "chart.edit"  # start a chart and fill in its draft (assistants help record)
    CHART_SIGN = "chart.sign"  # sign a chart: the practitioner who injected
    CHART_AMEND = "chart.amend"  # correct a signed chart by an amendment
    FOLLOWUP_VIEW = "followup.view"  # adverse events, follow-ups, the flags dashboard
    FOLLOWUP_RECORD = "followup.record"  # record a follow-up's answers or an adverse event
    FLAG_CLOSE = "flag.close"  # close a flag with the action taken (a clinical decision)
    CAUSALITY_ASSESS = "causality.assess"  # judge whether the treatment caused an event
    OUTCOME_VIEW = "outcome.view"  # outcome measurements and a course's result
    OUTCOME_RECORD = "outcome.record"  # record or retract a measurement


_SIGNED_IN = {Perm.HOME, Perm.ACCOUNT_SELF, Perm.SECOND_FACTOR}
_STAFF = _SIGNED_IN | {
    Perm.CATALOGUE_VIEW,
    Perm.PATIENT_VIEW,
    Perm.PATIENT_EDIT,
    Perm.STAFF_VIEW,
    Perm.LICENCE_VIEW,
    Perm.FORMULA_VIEW,
    Perm.STOCK_MANAGE,
    Perm.LOT_TRACE,
    Perm.COURSE_VIEW,
    Perm.BOOKING_MANAGE,
    Perm.SCREENING_RUN,
    Perm.CONSENT_VIEW,
    Perm.CONSENT_MANAGE,
    Perm.CHART_VIEW,
    Perm.CHART_EDIT,
    Perm.FOLLOWUP_VIEW,
    Perm.FOLLOWUP_RECORD,
    Perm.OUTCOME_VIEW,
    Perm.OUTCOME_RECORD,
    Perm.EVIDENCE_VIEW,
    Perm.ALERT_VIEW,
}
# What only those who prescribe and inject (and the administrator) decide.
_CLINICAL = {Perm.FORMULA_EDIT, Perm.LOT_STATUS, Perm.COURSE_PLAN, Perm.FLAG_CLOSE}

ROLE_PERMISSIONS: dict[str, frozenset[Perm]] = {
    Role.ADMIN: frozenset(
        _STAFF
        | {
            Perm.PATIENT_EXPORT,
            Perm.PATIENT_ERASE,
            Perm.AUDIT_VIEW,
            Perm.RESEARCH_VIEW,
            Perm.STAFF_MANAGE,
            Perm.LICENCE_MANAGE,
            Perm.SCHEDULE_MANAGE,
            Perm.CLINIC_SETTINGS,
        }
        | _CLINICAL
    ),
    # Overriding a screening block is a clinical judgement of the one who will inject;
    # signing or amending a chart is that practitioner's own attestation.
    Role.PRACTITIONER: frozenset(
        _STAFF
        | _CLINICAL
        | {
            Perm.PATIENT_EXPORT,
            Perm.SCREENING_OVERRIDE,
            Perm.CHART_SIGN,
            Perm.CHART_AMEND,
            Perm.CAUSALITY_ASSESS,
        }
    ),
    Role.ASSISTANT: frozenset(_STAFF),
    # Patients act only in the portal, on their own record, through the portal's own checks
    # (which audit them); home sends them there. No staff account page, so no API token.
    Role.PATIENT: frozenset({Perm.HOME}),
    # Researchers see de-identified aggregates and the research export, never a record.
    Role.RESEARCHER: frozenset(
        _SIGNED_IN | {Perm.CATALOGUE_VIEW, Perm.RESEARCH_VIEW, Perm.EVIDENCE_VIEW}
    ),
}


def is_second_factor_satisfied(user: User, request: HttpRequest | None) -> bool:
    """Staff must have proved a second factor in this session (or used an API token, which
    is issued only to a verified session and is itself the second secret)."""
    if user.role not in STAFF_ROLES:
        return True
    if request is not None and getattr(request, "api_token", None) is not None:
        return True
    return bool(getattr(user, "is_verified", lambda: False)())


def has_perm(user: User | AnonymousUser, perm: Perm, request: HttpRequest | None = None) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    assert isinstance(user, User)
    if perm not in ROLE_PERMISSIONS.get(user.role, frozenset()):
        return False
    if user.role in STAFF_ROLES and user.clinic_id is None:
        return False
    return perm is Perm.SECOND_FACTOR or is_second_factor_satisfied(user, request)


F = TypeVar("F", bound=Callable[..., Any])


def requires(perm: Perm) -> Callable[[F], F]:
    """Decorate a view: 403 unless the signed-in user holds ``perm``."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            if not has_perm(request.user, perm, request):
                raise PermissionDenied(f"Your role does not allow this ({perm}).")
            return view(request, *args, **kwargs)

        wrapped.required_permission = perm  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorate


def _checked(view_func: F, perm: Perm) -> F:
    @wraps(view_func)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not has_perm(request.user, perm, request):
            raise HttpError(403, f"Your role does not allow this ({perm}).")
        return view_func(request, *args, **kwargs)

    wrapped.required_permission = perm  # type: ignore[attr-defined]
    return wrapped  # type: ignore[return-value]


def api_requires(perm: Perm) -> Callable[[F], F]:
    """Decorate an API operation (below ``@router.get``...): 403 with a JSON message unless the
    caller holds ``perm``. Authentication (401) is the API's own, before this runs.

    The check is installed on the operation once ninja has read the function's signature, so
    the function itself stays undecorated and its type annotations resolve in its own module.
    """

    def decorate(operation_func: F) -> F:
        operation_func.required_permission = perm  # type: ignore[attr-defined]

        def install(operation: Operation) -> None:
            operation.view_func = _checked(operation.view_func, perm)

        operation = getattr(operation_func, "_ninja_operation", None)
        if operation is not None:  # applied above @router.get: the operation exists already
            install(operation)
        else:
            contribute_operation_callback(operation_func, install)
        return operation_func

    return decorate


def api_router_requires(perm: Perm) -> Callable[[F], F]:
    """For ``router.add_decorator``: every operation of a router requires ``perm``."""
    return lambda view_func: _checked(view_func, perm)


def include_requiring(module: str, perm: Perm) -> tuple[list[URLPattern | URLResolver], str]:
    """``include()`` an app's URLs with every view requiring ``perm``: for apps listed before
    this one (the catalogue), which cannot import the permission table themselves."""
    urlconf = import_module(module)
    for pattern in urlconf.urlpatterns:
        if isinstance(pattern, URLPattern):
            pattern.callback = requires(perm)(pattern.callback)
    return urlconf.urlpatterns, urlconf.app_name


def signed_in_user(request: HttpRequest) -> User:
    """The caller as a ``User``, for views and operations that ``@requires`` has let through."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user
