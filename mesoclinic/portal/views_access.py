"""Getting into the portal: signing in and out, accepting an invitation, the account page
and "who opened my record"; and, for staff, inviting a patient.

Thin: the forms parse, ``signin`` and ``invitations`` decide, and the pages answer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import STAFF_ROLES, AuditAction, AuditEvent, Role
from mesoclinic.clinics.permissions import Perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404
from mesoclinic.consent.services import masked_email
from mesoclinic.patients.models import Patient, PortalAccount
from mesoclinic.portal import invitations, signin
from mesoclinic.portal.access import patient_of, patient_view, seen
from mesoclinic.portal.models import Invitation

# The address typed on the "sign in with a code" page, kept for the page where the code is
# typed, and where to go afterwards.
CODE_EMAIL_KEY = "portal_code_email"
CODE_NEXT_KEY = "portal_code_next"
LOG_PAGE_SIZE = 50
FORM_ERRORS_ID = "form-errors"


# --- forms ------------------------------------------------------------------------------------


class EmailField(forms.EmailField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            label=gettext_lazy("Email address"),
            max_length=254,
            widget=forms.EmailInput(
                attrs={"autocomplete": "email", "autocapitalize": "none", "spellcheck": "false"}
            ),
            **kwargs,
        )


class PasswordSignInForm(forms.Form):
    email = EmailField()
    password = forms.CharField(
        label=gettext_lazy("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


class CodeRequestForm(forms.Form):
    email = EmailField()


def _code_field(label: str | Any) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )


class CodeSignInForm(forms.Form):
    email = EmailField()
    code = _code_field(gettext_lazy("Code from the email"))


class AcceptForm(forms.Form):
    code = _code_field(gettext_lazy("Code the clinic gave you"))
    password = forms.CharField(
        label=gettext_lazy("Choose a password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )
    password2 = forms.CharField(
        label=gettext_lazy("The same password again"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


def _posted(request: HttpRequest) -> Any:
    """The form's data on a POST, even an empty one (which must show the form's errors)."""
    return request.POST if request.method == "POST" else None


def _refuse(form: forms.Form, message: str) -> None:
    """A form-wide error, which every input then points to."""
    form.add_error(None, message)
    for name in form.fields:
        form.fields[name].widget.attrs.update(
            {"aria-invalid": "true", "aria-describedby": FORM_ERRORS_ID}
        )


# --- signing in and out -------------------------------------------------------------------------


def _signed_in(request: HttpRequest, user: Any, patient: Patient, target: str) -> HttpResponse:
    signin.sign_in(request, user)
    return signin.with_language(redirect(signin.safe_next(request, target)), patient)


@login_not_required
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    form = PasswordSignInForm(_posted(request))
    target = request.POST.get("next") or request.GET.get("next", "")
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user, patient = signin.by_password(
                    request, form.cleaned_data["email"], form.cleaned_data["password"]
                )
            except signin.SignInRefused as refused:
                _refuse(form, refused.message)
                status = 429 if refused.locked else 400
            else:
                return _signed_in(request, user, patient, target)
    return render(
        request,
        "portal/access/login.html",
        {"form": form, "next": target, "form_errors_id": FORM_ERRORS_ID},
        status=status,
    )


@login_not_required
@require_http_methods(["GET", "POST"])
def login_code(request: HttpRequest) -> HttpResponse:
    form = CodeRequestForm(
        _posted(request), initial={"email": request.session.get(CODE_EMAIL_KEY, "")}
    )
    target = request.POST.get("next") or request.GET.get("next", "")
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        signin.request_code(request, email)
        # The same answer whether or not the address has an account.
        request.session[CODE_EMAIL_KEY] = email
        request.session[CODE_NEXT_KEY] = target
        return redirect("portal:login-code-verify")
    return render(
        request,
        "portal/access/login_code.html",
        {"form": form, "next": target, "minutes": signin.CODE_MINUTES},
        status=400 if form.errors else 200,
    )


@login_not_required
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def login_code_verify(request: HttpRequest) -> HttpResponse:
    asked = request.session.get(CODE_EMAIL_KEY, "")
    form = CodeSignInForm(_posted(request), initial={"email": asked})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user, patient = signin.by_code(
                    request, form.cleaned_data["email"], form.cleaned_data["code"]
                )
            except signin.SignInRefused as refused:
                _refuse(form, refused.message)
            else:
                target = request.session.pop(CODE_NEXT_KEY, "")
                request.session.pop(CODE_EMAIL_KEY, None)
                return _signed_in(request, user, patient, target)
    return render(
        request,
        "portal/access/login_code_verify.html",
        {
            "form": form,
            "asked": asked,
            "minutes": signin.CODE_MINUTES,
            "form_errors_id": FORM_ERRORS_ID,
        },
        status=status,
    )


@login_not_required
@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("portal:login")


# --- accepting an invitation ------------------------------------------------------------------


def _closed(request: HttpRequest, closed: invitations.InvitationClosed) -> HttpResponse:
    return render(
        request,
        "portal/access/invitation_closed.html",
        {"reason": closed.messages[0]},
        status=closed.status,
    )


@login_not_required
@never_cache
@sensitive_post_parameters("code", "password", "password2")
@require_http_methods(["GET", "POST"])
def invitation_view(request: HttpRequest, token: str) -> HttpResponse:
    try:
        invitation = invitations.find(token)
    except invitations.InvitationClosed as closed:
        return _closed(request, closed)
    patient = invitation.patient
    # The patient's language, unless they chose another with the switch; the clinic's time.
    chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
    language = chosen if chosen in dict(settings.LANGUAGES) else patient.preferred_language
    with translation.override(language), timezone.override(patient.clinic.tz):
        request.LANGUAGE_CODE = language
        response = _accept_page(request, token, invitation)
    response.headers.setdefault("Content-Language", language)
    return response


def _accept_page(request: HttpRequest, token: str, invitation: Invitation) -> HttpResponse:
    patient = invitation.patient
    form = AcceptForm(_posted(request))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                user = invitations.accept(
                    token,
                    form.cleaned_data["code"],
                    form.cleaned_data["password"],
                    form.cleaned_data["password2"],
                    request=request,
                )
            except invitations.InvitationClosed as closed:
                return _closed(request, closed)
            except ValidationError as exc:
                if hasattr(exc, "error_dict"):
                    for field, errors in exc.message_dict.items():
                        form.add_error(field if field in form.fields else None, errors)
                else:
                    _refuse(form, " ".join(exc.messages))
            else:
                signin.sign_in(request, user)
                messages.success(request, _("Welcome. Your account is ready: this is your portal."))
                return signin.with_language(redirect("portal:home"), patient)
    return render(
        request,
        "portal/access/invitation.html",
        {
            "form": form,
            "clinic": patient.clinic,
            "expires_at": invitation.expires_at,
            "email": invitation.sent_to,
            "form_errors_id": FORM_ERRORS_ID,
        },
        status=status,
    )


# --- the account and who opened the record ------------------------------------------------------


@patient_view
@sensitive_post_parameters("old_password", "new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def account(request: HttpRequest) -> HttpResponse:
    patient = patient_of(request)
    user = signed_in_user(request)
    form = PasswordChangeForm(user, _posted(request))
    # The form is the page's last section: the cursor must not jump past the rest.
    form.fields["old_password"].widget.attrs.pop("autofocus", None)
    if request.method == "POST" and form.is_valid():
        form.save()
        # Keeps this session signed in; the password's other sessions end.
        update_session_auth_hash(request, user)
        audit.record(
            AuditAction.UPDATE,
            request=request,
            obj=user,
            patient_id=patient.pk,
            clinic_id=patient.clinic_id,
            password_changed=True,
        )
        messages.success(request, _("Your password was changed."))
        return redirect("portal:account")
    seen(request, "account")
    account_row = PortalAccount.objects.filter(patient=patient).first()
    return render(
        request,
        "portal/access/account.html",
        {
            "portal_section": "account",
            "patient": patient,
            "user": user,
            "form": form,
            "since": account_row.created_at if account_row is not None else None,
            "language": dict(settings.LANGUAGES).get(patient.preferred_language, ""),
        },
        status=400 if form.errors else 200,
    )


# What a staff member opened, in the patient's words; anything else is "your record".
OPENED: dict[str, Any] = {
    "patients.Patient": gettext_lazy("your record"),
    "patients.Medication": gettext_lazy("your medicines"),
    "patients.Allergy": gettext_lazy("your allergies"),
    "patients.Condition": gettext_lazy("your health conditions"),
    "patients.PortalAccount": gettext_lazy("your portal account"),
    "portal.Invitation": gettext_lazy("your invitation to the portal"),
    "courses.CoursePlan": gettext_lazy("your course plan"),
    "courses.Appointment": gettext_lazy("your appointment"),
    "courses.MaintenanceRecall": gettext_lazy("your maintenance reminder"),
    "reminders.Reminder": gettext_lazy("your reminders"),
    "calendars.CalendarFeed": gettext_lazy("your calendar link"),
    "consent.ConsentDocument": gettext_lazy("your consent form"),
    "consent.ConsentCode": gettext_lazy("your consent form"),
    "consent.ConsentWithdrawal": gettext_lazy("your consent form"),
    "screening.Screening": gettext_lazy("your safety checks before a session"),
    "screening.Finding": gettext_lazy("your safety checks before a session"),
    "screening.Override": gettext_lazy("your safety checks before a session"),
    "screening.CheckIn": gettext_lazy("your answers before a session"),
    "screening.Prescription": gettext_lazy("your prescription"),
    "charts.Chart": gettext_lazy("your chart"),
    "charts.ChartAmendment": gettext_lazy("your chart"),
    "charts.ChartPhoto": gettext_lazy("a photo of you"),
    "formulas.LotUse": gettext_lazy("the products used for you"),
    "formulas.RecallContact": gettext_lazy("a product recall that concerns you"),
    "followup.AdverseEvent": gettext_lazy("a side-effect report"),
    "followup.EventPhoto": gettext_lazy("a side-effect photo"),
    "followup.FollowUp": gettext_lazy("your answers after a session"),
    "followup.Flag": gettext_lazy("a side-effect report"),
    "outcomes.Measurement": gettext_lazy("your results"),
}
DID: dict[str, Any] = {
    AuditAction.VIEW: gettext_lazy("Opened"),
    AuditAction.CREATE: gettext_lazy("Added to"),
    AuditAction.UPDATE: gettext_lazy("Changed"),
    AuditAction.DELETE: gettext_lazy("Removed from"),
    AuditAction.EXPORT: gettext_lazy("Downloaded"),
    AuditAction.ERASE: gettext_lazy("Erased"),
}
ROLE_WORDS: dict[str, Any] = {
    Role.ADMIN: gettext_lazy("clinic administrator"),
    Role.PRACTITIONER: gettext_lazy("practitioner"),
    Role.ASSISTANT: gettext_lazy("assistant"),
}


@dataclass(frozen=True)
class Access:
    """One line of "who opened my record"."""

    at: datetime
    who: str
    role: str
    did: str
    what: str


def staff_accesses(patient: Patient) -> Any:
    """The clinic staff's reads and writes of ``patient``'s record, newest first. The
    patient's own reads in the portal, and what the system did by itself, are not listed."""
    return (
        AuditEvent.objects.filter(patient_id=patient.pk, actor__role__in=STAFF_ROLES)
        .select_related("actor")
        .order_by("-at", "-id")
    )


def describe(event: AuditEvent) -> Access:
    actor = event.actor
    assert actor is not None  # staff_accesses lists staff events only
    return Access(
        at=event.at,
        who=actor.get_full_name() or actor.get_username(),
        role=str(ROLE_WORDS.get(actor.role, "")),
        did=str(DID.get(event.action, DID[AuditAction.VIEW])),
        what=str(OPENED.get(event.object_type, OPENED["patients.Patient"])),
    )


@patient_view
@require_GET
def access_log(request: HttpRequest) -> HttpResponse:
    patient = patient_of(request)
    page = Paginator(staff_accesses(patient), LOG_PAGE_SIZE).get_page(request.GET.get("page"))
    seen(request, "access-log", page_number=page.number)
    return render(
        request,
        "portal/access/access_log.html",
        {
            "portal_section": "account",
            "page": page,
            "accesses": [describe(event) for event in page],
        },
    )


# --- staff: inviting a patient ------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
@requires(Perm.PATIENT_EDIT)
def invite_view(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=patient_pk)
    actor = signed_in_user(request)
    context: dict[str, Any] = {"patient": patient, "errors": []}
    status = 200
    if request.method == "POST":
        try:
            invitation, code = invitations.invite(patient, actor, request=request)
        except ValidationError as exc:
            context["errors"] = exc.messages
            status = 400
        else:
            # Shown here once, never stored in clear: the response is not cached either.
            context |= {
                "code": code,
                "sent_to": masked_email(invitation.sent_to),
                "expires_at": invitation.expires_at,
            }
    else:
        audit.record(AuditAction.VIEW, request=request, obj=patient, page="portal invitation")
    context |= {
        "account": PortalAccount.objects.filter(patient=patient).first(),
        "invitation": invitations.open_invitation_of(patient),
        "can_invite": patient.erased_at is None
        and bool(patient.email)
        and not PortalAccount.objects.filter(patient=patient).exists(),
    }
    return render(request, "portal/access/invite.html", context, status=status)
