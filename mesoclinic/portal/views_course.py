"""Home and My course: the next session and what to do before it, every course with its
sessions and mix, calendar files, and moving or cancelling a session within the clinic's
rules. Each view looks its objects up through the signed-in patient (another patient's id is
404) and leaves the rules to ``portal.course``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from mesoclinic.calendars import calendars
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, User
from mesoclinic.courses.models import Appointment
from mesoclinic.portal import course
from mesoclinic.portal.access import patient_of, patient_view, seen
from mesoclinic.portal.rules import rules_of
from mesoclinic.reminders.planner import REMINDED_APPOINTMENTS


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # patient_view let only a patient's account in
    return user


def _appointment(request: HttpRequest, appointment_pk: int) -> Appointment:
    patient = patient_of(request)
    return get_object_or_404(
        Appointment.objects.select_related("clinic", "plan", "practitioner", "room"),
        pk=appointment_pk,
        patient=patient,
        clinic=patient.clinic,
    )


def _ics(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="text/calendar; charset=utf-8")
    # Patient data: no shared cache keeps a copy.
    response["Cache-Control"] = "private, no-store"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@patient_view
@require_GET
def home(request: HttpRequest) -> HttpResponse:
    patient = patient_of(request)
    now = timezone.now()
    following = course.next_appointment(patient, now)
    context: dict[str, Any] = {
        "portal_section": "home",
        "patient": patient,
        "next": following,
        "plans": course.plans_of(patient).exists(),
    }
    if following is not None:
        context |= {
            "label": course.session_label(following),
            "check_in_open": course.check_in_open(following, now),
        }
        if following.kind in REMINDED_APPOINTMENTS:  # injected: pre-care applies
            deadline = course.precare_deadline(following)
            context |= {
                "deadline": deadline,
                "deadline_passed": deadline <= patient.clinic.today(),
            }
    seen(request, "home", following)
    return render(request, "portal/course/home.html", context)


@patient_view
@require_GET
def course_page(request: HttpRequest) -> HttpResponse:
    patient = patient_of(request)
    now = timezone.now()
    courses = course.courses_of(patient, now)
    course.mark_changes(courses, _user(request), now)
    seen(request, "course", plans=[view.plan.pk for view in courses])
    return render(
        request,
        "portal/course/course.html",
        {
            "portal_section": "course",
            "courses": courses,
            "notice_hours": rules_of(patient.clinic).change_notice_hours,
            "call": course.call_the_clinic(patient.clinic),
        },
    )


@patient_view
def course_ics(request: HttpRequest, plan_pk: int) -> HttpResponse:
    plan = get_object_or_404(course.plans_of(patient_of(request)), pk=plan_pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    # export_plan audits the export, with the patient as its actor.
    data = calendars.export_plan(plan, _user(request), request)
    return _ics(data, f"course-{plan.pk}.ics")


@patient_view
def appointment_ics(request: HttpRequest, appointment_pk: int) -> HttpResponse:
    appointment = _appointment(request, appointment_pk)
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    data = course.appointment_ics(appointment, timezone.now())
    audit.record(
        AuditAction.EXPORT,
        request=request,
        obj=appointment,
        format="ics",
        portal="appointment-ics",
    )
    return _ics(data, f"appointment-{appointment.pk}.ics")


def _move_page(
    request: HttpRequest,
    appointment: Appointment,
    *,
    error: str = "",
    chosen: str = "",
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    refusal = course.move_refusal(appointment, _user(request), now)
    options = course.move_options(appointment, now) if refusal is None else []
    return render(
        request,
        "portal/course/move.html",
        {
            "portal_section": "course",
            "appointment": appointment,
            "label": course.session_label(appointment),
            "refusal": refusal,
            "options": options,
            "error": error,
            "chosen": chosen,
            "call": course.call_the_clinic(appointment.clinic),
            "notice_hours": rules_of(appointment.clinic).change_notice_hours,
        },
        status=status,
    )


def _chosen_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if timezone.is_aware(moment) else None


@patient_view
@require_http_methods(["GET", "POST"])
def appointment_move(request: HttpRequest, appointment_pk: int) -> HttpResponse:
    appointment = _appointment(request, appointment_pk)
    if request.method != "POST":
        seen(request, "appointment-move", appointment)
        return _move_page(request, appointment)
    value = request.POST.get("starts_at", "")
    starts_at = _chosen_time(value)
    if starts_at is None:
        return _move_page(
            request, appointment, error=_("Choose one of the times below."), status=400
        )
    try:
        moved = course.patient_move(appointment, starts_at, _user(request), request)
    except ValidationError as error:
        return _move_page(
            request, appointment, error=" ".join(error.messages), chosen=value, status=400
        )
    local = timezone.localtime(moved.starts_at)
    messages.success(
        request,
        _("Your appointment is now on %(day)s at %(time)s.")
        % {"day": date_format(local, "l j F Y"), "time": f"{local:%H:%M}"},
    )
    return redirect("portal:course")


def _cancel_page(
    request: HttpRequest,
    appointment: Appointment,
    *,
    error: str = "",
    reason: str = "",
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    refusal = course.cancel_refusal(appointment, _user(request), now)
    return render(
        request,
        "portal/course/cancel.html",
        {
            "portal_section": "course",
            "appointment": appointment,
            "label": course.session_label(appointment),
            "refusal": refusal,
            "error": error,
            "reason": reason,
            "reason_max": course.REASON_MAX_LENGTH,
            "may_move": course.move_refusal(appointment, _user(request), now) is None,
            "call": course.call_the_clinic(appointment.clinic),
        },
        status=status,
    )


@patient_view
@require_http_methods(["GET", "POST"])
def appointment_cancel(request: HttpRequest, appointment_pk: int) -> HttpResponse:
    appointment = _appointment(request, appointment_pk)
    if request.method != "POST":
        seen(request, "appointment-cancel", appointment)
        return _cancel_page(request, appointment)
    reason = request.POST.get("reason", "")
    try:
        course.patient_cancel(appointment, reason, _user(request), request)
    except ValidationError as error:
        return _cancel_page(
            request, appointment, error=" ".join(error.messages), reason=reason, status=400
        )
    messages.success(request, _("Your appointment is cancelled."))
    return redirect("portal:course")
