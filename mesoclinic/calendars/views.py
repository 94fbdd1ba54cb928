"""Calendar pages: a practitioner's own feed, a patient's feed managed by staff, a course's
.ics download, and the public feed URL that calendar apps poll, opened by its secret alone."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mesoclinic.calendars import calendars, feeds
from mesoclinic.calendars.forms import FeedForm
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Role
from mesoclinic.clinics.permissions import Perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.courses.models import CoursePlan
from mesoclinic.patients.models import Patient


def _ics(data: bytes, filename: str | None = None) -> HttpResponse:
    response = HttpResponse(data, content_type="text/calendar; charset=utf-8")
    # Patient data: no shared cache keeps a copy.
    response["Cache-Control"] = "private, no-store"
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_not_required
@require_GET
def feed(request: HttpRequest, token: str) -> HttpResponse:
    """Calendar apps cannot sign in: the secret in the URL is the credential."""
    data = feeds.read_feed(token, request)
    if data is None:
        raise Http404("No such calendar feed.")
    return _ics(data)


@require_GET
@requires(Perm.COURSE_VIEW)
def plan_ics(request: HttpRequest, plan_pk: int) -> HttpResponse:
    plan = get_scoped_or_404(request, CoursePlan, pk=plan_pk)
    data = calendars.export_plan(plan, signed_in_user(request), request)
    return _ics(data, filename=f"course-{plan.pk}.ics")


def _page(
    request: HttpRequest,
    *,
    patient: Patient | None = None,
    form: FeedForm | None = None,
    new_path: str | None = None,
) -> HttpResponse:
    user = signed_in_user(request)
    owner = patient or user
    context: dict[str, object] = {
        "patient": patient,
        "can_have_feed": patient is not None or user.role == Role.PRACTITIONER,
        "feed": feeds.active_feed(owner),
        "form": form or FeedForm(),
        "plans": scoped(request, CoursePlan).filter(patient=patient).select_related("indication")
        if patient
        else [],
    }
    if new_path:
        # In this one response only: not stored, not put in a message kept in the session.
        context["new_url"] = request.build_absolute_uri(new_path)
        context["webcal_url"] = "webcal://" + request.get_host() + new_path
    return render(request, "calendars/feed.html", context, status=400 if form is not None else 200)


def _create(request: HttpRequest, patient: Patient | None) -> HttpResponse:
    form = FeedForm(request.POST)
    if form.is_valid():
        user = signed_in_user(request)
        try:
            _, path = feeds.create_feed(
                patient or user, actor=user, label=form.cleaned_data["label"], request=request
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return _page(request, patient=patient, new_path=path)
    return _page(request, patient=patient, form=form)


def _revoke(request: HttpRequest, patient: Patient | None) -> None:
    user = signed_in_user(request)
    active = feeds.active_feed(patient or user)
    if active is None:
        messages.info(request, "There was no active address to stop.")
        return
    feeds.revoke_feed(active, actor=user, request=request)
    messages.success(request, "The address is stopped: calendars using it get nothing more.")


@require_GET
@requires(Perm.COURSE_VIEW)
def my_feed(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@requires(Perm.COURSE_VIEW)
def my_feed_create(request: HttpRequest) -> HttpResponse:
    return _create(request, None)


@require_POST
@requires(Perm.COURSE_VIEW)
def my_feed_revoke(request: HttpRequest) -> HttpResponse:
    _revoke(request, None)
    return redirect("calendars:mine")


@require_GET
@requires(Perm.BOOKING_MANAGE)
def patient_feed(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=patient_pk)
    audit.record(AuditAction.VIEW, request=request, obj=patient, page="calendar feed")
    return _page(request, patient=patient)


@require_POST
@requires(Perm.BOOKING_MANAGE)
def patient_feed_create(request: HttpRequest, patient_pk: int) -> HttpResponse:
    return _create(request, get_scoped_or_404(request, Patient, pk=patient_pk))


@require_POST
@requires(Perm.BOOKING_MANAGE)
def patient_feed_revoke(request: HttpRequest, patient_pk: int) -> HttpResponse:
    _revoke(request, get_scoped_or_404(request, Patient, pk=patient_pk))
    return redirect("calendars:patient", patient_pk)
