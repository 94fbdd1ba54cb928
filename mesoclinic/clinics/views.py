"""The clinic's staff and licence pages."""

from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mesoclinic.clinics import audit, services, two_factor
from mesoclinic.clinics.forms import ClinicSettingsForm, LicenceForm, RoleForm, StaffCreateForm
from mesoclinic.clinics.licences import licence_check
from mesoclinic.clinics.models import AuditAction, Licence, Role, User
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped


def _today(request: HttpRequest) -> date:
    """Today where the clinic is: a licence ends at the clinic's midnight, not the server's."""
    user = signed_in_user(request)
    assert user.clinic is not None  # staff permissions are never granted without a clinic
    return user.clinic.today()


@require_GET
@requires(Perm.STAFF_VIEW)
def staff_list(request: HttpRequest) -> HttpResponse:
    today = _today(request)
    members = scoped(request, User).order_by("-is_active", "last_name", "first_name")
    rows = [
        {
            "member": member,
            "licence": licence_check(member, today) if member.role == Role.PRACTITIONER else None,
        }
        for member in members.prefetch_related("licences")
    ]
    return render(
        request,
        "clinics/staff_list.html",
        {
            "rows": rows,
            "today": today,
            "can_manage": has_perm(request.user, Perm.STAFF_MANAGE, request),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.STAFF_MANAGE)
def staff_add(request: HttpRequest) -> HttpResponse:
    form = StaffCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = services.add_staff(request, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error("password", exc)
        except services.StaffError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(
                request,
                f"{member} was added. Give them the temporary password; they set up two-factor "
                "sign-in when they first sign in.",
            )
            return redirect("clinics:staff-detail", pk=member.pk)
    return render(request, "clinics/staff_add.html", {"form": form})


@require_GET
@requires(Perm.STAFF_VIEW)
def staff_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = get_scoped_or_404(request, User, pk=pk)
    today = _today(request)
    return render(
        request,
        "clinics/staff_detail.html",
        {
            "member": member,
            "licences": member.licences.select_related("verified_by"),
            "licence": licence_check(member, today) if member.role == Role.PRACTITIONER else None,
            "has_device": two_factor.confirmed_device(member) is not None,
            "role_form": RoleForm(initial={"role": member.role}),
            "can_manage": has_perm(request.user, Perm.STAFF_MANAGE, request),
            "is_self": member.pk == request.user.pk,
        },
    )


def _staff_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    member = get_scoped_or_404(request, User, pk=pk)
    try:
        if action == "role":
            form = RoleForm(request.POST)
            if not form.is_valid():
                messages.error(request, "Choose one of the roles listed.")
                return redirect("clinics:staff-detail", pk=member.pk)
            services.change_role(request, member, form.cleaned_data["role"])
            messages.success(request, f"{member} is now {member.get_role_display().lower()}.")
        elif action == "deactivate":
            services.deactivate_staff(request, member)
            messages.success(request, f"{member} can no longer sign in.")
        else:
            services.reset_two_factor(request, member)
            messages.success(
                request, f"{member} will set up two-factor sign-in again at their next sign-in."
            )
    except services.StaffError as exc:
        messages.error(request, str(exc))
    return redirect("clinics:staff-detail", pk=member.pk)


@require_POST
@requires(Perm.STAFF_MANAGE)
def staff_role(request: HttpRequest, pk: int) -> HttpResponse:
    return _staff_action(request, pk, "role")


@require_POST
@requires(Perm.STAFF_MANAGE)
def staff_deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    return _staff_action(request, pk, "deactivate")


@require_POST
@requires(Perm.STAFF_MANAGE)
def staff_reset_two_factor(request: HttpRequest, pk: int) -> HttpResponse:
    return _staff_action(request, pk, "reset-two-factor")


def _practitioners(request: HttpRequest) -> QuerySet[User]:
    return scoped(request, User).filter(role=Role.PRACTITIONER, is_active=True)


@require_GET
@requires(Perm.LICENCE_VIEW)
def licence_list(request: HttpRequest) -> HttpResponse:
    today = _today(request)
    licences = scoped(request, Licence).select_related("practitioner", "verified_by")
    practitioners = list(_practitioners(request).prefetch_related("licences"))
    return render(
        request,
        "clinics/licence_list.html",
        {
            "licences": licences.order_by("practitioner__last_name", "-valid_from"),
            "alerts": services.licence_alerts(scoped(request, Licence), today),
            "unlicensed": [
                (p, check) for p in practitioners if not (check := licence_check(p, today)).ok
            ],
            "today": today,
            "can_manage": has_perm(request.user, Perm.LICENCE_MANAGE, request),
        },
    )


@require_http_methods(["GET", "POST"])
@requires(Perm.LICENCE_MANAGE)
def licence_add(request: HttpRequest) -> HttpResponse:
    return _licence_form(request, None)


@require_http_methods(["GET", "POST"])
@requires(Perm.LICENCE_MANAGE)
def licence_edit(request: HttpRequest, pk: int) -> HttpResponse:
    return _licence_form(request, get_scoped_or_404(request, Licence, pk=pk))


def _licence_form(request: HttpRequest, licence: Licence | None) -> HttpResponse:
    form = LicenceForm(
        request.POST or None,
        request.FILES or None,
        instance=licence,
        practitioners=_practitioners(request),
    )
    if request.method == "POST" and form.is_valid():
        saved = services.save_licence(request, form.save(commit=False), creating=licence is None)
        messages.success(
            request,
            f"Licence {saved} saved."
            + ("" if saved.is_verified else " It counts once an administrator verifies it."),
        )
        return redirect("clinics:licences")
    return render(request, "clinics/licence_form.html", {"form": form, "licence": licence})


@require_POST
@requires(Perm.LICENCE_MANAGE)
def licence_verify(request: HttpRequest, pk: int) -> HttpResponse:
    licence = get_scoped_or_404(request, Licence, pk=pk)
    try:
        services.verify_licence(request, licence)
    except services.StaffError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Licence {licence} of {licence.practitioner} verified.")
    return redirect("clinics:licences")


@require_GET
@requires(Perm.LICENCE_VIEW)
def licence_document(request: HttpRequest, pk: int) -> FileResponse:
    """The scan, served only through this scoped view: MEDIA_ROOT is not published."""
    licence = get_scoped_or_404(request, Licence, pk=pk)
    if not licence.document:
        raise Http404("This licence has no scanned document.")
    audit.record(AuditAction.VIEW, request=request, obj=licence, document=True)
    return FileResponse(
        licence.document.open("rb"), filename=(licence.document.name or "").rsplit("/", 1)[-1]
    )


@requires(Perm.CLINIC_SETTINGS)
def clinic_settings(request: HttpRequest) -> HttpResponse:
    """The administrator's settings of their own clinic."""
    clinic = signed_in_user(request).clinic
    assert clinic is not None
    form = ClinicSettingsForm(request.POST or None, instance=clinic)
    if request.method == "POST" and form.is_valid():
        form.save()
        audit.record(
            AuditAction.UPDATE, request=request, obj=clinic, fields=sorted(form.changed_data)
        )
        messages.success(request, "Clinic settings saved.")
        return redirect("clinics:settings")
    return render(
        request,
        "clinics/settings.html",
        {"form": form, "clinic": clinic},
        status=400 if form.errors else 200,
    )
