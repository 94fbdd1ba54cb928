"""Screening over the API, at /api/v1/screening/.

Reading results needs ``screening.run`` (every staff role); overriding a block needs
``screening.override`` (practitioners); recording a prescription ``course.plan``. Running a
screening, checking in and asking whether a chart may start write a screening record, so
they are POSTs. Another clinic's appointment, finding or plan is 404. A refusal (an override
of a rule that allows none, a reason too short, a check-in of a cancelled appointment) is 422
with the sentence that says why, and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema
from ninja.responses import Status

from mesoclinic.clinics import audit
from mesoclinic.clinics.api_errors import invalid
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.screening import gate, services
from mesoclinic.screening.models import Answer, Finding, Override, Prescription, Screening, Stage

router = Router(tags=["screening"])


class OverrideOut(Schema):
    id: int
    practitioner: str
    reason: str
    at: datetime

    @staticmethod
    def resolve_practitioner(obj: Override) -> str:
        return str(obj.practitioner)


class FindingOut(Schema):
    id: int
    rule: str = Field(description="The rule's code in the catalogue.")
    label: str
    severity: str = Field(description="block, warn or inform.")
    overridable: bool
    evidence: str = Field(description="The data the rule fired on.")
    message: str = Field(description="Why it matters.")
    action: str = Field(description="What to do.")
    override: OverrideOut | None = None


class ScreeningOut(Schema):
    id: int
    appointment_id: int
    stage: str
    session_date: date
    outcome: str = Field(description="The most severe finding before overrides, or clear.")
    open_blocks: int = Field(description="Blocks not overridden: the chart cannot start.")
    ruleset_version: str
    precare_window_days: int
    run_at: datetime
    run_by: str
    findings: list[FindingOut]


def _screening_out(screening: Screening) -> ScreeningOut:
    views = services.findings_of(screening)
    return ScreeningOut(
        id=screening.pk,
        appointment_id=screening.appointment_id,
        stage=screening.stage,
        session_date=screening.session_date,
        outcome=screening.outcome,
        open_blocks=sum(view.open_block for view in views),
        ruleset_version=screening.ruleset_version,
        precare_window_days=screening.precare_window_days,
        run_at=screening.run_at,
        run_by=str(screening.run_by),
        findings=[
            FindingOut(
                id=view.finding.pk,
                rule=view.finding.rule.code,
                label=view.finding.rule.label,
                severity=view.finding.severity,
                overridable=view.finding.overridable,
                evidence=view.finding.evidence,
                message=view.finding.message,
                action=view.finding.action,
                override=OverrideOut.from_orm(view.override) if view.override else None,
            )
            for view in views
        ],
    )


@router.get(
    "/appointments/{appointment_id}",
    response=list[ScreeningOut],
    summary="Screenings of an appointment",
    description="Newest first: at booking, at check-in, before the chart, on request.",
)
@api_requires(Perm.SCREENING_RUN)
def list_screenings(request: HttpRequest, appointment_id: int) -> list[ScreeningOut]:
    appointment = get_scoped_or_404(request, Appointment, pk=appointment_id)
    audit.record(AuditAction.VIEW, request=request, obj=appointment, screening=True)
    return [_screening_out(s) for s in appointment.screenings.select_related("run_by")]


@router.post(
    "/appointments/{appointment_id}/run",
    response={201: ScreeningOut},
    summary="Screen an appointment now",
)
@api_requires(Perm.SCREENING_RUN)
def run(request: HttpRequest, appointment_id: int) -> Status[ScreeningOut]:
    appointment = get_scoped_or_404(request, Appointment, pk=appointment_id)
    screening = services.run_screening(
        appointment, Stage.ON_REQUEST, signed_in_user(request), request=request
    )
    return Status(201, _screening_out(screening))


class CheckInIn(Schema):
    nsaid_last_week: bool = Field(
        description="Any aspirin or other NSAID in the last week (the clinic's window)."
    )
    nsaid_name: str = Field("", max_length=200)
    nsaid_last_dose: date | None = None
    new_medications: list[str] = Field(default_factory=list, max_length=20)
    pregnant: Answer
    notes: str = Field("", max_length=2000)


@router.post(
    "/appointments/{appointment_id}/check-in",
    response={201: ScreeningOut},
    summary="Check a patient in",
    description="The answers go into the record (the painkiller and its last dose, new "
    "medicines, a pregnancy) and the appointment is screened again with them.",
)
@api_requires(Perm.SCREENING_RUN)
def check_in(request: HttpRequest, appointment_id: int, payload: CheckInIn) -> Status[ScreeningOut]:
    appointment = get_scoped_or_404(request, Appointment, pk=appointment_id)
    answers = services.CheckInAnswers(
        nsaid_last_week=Answer.YES if payload.nsaid_last_week else Answer.NO,
        pregnant=payload.pregnant,
        nsaid_name=payload.nsaid_name,
        nsaid_last_dose=payload.nsaid_last_dose,
        new_medications="\n".join(payload.new_medications),
        notes=payload.notes,
    )
    try:
        record = services.check_in(appointment, answers, signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, _screening_out(record.screening))


class ChartGateOut(Schema):
    allowed: bool
    reasons: list[str]
    screening: ScreeningOut


@router.post(
    "/appointments/{appointment_id}/chart-gate",
    response=ChartGateOut,
    summary="May the chart start?",
    description="Screens the appointment again and checks the course's consent: the same "
    "check the chart makes before it opens.",
)
@api_requires(Perm.SCREENING_RUN)
def chart_gate(request: HttpRequest, appointment_id: int) -> ChartGateOut:
    appointment = get_scoped_or_404(request, Appointment, pk=appointment_id)
    try:
        result = gate.chart_gate(appointment, signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None
    return ChartGateOut(
        allowed=result.allowed, reasons=result.reasons, screening=_screening_out(result.screening)
    )


class OverrideIn(Schema):
    reason: str = Field(min_length=1, max_length=2000)


@router.post(
    "/findings/{finding_id}/override",
    response={201: OverrideOut},
    summary="Override a block after review",
    description="A practitioner only, with the reason; kept with the chart and audited.",
)
@api_requires(Perm.SCREENING_OVERRIDE)
def override(request: HttpRequest, finding_id: int, payload: OverrideIn) -> Status[Override]:
    finding = get_scoped_or_404(request, Finding, pk=finding_id)
    try:
        decision = services.override(
            finding, payload.reason, signed_in_user(request), request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, decision)


class PrescriptionIn(Schema):
    prescriber_name: str = Field(min_length=1, max_length=200)
    prescriber_registration: str = Field(min_length=1, max_length=100)
    issued_on: date
    notes: str = Field("", max_length=2000)


class PrescriptionOut(PrescriptionIn):
    id: int
    plan_id: int
    recorded_at: datetime


@router.get(
    "/plans/{plan_id}/prescriptions",
    response=list[PrescriptionOut],
    summary="Prescriptions of a course",
)
@api_requires(Perm.COURSE_VIEW)
def list_prescriptions(request: HttpRequest, plan_id: int) -> list[Prescription]:
    plan = get_scoped_or_404(request, CoursePlan, pk=plan_id)
    audit.record(AuditAction.VIEW, request=request, obj=plan, prescriptions=True)
    return list(plan.prescriptions.all())


@router.post(
    "/plans/{plan_id}/prescriptions",
    response={201: PrescriptionOut},
    summary="Record a prescription",
)
@api_requires(Perm.COURSE_PLAN)
def add_prescription(
    request: HttpRequest, plan_id: int, payload: PrescriptionIn
) -> Status[Prescription]:
    plan = get_scoped_or_404(request, CoursePlan, pk=plan_id)
    try:
        prescription = services.record_prescription(
            plan, **payload.dict(), actor=signed_in_user(request), request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, prescription)
