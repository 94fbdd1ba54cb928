"""The check-in screen: what screening found for a session, the questions of the day,
overrides, and the prescriptions a course's prescription-only ingredients need."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.consent.services import valid_consent
from mesoclinic.courses.models import Appointment, AppointmentStatus, CoursePlan
from mesoclinic.patients.services import parse_date
from mesoclinic.screening import services
from mesoclinic.screening.forms import CheckInForm, OverrideForm, PrescriptionForm
from mesoclinic.screening.models import Answer, Finding, Screening, Stage
from mesoclinic.screening.receivers import SCREENED_KINDS


@requires(Perm.SCREENING_RUN)
def today(request: HttpRequest) -> HttpResponse:
    """The day's sessions with where each stands: screened, blocked, checked in."""
    clinic = signed_in_user(request).clinic
    assert clinic is not None
    day = parse_date(request.GET.get("day", "")) or clinic.today()
    start = datetime.combine(day, time(0), tzinfo=clinic.tz)
    appointments = list(
        scoped(request, Appointment)
        .filter(
            starts_at__gte=start,
            starts_at__lt=datetime.combine(day + timedelta(days=1), time(0), tzinfo=clinic.tz),
            kind__in=SCREENED_KINDS,
        )
        .exclude(status=AppointmentStatus.CANCELLED)
        .select_related("patient", "practitioner", "plan__indication")
        .order_by("starts_at")
    )
    latest: dict[int, Screening] = {}
    for screening in Screening.objects.filter(appointment__in=appointments).order_by("run_at"):
        latest[screening.appointment_id] = screening
    checked_in = set(
        Appointment.objects.filter(
            pk__in=[a.pk for a in appointments], check_ins__isnull=False
        ).values_list("pk", flat=True)
    )
    audit.record(
        AuditAction.VIEW, request=request, listed_patient_ids=[a.patient_id for a in appointments]
    )
    rows = [
        {
            "appointment": a,
            "screening": latest.get(a.pk),
            # A block a practitioner has overridden no longer stops the session.
            "open_blocks": len(services.open_blocks(latest[a.pk])) if a.pk in latest else 0,
            "checked_in": a.pk in checked_in,
        }
        for a in appointments
    ]
    return render(
        request,
        "screening/today.html",
        {
            "day": day,
            "rows": rows,
            "previous": day - timedelta(days=1),
            "next": day + timedelta(days=1),
            "is_today": day == clinic.today(),
        },
    )


def _page(
    request: HttpRequest,
    appointment: Appointment,
    *,
    check_in_form: CheckInForm | None = None,
    override_forms: dict[int, OverrideForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    screening = services.latest_screening(appointment)
    findings = services.findings_of(screening) if screening is not None else []
    consent = (
        valid_consent(appointment.plan, timezone.now()) if appointment.plan is not None else None
    )
    audit.record(AuditAction.VIEW, request=request, obj=appointment, screening=True)
    override_forms = override_forms or {}
    return render(
        request,
        "screening/appointment.html",
        {
            "appointment": appointment,
            "screening": screening,
            "findings": [
                {
                    "view": view,
                    "form": override_forms.get(view.finding.pk)
                    or OverrideForm(prefix=f"f{view.finding.pk}"),
                }
                for view in findings
            ],
            "open_blocks": [view for view in findings if view.open_block],
            "history": appointment.screenings.select_related("run_by")[:20],
            "consent": consent,
            "check_in_form": check_in_form
            or CheckInForm(initial={"nsaid_last_week": "", "pregnant": ""}),
            "can_override": has_perm(request.user, Perm.SCREENING_OVERRIDE, request),
            "is_booked": appointment.status == AppointmentStatus.BOOKED,
            "last_check_in": appointment.check_ins.first(),
        },
        status=status,
    )


@requires(Perm.SCREENING_RUN)
def appointment(request: HttpRequest, pk: int) -> HttpResponse:
    return _page(request, get_scoped_or_404(request, Appointment, pk=pk))


def _form_errors(form: forms.Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            for each in errors:
                form.add_error(field if field in form.fields else None, each.message)
    else:
        form.add_error(None, error)


@requires(Perm.SCREENING_RUN)
@require_POST
def check_in(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = get_scoped_or_404(request, Appointment, pk=pk)
    form = CheckInForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        answers = services.CheckInAnswers(
            nsaid_last_week=Answer(data["nsaid_last_week"]),
            pregnant=Answer(data["pregnant"]),
            nsaid_name=data["nsaid_name"],
            nsaid_last_dose=data["nsaid_last_dose"],
            new_medications=data["new_medications"],
            notes=data["notes"],
        )
        try:
            record = services.check_in(
                appointment, answers, signed_in_user(request), request=request
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            outcome = record.screening.get_outcome_display().lower()
            messages.success(request, f"Checked in; screening result: {outcome}.")
            return redirect("screening:appointment", pk=appointment.pk)
    return _page(request, appointment, check_in_form=form, status=400)


@requires(Perm.SCREENING_RUN)
@require_POST
def rerun(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = get_scoped_or_404(request, Appointment, pk=pk)
    screening = services.run_screening(
        appointment, Stage.ON_REQUEST, signed_in_user(request), request=request
    )
    messages.success(request, f"Screened again: {screening.get_outcome_display().lower()}.")
    return redirect("screening:appointment", pk=appointment.pk)


@requires(Perm.SCREENING_OVERRIDE)
@require_POST
def override(request: HttpRequest, pk: int) -> HttpResponse:
    finding = get_scoped_or_404(request, Finding, pk=pk)
    appointment = finding.screening.appointment
    form = OverrideForm(request.POST, prefix=f"f{finding.pk}")
    if form.is_valid():
        try:
            services.override(
                finding, form.cleaned_data["reason"], signed_in_user(request), request=request
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, f"Override recorded for “{finding.rule.label}”.")
            return redirect("screening:appointment", pk=appointment.pk)
    return _page(request, appointment, override_forms={finding.pk: form}, status=400)


def _prescriptions_page(
    request: HttpRequest, plan: CoursePlan, form: PrescriptionForm | None = None
) -> HttpResponse:
    audit.record(AuditAction.VIEW, request=request, obj=plan, prescriptions=True)
    return render(
        request,
        "screening/prescriptions.html",
        {
            "plan": plan,
            "prescriptions": plan.prescriptions.select_related("recorded_by"),
            "form": form or PrescriptionForm(),
            "can_record": has_perm(request.user, Perm.COURSE_PLAN, request),
        },
        status=400 if form is not None else 200,
    )


@requires(Perm.COURSE_VIEW)
def prescriptions(request: HttpRequest, pk: int) -> HttpResponse:
    return _prescriptions_page(request, get_scoped_or_404(request, CoursePlan, pk=pk))


@requires(Perm.COURSE_PLAN)
@require_POST
def prescription_add(request: HttpRequest, pk: int) -> HttpResponse:
    plan = get_scoped_or_404(request, CoursePlan, pk=pk)
    form = PrescriptionForm(request.POST)
    if form.is_valid():
        try:
            services.record_prescription(
                plan, **form.cleaned_data, actor=signed_in_user(request), request=request
            )
        except ValidationError as error:
            _form_errors(form, error)
        else:
            messages.success(request, "Prescription recorded.")
            return redirect("screening:prescriptions", pk=plan.pk)
    return _prescriptions_page(request, plan, form)
