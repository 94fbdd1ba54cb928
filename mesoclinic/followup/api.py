"""Follow-up over the API, at /api/v1/followup/: adverse events, the 24-hour follow-up of a
session, the flags they raise and the follow-ups due.

Reading needs ``followup.view``; recording a follow-up or an event, updating or retracting
an event ``followup.record`` (every staff role); assessing causality ``causality.assess``
(practitioners); closing a flag ``flag.close`` (practitioners and the administrator). Every
record is fetched through the tenancy helpers: another clinic's chart, event or flag is 404.

An event's history keeps every version; an event recorded in error is retracted with a
reason, never deleted. A follow-up is answered once (a second answer is 409) and a flag is
closed once, with an action and a note (a second close is 409). Input the services refuse is
422 with the sentences that say why, and changes nothing.

Times are ISO 8601 with their offset and are returned in the clinic's time zone; a time sent
without an offset is refused (422). Dates (onset, resolution) are the clinic's days.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, overload

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from mesoclinic.charts.models import Chart
from mesoclinic.clinics import audit
from mesoclinic.clinics.api_errors import NOT_FOUND_IN_FILTER, invalid
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.followup import services
from mesoclinic.followup.models import (
    AdverseEvent,
    Causality,
    EventOutcome,
    Flag,
    FlagAction,
    FlagKind,
    FollowUp,
    FollowUpChannel,
    Grade,
    Reporter,
)
from mesoclinic.patients.models import Patient
from mesoclinic.patients.services import record_list_view

router = Router(tags=["followup"])

# PostgreSQL text cannot hold NUL; refused with the other input rules, not as a 500.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(max_length=10_000, pattern=NO_NUL)]
Code = Annotated[str, Field(max_length=64, pattern=NO_NUL)]
Reason = Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL)]
OFFSET_TIME = "With its UTC offset, such as 2026-03-16T10:00:00+01:00."
ANSWERED = "This session's follow-up is already answered; it is kept as given."
CLOSED = "This flag is closed already."
ANSWERED_CONFLICT = {"409": {"description": "The follow-up is already answered."}}
CLOSED_CONFLICT = {"409": {"description": "The flag is closed already."}}


# --- schemas -----------------------------------------------------------------------------


class FlagOut(Schema):
    id: int
    kind: FlagKind
    kind_label: str
    reason: str = Field(description="What fired, in words.")
    chart_id: int
    patient_id: int
    patient_name: str
    adverse_event_id: int | None
    assigned_to_id: int = Field(description="The practitioner who gave the treatment.")
    assigned_to_name: str
    raised_at: datetime
    open: bool
    closed_at: datetime | None
    closed_by_id: int | None
    action: FlagAction | None
    action_note: str


class EventOut(Schema):
    id: int
    chart_id: int
    patient_id: int
    patient_name: str
    side_effect: str | None = Field(description="The catalogue code; null for an other.")
    other_description: str
    label: str
    body_area: str | None = Field(description="The code of an area treated at the session.")
    onset_on: date
    grade: Grade
    grade_label: str
    serious: bool
    treatment: str
    outcome: EventOutcome
    resolved_on: date | None
    day_off_work: bool
    organism: str
    reporter: Reporter
    reported_by_id: int
    reported_at: datetime
    causality: Causality | None
    causality_by_id: int | None
    causality_at: datetime | None
    follow_up_id: int | None = Field(description="The follow-up that recorded it, if any.")
    notes: str
    retracted_at: datetime | None
    retraction_reason: str
    flags: list[FlagOut]


class EventVersionOut(Schema):
    recorded_at: datetime
    recorded_by_id: int | None
    reason: str
    grade: Grade
    serious: bool
    treatment: str
    outcome: EventOutcome
    resolved_on: date | None
    organism: str
    causality: Causality | None
    notes: str
    retracted: bool


class EventDetailOut(EventOut):
    versions: list[EventVersionOut] = Field(description="Every version, newest first.")


class EventIn(Schema):
    side_effect: Code = Field(
        "", description="A catalogue side-effect code; empty only with other_description."
    )
    other_description: str = Field(
        "",
        max_length=300,
        pattern=NO_NUL,
        description="Only when no side effect of the catalogue fits; coded later.",
    )
    body_area: Code = Field("", description="An area treated at the session; empty for none.")
    onset_on: date | None = Field(None, description="The session's day when left out.")
    grade: int = Field(ge=1, le=5, description="1 mild to 5 death (GRADE_MEANING).")
    serious: bool = Field(False, description="Always true from grade 4.")
    treatment: Text = ""
    outcome: EventOutcome = EventOutcome.ONGOING
    resolved_on: date | None = Field(None, description="Only with a resolved outcome.")
    day_off_work: bool = False
    organism: str = Field("", max_length=200, pattern=NO_NUL, description="For an infection.")
    notes: Text = ""
    reporter: Reporter = Field(
        Reporter.STAFF, description="Who reported it: staff, or the patient (by phone...)."
    )


class EventPatch(Schema):
    """Only the fields sent change; ``reason`` says why, and is kept with the version."""

    outcome: EventOutcome | None = None
    resolved_on: date | None = None
    treatment: Text | None = None
    grade: int | None = Field(None, ge=1, le=5)
    serious: bool | None = None
    organism: str | None = Field(None, max_length=200, pattern=NO_NUL)
    notes: Text | None = None
    reason: Reason


class CausalityIn(Schema):
    causality: Causality


class EventRetractIn(Schema):
    reason: str = Field(min_length=services.MIN_NOTE, max_length=2000, pattern=NO_NUL)


class QuestionOut(Schema):
    code: str
    question: str


class FollowUpOut(Schema):
    id: int
    chart_id: int
    channel: FollowUpChannel
    answered_at: datetime
    answered_by_id: int
    answers: dict[str, int] = Field(description="Side-effect code -> grade still present.")
    day_off_work: bool
    notes: str
    recorded_at: datetime
    adverse_event_ids: list[int]


class FollowUpStatusOut(Schema):
    chart_id: int
    signed: bool
    due_at: datetime | None = Field(description="24 hours after the session ended.")
    overdue_at: datetime | None = Field(description="72 hours after: flagged if unanswered.")
    questions: list[QuestionOut] = Field(description="Asked in this order; all are required.")
    follow_up: FollowUpOut | None = Field(description="Null until answered.")


class FollowUpIn(Schema):
    answers: dict[Code, Annotated[int, Field(ge=0, le=5)]] = Field(
        description="Every question's code (see questions), and any other catalogue code, "
        "-> the grade still present now: 0 none, 1-5."
    )
    channel: FollowUpChannel
    day_off_work: bool = False
    notes: Text = ""
    answered_at: datetime | None = Field(None, description="Now when left out. " + OFFSET_TIME)


class CloseIn(Schema):
    action: FlagAction
    action_note: str = Field(
        min_length=services.MIN_NOTE,
        max_length=2000,
        pattern=NO_NUL,
        description="What was done or found.",
    )


class DueOut(Schema):
    chart_id: int
    patient_id: int
    patient_name: str
    patient_phone: str
    practitioner_id: int
    ended_at: datetime
    due_at: datetime
    overdue_at: datetime
    overdue: bool


# --- helpers ------------------------------------------------------------------------------


@overload
def _local(value: datetime, tz: Any) -> datetime: ...
@overload
def _local(value: datetime | None, tz: Any) -> datetime | None: ...
def _local(value: datetime | None, tz: Any) -> datetime | None:
    return None if value is None else timezone.localtime(value, tz)


def _flag_out(flag: Flag) -> FlagOut:
    tz = flag.clinic.tz
    return FlagOut(
        id=flag.pk,
        kind=FlagKind(flag.kind),
        kind_label=flag.get_kind_display(),
        reason=flag.reason,
        chart_id=flag.chart_id,
        patient_id=flag.patient_id,
        patient_name=str(flag.patient),
        adverse_event_id=flag.adverse_event_id,
        assigned_to_id=flag.assigned_to_id,
        assigned_to_name=str(flag.assigned_to),
        raised_at=_local(flag.raised_at, tz),
        open=flag.is_open,
        closed_at=_local(flag.closed_at, tz),
        closed_by_id=flag.closed_by_id,
        action=FlagAction(flag.action) if flag.action else None,
        action_note=flag.action_note,
    )


def _event_fields(event: AdverseEvent) -> dict[str, Any]:
    tz = event.clinic.tz
    return {
        "id": event.pk,
        "chart_id": event.chart_id,
        "patient_id": event.patient_id,
        "patient_name": str(event.patient),
        "side_effect": event.side_effect.code if event.side_effect else None,
        "other_description": event.other_description,
        "label": event.label,
        "body_area": event.body_area.code if event.body_area else None,
        "onset_on": event.onset_on,
        "grade": Grade(event.grade),
        "grade_label": event.get_grade_display(),
        "serious": event.serious,
        "treatment": event.treatment,
        "outcome": EventOutcome(event.outcome),
        "resolved_on": event.resolved_on,
        "day_off_work": event.day_off_work,
        "organism": event.organism,
        "reporter": Reporter(event.reporter),
        "reported_by_id": event.reported_by_id,
        "reported_at": _local(event.reported_at, tz),
        "causality": Causality(event.causality) if event.causality else None,
        "causality_by_id": event.causality_by_id,
        "causality_at": _local(event.causality_at, tz),
        "follow_up_id": event.follow_up_id,
        "notes": event.notes,
        "retracted_at": _local(event.retracted_at, tz),
        "retraction_reason": event.retraction_reason,
        "flags": [_flag_out(flag) for flag in event.flags.order_by("raised_at", "pk")],
    }


def _detail(event: AdverseEvent) -> EventDetailOut:
    tz = event.clinic.tz
    versions = [
        EventVersionOut(
            recorded_at=_local(version.history_date, tz),
            recorded_by_id=version.history_user_id,
            reason=version.history_change_reason or "",
            grade=Grade(version.grade),
            serious=version.serious,
            treatment=version.treatment,
            outcome=EventOutcome(version.outcome),
            resolved_on=version.resolved_on,
            organism=version.organism,
            causality=Causality(version.causality) if version.causality else None,
            notes=version.notes,
            retracted=version.retracted_at is not None,
        )
        for version in event.history.order_by("-history_date", "-history_id")  # type: ignore[attr-defined]
    ]
    return EventDetailOut(**_event_fields(event), versions=versions)


def _events(request: HttpRequest) -> QuerySet[AdverseEvent]:
    return scoped(request, AdverseEvent).select_related(
        "clinic", "patient", "side_effect", "body_area"
    )


def _event(request: HttpRequest, event_id: int) -> AdverseEvent:
    return get_scoped_or_404(request, AdverseEvent, pk=event_id)


def _fresh(event_id: int) -> AdverseEvent:
    return AdverseEvent.objects.select_related("clinic", "patient", "side_effect", "body_area").get(
        pk=event_id
    )


def _follow_up_out(follow_up: FollowUp, tz: Any) -> FollowUpOut:
    return FollowUpOut(
        id=follow_up.pk,
        chart_id=follow_up.chart_id,
        channel=FollowUpChannel(follow_up.channel),
        answered_at=_local(follow_up.answered_at, tz),
        answered_by_id=follow_up.answered_by_id,
        answers=follow_up.answers,
        day_off_work=follow_up.day_off_work,
        notes=follow_up.notes,
        recorded_at=_local(follow_up.recorded_at, tz),
        adverse_event_ids=list(
            follow_up.adverse_events.order_by("pk").values_list("pk", flat=True)
        ),
    )


def _instant(value: datetime | None, name: str) -> datetime | None:
    if value is not None and timezone.is_naive(value):
        raise HttpError(422, f"{name} has no UTC offset, so it names no instant: send it with one.")
    return value


# --- adverse events -----------------------------------------------------------------------


@router.get(
    "/charts/{chart_id}/events",
    response=list[EventOut],
    summary="A session's adverse events",
    description="Newest onset first, retracted ones included (marked). The read is audited.",
)
@api_requires(Perm.FOLLOWUP_VIEW)
def list_chart_events(request: HttpRequest, chart_id: int) -> list[dict[str, Any]]:
    chart = get_scoped_or_404(request, Chart, pk=chart_id)
    audit.record(AuditAction.VIEW, request=request, obj=chart, what="adverse events")
    return [_event_fields(event) for event in _events(request).filter(chart=chart)]


@router.post(
    "/charts/{chart_id}/events",
    response={201: EventDetailOut},
    summary="Report an adverse event",
    description="On a signed session, with the flags its rules raise (still present past the "
    "time it should settle, an infection, always reviewed, grade 3 or more, reported by the "
    "patient). 422 says what is wrong: an area not treated at the session, an onset before "
    "it or in the future, a resolution date without a resolved outcome...",
)
@api_requires(Perm.FOLLOWUP_RECORD)
def report_event(request: HttpRequest, chart_id: int, payload: EventIn) -> Status[EventDetailOut]:
    chart = get_scoped_or_404(request, Chart, pk=chart_id)
    if chart.signed_at is None:
        raise HttpError(422, "The session's chart is not signed yet.")
    spec = services.EventSpec(
        onset_on=payload.onset_on or services.session_day(chart),
        grade=payload.grade,
        side_effect=payload.side_effect,
        other_description=payload.other_description,
        body_area=payload.body_area,
        serious=payload.serious,
        treatment=payload.treatment,
        outcome=payload.outcome,
        resolved_on=payload.resolved_on,
        day_off_work=payload.day_off_work,
        organism=payload.organism,
        notes=payload.notes,
    )
    try:
        event = services.report_event(
            chart, spec, signed_in_user(request), payload.reporter, request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, _detail(_fresh(event.pk)))


@router.get(
    "/events/{event_id}",
    response=EventDetailOut,
    summary="An adverse event",
    description="With its flags and every version. The read is audited.",
)
@api_requires(Perm.FOLLOWUP_VIEW)
def get_event(request: HttpRequest, event_id: int) -> EventDetailOut:
    event = _event(request, event_id)
    audit.record(AuditAction.VIEW, request=request, obj=event)
    return _detail(_fresh(event.pk))


@router.patch(
    "/events/{event_id}",
    response=EventDetailOut,
    summary="Update an adverse event",
    description="How it evolved: only the fields sent change, with the reason; the version it "
    "replaces stays in the history. A grade raised to 3 or more raises its flag. A retracted "
    "event is 422.",
)
@api_requires(Perm.FOLLOWUP_RECORD)
def update_event(request: HttpRequest, event_id: int, payload: EventPatch) -> EventDetailOut:
    event = _event(request, event_id)
    changes = payload.model_dump(exclude_unset=True, exclude={"reason"})
    for name in ("outcome", "grade", "serious", "treatment", "organism", "notes"):
        if name in changes and changes[name] is None:
            raise HttpError(422, f"{name} cannot be null.")
    try:
        services.update_event(
            event, changes, signed_in_user(request), reason=payload.reason, request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return _detail(_fresh(event.pk))


@router.post(
    "/events/{event_id}/causality",
    response=EventDetailOut,
    summary="Assess causality",
    description="The practitioner's judgement (WHO-UMC categories) of whether the treatment "
    "caused the event; a new assessment replaces the last, which stays in the history.",
)
@api_requires(Perm.CAUSALITY_ASSESS)
def assess_causality(request: HttpRequest, event_id: int, payload: CausalityIn) -> EventDetailOut:
    event = _event(request, event_id)
    try:
        services.assess_causality(event, payload.causality, signed_in_user(request), request)
    except ValidationError as error:
        raise invalid(error) from None
    return _detail(_fresh(event.pk))


@router.post(
    "/events/{event_id}/retract",
    response=EventDetailOut,
    summary="Retract an adverse event",
    description="One recorded in error: it stays, marked, with the reason; its flags stay "
    "until closed. Retracting twice is 422.",
)
@api_requires(Perm.FOLLOWUP_RECORD)
def retract_event(request: HttpRequest, event_id: int, payload: EventRetractIn) -> EventDetailOut:
    event = _event(request, event_id)
    try:
        services.retract_event(event, payload.reason, signed_in_user(request), request)
    except ValidationError as error:
        raise invalid(error) from None
    return _detail(_fresh(event.pk))


# --- the 24-hour follow-up ----------------------------------------------------------------


def _status(chart: Chart) -> FollowUpStatusOut:
    tz = chart.clinic.tz
    follow_up = FollowUp.objects.filter(chart=chart).first()
    ended = chart.ended_at if chart.signed_at else None
    return FollowUpStatusOut(
        chart_id=chart.pk,
        signed=chart.signed_at is not None,
        due_at=_local(ended + services.FOLLOW_UP_AFTER, tz) if ended else None,
        overdue_at=_local(ended + services.UNANSWERED_AFTER, tz) if ended else None,
        questions=[
            QuestionOut(code=code, question=question)
            for code, question in services.FOLLOW_UP_QUESTIONS
        ],
        follow_up=_follow_up_out(follow_up, tz) if follow_up else None,
    )


@router.get(
    "/charts/{chart_id}/follow-up",
    response=FollowUpStatusOut,
    summary="A session's 24-hour follow-up",
    description="The questions, when it is due, and the answers once given (null before). "
    "The read is audited.",
)
@api_requires(Perm.FOLLOWUP_VIEW)
def get_follow_up(request: HttpRequest, chart_id: int) -> FollowUpStatusOut:
    chart = get_scoped_or_404(request, Chart, pk=chart_id)
    audit.record(AuditAction.VIEW, request=request, obj=chart, what="follow-up")
    return _status(chart)


@router.post(
    "/charts/{chart_id}/follow-up",
    response={201: FollowUpStatusOut},
    summary="Record a session's 24-hour follow-up",
    description="Once, on a signed session: each side effect still present becomes an "
    "adverse event, with the flags its rules raise. A second answer is 409.",
    openapi_extra={"responses": ANSWERED_CONFLICT},
)
@api_requires(Perm.FOLLOWUP_RECORD)
def record_follow_up(
    request: HttpRequest, chart_id: int, payload: FollowUpIn
) -> Status[FollowUpStatusOut]:
    chart = get_scoped_or_404(request, Chart, pk=chart_id)
    if FollowUp.objects.filter(chart=chart).exists():
        raise HttpError(409, ANSWERED)
    try:
        services.record_follow_up(
            chart,
            dict(payload.answers),
            signed_in_user(request),
            payload.channel,
            day_off_work=payload.day_off_work,
            notes=payload.notes,
            answered_at=_instant(payload.answered_at, "answered_at"),
            request=request,
        )
    except ValidationError as error:
        if FollowUp.objects.filter(chart=chart).exists():  # answered meanwhile
            raise HttpError(409, ANSWERED) from None
        raise invalid(error) from None
    return Status(201, _status(chart))


@router.get(
    "/due",
    response=list[DueOut],
    summary="Follow-ups due",
    description="Signed sessions at least 24 hours past their end with no answered follow-up, "
    "the longest waiting first; overdue from 72 hours. The patients listed are audited.",
)
@api_requires(Perm.FOLLOWUP_VIEW)
def due_follow_ups(request: HttpRequest) -> list[DueOut]:
    user = signed_in_user(request)
    assert user.clinic is not None
    due = services.due_follow_ups(user.clinic, timezone.now())
    record_list_view(
        request, list({item.chart.patient_id: item.chart.patient for item in due}.values())
    )
    tz = user.clinic.tz
    return [
        DueOut(
            chart_id=item.chart.pk,
            patient_id=item.chart.patient_id,
            patient_name=str(item.chart.patient),
            patient_phone=item.chart.patient.phone,
            practitioner_id=item.chart.practitioner_id,
            ended_at=_local(item.ended_at, tz),
            due_at=_local(item.due_at, tz),
            overdue_at=_local(item.overdue_at, tz),
            overdue=item.overdue,
        )
        for item in due
    ]


# --- flags --------------------------------------------------------------------------------


@router.get(
    "/flags",
    response=list[FlagOut],
    summary="Flags",
    description="Oldest first. open=true for the open ones only, mine=true for those "
    "assigned to the caller. The patients listed are audited.",
    openapi_extra={"responses": NOT_FOUND_IN_FILTER},
)
@api_requires(Perm.FOLLOWUP_VIEW)
def list_flags(
    request: HttpRequest,
    open: bool | None = None,
    mine: bool = False,
    patient_id: int | None = None,
    chart_id: int | None = None,
) -> list[FlagOut]:
    flags = scoped(request, Flag).select_related("clinic", "patient", "assigned_to")
    if open is not None:
        flags = flags.filter(closed_at__isnull=open)
    if mine:
        flags = flags.filter(assigned_to=signed_in_user(request))
    if patient_id is not None:
        flags = flags.filter(patient=get_scoped_or_404(request, Patient, pk=patient_id))
    if chart_id is not None:
        flags = flags.filter(chart=get_scoped_or_404(request, Chart, pk=chart_id))
    found = list(flags.order_by("raised_at", "pk"))
    record_list_view(request, list({flag.patient_id: flag.patient for flag in found}.values()))
    return [_flag_out(flag) for flag in found]


@router.post(
    "/flags/{flag_id}/close",
    response=FlagOut,
    summary="Close a flag",
    description="With the action taken and a note of at least 10 characters, once: a flag "
    "closed already is 409. Nothing else closes a flag.",
    openapi_extra={"responses": CLOSED_CONFLICT},
)
@api_requires(Perm.FLAG_CLOSE)
def close_flag(request: HttpRequest, flag_id: int, payload: CloseIn) -> FlagOut:
    flag = get_scoped_or_404(request, Flag, pk=flag_id)
    if flag.closed_at is not None:
        raise HttpError(409, CLOSED)
    try:
        closed = services.close_flag(
            flag, payload.action, payload.action_note, signed_in_user(request), request
        )
    except ValidationError as error:
        if Flag.objects.filter(pk=flag.pk, closed_at__isnull=False).exists():
            raise HttpError(409, CLOSED) from None
        raise invalid(error) from None
    return _flag_out(
        Flag.objects.select_related("clinic", "patient", "assigned_to").get(pk=closed.pk)
    )
