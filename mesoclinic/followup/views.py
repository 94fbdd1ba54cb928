"""The follow-up pages: the flags dashboard, a session's 24-hour follow-up and its adverse
events, an event's page, and a patient's events. Each reads through the tenancy helpers,
records the read, and leaves every decision to the services."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mesoclinic.charts.models import Chart, SyringeLot
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.followup import services
from mesoclinic.followup.forms import (
    CausalityForm,
    CloseFlagForm,
    EventForm,
    EventUpdateForm,
    FollowUpForm,
    RetractForm,
)
from mesoclinic.followup.models import AdverseEvent, EventPhoto, Flag, FollowUp
from mesoclinic.followup.photos import event_photo_bytes
from mesoclinic.patients.models import Patient
from mesoclinic.patients.services import record_list_view

RECENTLY_CLOSED = timedelta(days=30)


def _refused(form: Any, error: ValidationError) -> None:
    for message in error.messages:
        form.add_error(None, message)


# --- the dashboard -----------------------------------------------------------------------


@dataclass
class SessionFlags:
    """The open flags of one session, for one call to the patient."""

    chart: Chart
    flags: list[Flag] = field(default_factory=list)


def _flags(request: HttpRequest) -> QuerySet[Flag]:
    return scoped(request, Flag).select_related(
        "patient",
        "chart__appointment",
        "chart__patient",
        "chart__practitioner",
        "assigned_to",
        "adverse_event__side_effect",
        "closed_by",
    )


@require_GET
@requires(Perm.FOLLOWUP_VIEW)
def dashboard(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    now = timezone.now()
    # The worker sweeps too; sweeping here as well means a clinic without a worker running
    # still sees its unanswered follow-ups.
    services.flag_unanswered(now, clinic=user.clinic)
    mine = request.GET.get("mine") == "1"
    open_flags = _flags(request).filter(closed_at__isnull=True)
    if mine:
        open_flags = open_flags.filter(assigned_to=user)
    groups: dict[int, SessionFlags] = {}
    for flag in open_flags.order_by("raised_at", "pk"):
        groups.setdefault(flag.chart_id, SessionFlags(flag.chart)).flags.append(flag)
    closed = list(
        _flags(request)
        .filter(closed_at__gte=now - RECENTLY_CLOSED)
        .order_by("-closed_at", "-pk")[:20]
    )
    assert user.clinic is not None
    due = services.due_follow_ups(user.clinic, now)
    record_list_view(
        request,
        list(
            {
                patient.pk: patient
                for patient in [
                    *(group.chart.patient for group in groups.values()),
                    *(flag.patient for flag in closed),
                    *(item.chart.patient for item in due),
                ]
            }.values()
        ),
    )
    return render(
        request,
        "followup/dashboard.html",
        {
            "groups": list(groups.values()),
            "open_count": sum(len(group.flags) for group in groups.values()),
            "mine": mine,
            "due": due,
            "closed": closed,
            "can_close": has_perm(user, Perm.FLAG_CLOSE, request),
            "close_form": CloseFlagForm(),
        },
    )


@require_POST
@requires(Perm.FLAG_CLOSE)
def close_flag(request: HttpRequest, pk: int) -> HttpResponse:
    flag = get_scoped_or_404(request, Flag, pk=pk)
    form = CloseFlagForm(request.POST)
    back = reverse("followup:dashboard") + ("?mine=1" if request.POST.get("mine") == "1" else "")
    if not form.is_valid():
        for errors in form.errors.values():
            for message in errors:
                messages.error(request, f"Flag not closed: {message}")
        return redirect(f"{back}#flag-{flag.pk}")
    try:
        services.close_flag(
            flag,
            form.cleaned_data["action"],
            form.cleaned_data["note"],
            signed_in_user(request),
            request=request,
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, f"Flag not closed: {message}")
        return redirect(f"{back}#flag-{flag.pk}")
    messages.success(request, f"Flag closed for {flag.patient}: {flag.get_kind_display().lower()}.")
    return redirect(back)


# --- a session: its follow-up and its events ---------------------------------------------


def _events(queryset: QuerySet[AdverseEvent]) -> QuerySet[AdverseEvent]:
    return queryset.select_related(
        "side_effect", "body_area", "chart__appointment", "reported_by"
    ).prefetch_related(Prefetch("flags", queryset=Flag.objects.order_by("raised_at")))


def _chart_page(
    request: HttpRequest, chart: Chart, form: FollowUpForm | None = None, status: int = 200
) -> HttpResponse:
    # Recorded here, so that a form shown again with its errors counts as a read too.
    audit.record(AuditAction.VIEW, request=request, obj=chart, what="follow-up")
    follow_up = FollowUp.objects.filter(chart=chart).select_related("answered_by").first()
    answers = []
    if follow_up is not None:
        labels = dict(services.FOLLOW_UP_QUESTIONS)
        answers = [
            {"question": labels.get(code, code), "grade": grade}
            for code, grade in follow_up.answers.items()
        ]
    return render(
        request,
        "followup/chart.html",
        {
            "chart": chart,
            "follow_up": follow_up,
            "answers": answers,
            "form": form or FollowUpForm(),
            "events": list(_events(chart.adverse_events.all())),
            "flags": list(chart.flags.select_related("assigned_to").order_by("raised_at")),
            "due_at": chart.ended_at + services.FOLLOW_UP_AFTER if chart.ended_at else None,
            "can_record": has_perm(request.user, Perm.FOLLOWUP_RECORD, request),
        },
        status=status,
    )


@require_GET
@requires(Perm.FOLLOWUP_VIEW)
def chart(request: HttpRequest, chart_pk: int) -> HttpResponse:
    return _chart_page(request, get_scoped_or_404(request, Chart, pk=chart_pk))


@require_POST
@requires(Perm.FOLLOWUP_RECORD)
def answer(request: HttpRequest, chart_pk: int) -> HttpResponse:
    chart = get_scoped_or_404(request, Chart, pk=chart_pk)
    form = FollowUpForm(request.POST)
    if form.is_valid():
        try:
            services.record_follow_up(
                chart,
                form.answers(),
                signed_in_user(request),
                form.cleaned_data["channel"],
                day_off_work=form.cleaned_data["day_off_work"],
                notes=form.cleaned_data["notes"],
                answered_at=form.cleaned_data["answered_at"],
                request=request,
            )
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, "Follow-up recorded.")
            return redirect("followup:chart", chart.pk)
    return _chart_page(request, chart, form, status=422)


@require_http_methods(["GET", "POST"])
@requires(Perm.FOLLOWUP_RECORD)
def report(request: HttpRequest, chart_pk: int) -> HttpResponse:
    chart = get_scoped_or_404(request, Chart, pk=chart_pk)
    form = EventForm(request.POST or None, chart=chart)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                event = services.report_event(
                    chart,
                    form.spec(),
                    signed_in_user(request),
                    form.cleaned_data["reporter"],
                    request=request,
                )
            except ValidationError as error:
                _refused(form, error)
            else:
                messages.success(request, f"{event.label} recorded.")
                return redirect("followup:event", event.pk)
        status = 422
    audit.record(AuditAction.VIEW, request=request, obj=chart, what="report side effect")
    return render(request, "followup/report.html", {"chart": chart, "form": form}, status=status)


# --- an adverse event --------------------------------------------------------------------


def _event_page(
    request: HttpRequest, event: AdverseEvent, forms: dict[str, Any] | None = None
) -> HttpResponse:
    forms = forms or {}
    audit.record(AuditAction.VIEW, request=request, obj=event)
    history = list(
        event.history.select_related("history_user").order_by("-history_date", "-history_id")  # type: ignore[attr-defined]
    )
    return render(
        request,
        "followup/event.html",
        {
            "event": event,
            "chart": event.chart,
            # What the patient was exposed to at the session: the lots and devices an
            # outbreak is traced through.
            "lot_lines": list(
                SyringeLot.objects.filter(chart=event.chart)
                .select_related("lot__product", "syringe")
                .order_by("syringe__number", "pk")
            ),
            "history": history,
            "flags": list(event.flags.select_related("assigned_to", "closed_by")),
            "update_form": forms.get("update") or EventUpdateForm.for_event(event),
            "causality_form": forms.get("causality")
            or CausalityForm(initial={"causality": event.causality}),
            "retract_form": forms.get("retract") or RetractForm(),
            "can_record": has_perm(request.user, Perm.FOLLOWUP_RECORD, request),
            "can_assess": has_perm(request.user, Perm.CAUSALITY_ASSESS, request),
        },
        status=422 if forms else 200,
    )


def _event(request: HttpRequest, pk: int) -> AdverseEvent:
    return get_scoped_or_404(request, AdverseEvent, pk=pk)


@require_GET
@requires(Perm.FOLLOWUP_VIEW)
def event(request: HttpRequest, pk: int) -> HttpResponse:
    return _event_page(request, _event(request, pk))


@require_POST
@requires(Perm.FOLLOWUP_RECORD)
def event_update(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk)
    form = EventUpdateForm.for_event(event, request.POST)
    if form.is_valid():
        try:
            services.update_event(
                event,
                form.changes(),
                signed_in_user(request),
                reason=form.cleaned_data["reason"],
                seen_version=form.cleaned_data["version"],
                request=request,
            )
        except ValidationError as error:
            # Shown again over the version as it stands now, so that a second submission
            # is a decision made knowing the other change.
            data = request.POST.copy()
            data["update-version"] = str(services.version_of(event))
            form = EventUpdateForm.for_event(event, data)
            form.is_valid()
            _refused(form, error)
        else:
            messages.success(request, "Event updated; the earlier version is kept below.")
            return redirect("followup:event", event.pk)
    return _event_page(request, _event(request, pk), {"update": form})


@require_POST
@requires(Perm.CAUSALITY_ASSESS)
def event_causality(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk)
    form = CausalityForm(request.POST)
    if form.is_valid():
        try:
            services.assess_causality(
                event, form.cleaned_data["causality"], signed_in_user(request), request=request
            )
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, "Causality recorded.")
            return redirect("followup:event", event.pk)
    return _event_page(request, event, {"causality": form})


@require_POST
@requires(Perm.FOLLOWUP_RECORD)
def event_retract(request: HttpRequest, pk: int) -> HttpResponse:
    event = _event(request, pk)
    form = RetractForm(request.POST)
    if form.is_valid():
        try:
            services.retract_event(
                event, form.cleaned_data["reason"], signed_in_user(request), request=request
            )
        except ValidationError as error:
            _refused(form, error)
        else:
            messages.success(request, "Event retracted; it stays on the record, marked.")
            return redirect("followup:event", event.pk)
    return _event_page(request, event, {"retract": form})


# --- a patient's events ------------------------------------------------------------------


@require_GET
@requires(Perm.FOLLOWUP_VIEW)
def patient(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_scoped_or_404(request, Patient, pk=patient_pk)
    audit.record(AuditAction.VIEW, request=request, obj=patient, what="adverse events")
    return render(
        request,
        "followup/patient.html",
        {
            "patient": patient,
            "events": list(_events(scoped(request, AdverseEvent).filter(patient=patient))),
            "charts": list(
                scoped(request, Chart)
                .filter(patient=patient, signed_at__isnull=False)
                .select_related("appointment", "follow_up")
            ),
        },
    )


# --- a side effect's photos --------------------------------------------------------------


@require_GET
@requires(Perm.FOLLOWUP_VIEW)
def event_photo(request: HttpRequest, pk: int) -> HttpResponse:
    """A photo sent with a side-effect report, to the event's clinic only."""
    photo = get_scoped_or_404(request, EventPhoto, pk=pk)
    try:
        data = event_photo_bytes(photo)
    except FileNotFoundError:
        raise Http404("The photo's file is missing.") from None
    audit.record(
        AuditAction.VIEW,
        request=request,
        obj=photo,
        clinic_id=photo.event.clinic_id,
        patient_id=photo.event.patient_id,
        event_id=photo.event_id,
    )
    response = HttpResponse(data, content_type="image/jpeg")
    # Named by the record, never by anything the upload could put there.
    response["Content-Disposition"] = (
        f'inline; filename="event-{photo.event_id}-photo-{photo.pk}.jpg"'
    )
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
