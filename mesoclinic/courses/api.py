"""Course plans and booking over the API: plans at /api/v1/courses/, the schedule (appointments,
free slots, rooms) at /api/v1/appointments/.

Reading plans and the schedule needs ``course.view``; writing, completing or stopping a plan
``course.plan``; booking, moving, cancelling and recording attendance ``booking.manage``. Every
object is fetched through the tenancy helpers: another clinic's plan, appointment, patient,
practitioner or room is 404 in the path or in a filter, and 422 in a body.

Times are ISO 8601 with their offset and are returned in the clinic's time zone
("2026-03-16T10:00:00+01:00"). A time sent without an offset is refused (422): it names no
instant, and a clinic's 02:30 can even name two. Days (``date``, ``start_on``, ``from``, ``to``)
are days in the clinic's time zone.

A request the clinic's rules refuse (outside the practitioner's hours, leave, no valid
licence, a slot already taken, a course already closed...) is 422 with the sentences that say
why, and changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from ninja import Field, P, QueryEx, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.clinics import audit
from mesoclinic.clinics.api_errors import NOT_FOUND_IN_FILTER, invalid
from mesoclinic.clinics.models import AuditAction, Clinic, Role, User
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.courses import booking, plans
from mesoclinic.courses.models import (
    FREEING_STATUS,
    SESSION_MINUTES_LIMITS,
    SESSIONS_LIMITS,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    ConcurrentTreatment,
    ConcurrentTreatmentKind,
    CoursePlan,
    CourseStatus,
    MaintenanceRecall,
    MaintenanceStatus,
    Room,
)
from mesoclinic.formulas.models import FormulaVersion
from mesoclinic.patients.models import Patient
from mesoclinic.patients.services import record_list_view

courses_router = Router(tags=["courses"])
appointments_router = Router(tags=["appointments"])

# PostgreSQL text cannot hold NUL; refused with the other input rules, not as a 500.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Field(pattern=NO_NUL)]
Code = Annotated[str, Field(max_length=64, pattern=NO_NUL)]
# Days and times outside these years are typing slips, and the date arithmetic of booking
# must not run off the calendar.
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
# The longest schedule one request lists.
MAX_RANGE_DAYS = 92
OPEN_STATUSES = (CourseStatus.PLANNED, CourseStatus.ACTIVE)
MINUTES = Field(
    ge=SESSION_MINUTES_LIMITS[0], le=SESSION_MINUTES_LIMITS[1], description="Length in minutes."
)
OFFSET_TIME = "With its UTC offset, such as 2026-03-16T10:00:00+01:00."


# --- schemas ------------------------------------------------------------------------------


def _clinic(request: HttpRequest) -> Clinic:
    clinic = signed_in_user(request).clinic
    assert clinic is not None  # staff, as every permission here requires
    return clinic


def _local(value: datetime, context: dict[str, Any]) -> datetime:
    return timezone.localtime(value, _clinic(context["request"]).tz)


class AppointmentOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    practitioner_id: int
    practitioner_name: str
    room_id: int | None
    room_name: str | None
    starts_at: datetime = Field(description="In the clinic's time zone, with its offset.")
    ends_at: datetime = Field(description="In the clinic's time zone, with its offset.")
    kind: AppointmentKind
    plan_id: int | None
    session_number: int | None = Field(description="Which session of the course it is.")
    status: AppointmentStatus
    status_reason: str = Field(description="Why it was cancelled.")
    move_reason: str = Field(description="Why its last move broke the course's interval.")

    @staticmethod
    def resolve_patient_name(obj: Appointment) -> str:
        return str(obj.patient)

    @staticmethod
    def resolve_practitioner_name(obj: Appointment) -> str:
        return str(obj.practitioner)

    @staticmethod
    def resolve_room_name(obj: Appointment) -> str | None:
        return obj.room.name if obj.room is not None else None

    @staticmethod
    def resolve_starts_at(obj: Appointment, context: dict[str, Any]) -> datetime:
        return _local(obj.starts_at, context)

    @staticmethod
    def resolve_ends_at(obj: Appointment, context: dict[str, Any]) -> datetime:
        return _local(obj.ends_at, context)


class ConcurrentIn(Schema):
    kind: ConcurrentTreatmentKind
    description: str = Field("", max_length=300, pattern=NO_NUL)
    given_on: date | None = None


class ConcurrentOut(Schema):
    id: int
    kind: ConcurrentTreatmentKind
    description: str
    given_on: date | None
    recorded_by_id: int
    recorded_at: datetime

    @staticmethod
    def resolve_recorded_at(obj: ConcurrentTreatment, context: dict[str, Any]) -> datetime:
        return _local(obj.recorded_at, context)


class RecallOut(Schema):
    id: int
    plan_id: int
    due_on: date
    status: MaintenanceStatus
    appointment_id: int | None
    note: str


class DueRecallOut(RecallOut):
    patient_id: int
    patient_name: str
    practitioner_id: int
    indication: str = Field(description="Code of the course's catalogue indication.")

    @staticmethod
    def resolve_patient_id(obj: MaintenanceRecall) -> int:
        return obj.plan.patient_id

    @staticmethod
    def resolve_patient_name(obj: MaintenanceRecall) -> str:
        return str(obj.plan.patient)

    @staticmethod
    def resolve_practitioner_id(obj: MaintenanceRecall) -> int:
        return obj.plan.practitioner_id

    @staticmethod
    def resolve_indication(obj: MaintenanceRecall) -> str:
        return obj.plan.indication.code


class PlanIn(Schema):
    patient_id: int
    indication: Code = Field(description="Code of a catalogue indication.")
    protocol: Code = Field(
        "default", description="Code of the catalogue protocol whose values the plan starts from."
    )
    areas: list[Code] = Field([], description="Codes of catalogue body areas.")
    practitioner_id: int | None = Field(
        None, description="The practitioner responsible; the caller, if a practitioner, by default."
    )
    formula_version_id: int | None = Field(
        None, description="The version of one of the clinic's formulas the course intends."
    )
    sessions_planned: int | None = Field(
        None,
        ge=1,
        description=f"{SESSIONS_LIMITS[0]}-{SESSIONS_LIMITS[1]}; the protocol's most by default.",
    )
    interval_days: int | None = Field(None, ge=1, description="The protocol's by default.")
    tolerance_days: int | None = Field(
        None, ge=0, description="Below the interval; the protocol's by default."
    )
    session_minutes: int | None = Field(None, ge=1, description="The protocol's by default.")
    maintenance_per_year: int | None = Field(
        None, ge=0, description="The protocol's fewest by default."
    )
    adjustment_reason: Text = Field(
        "", description="Required when a value departs from the protocol's."
    )
    goals: Text = ""


class PlanOut(Schema):
    id: int
    patient_id: int
    patient_name: str
    indication: str = Field(description="Code of the catalogue indication.")
    indication_label: str
    areas: list[str] = Field(description="Codes of catalogue body areas.")
    protocol: str = Field(description="Code of the catalogue protocol.")
    practitioner_id: int
    practitioner_name: str
    formula_version_id: int | None
    formula_name: str | None
    formula_version_number: int | None
    sessions_planned: int
    interval_days: int
    tolerance_days: int
    session_minutes: int
    maintenance_per_year: int
    adjustment_reason: str
    goals: str
    status: CourseStatus
    status_reason: str = Field(description="Why it was stopped.")
    created_at: datetime
    completed_on: date | None

    @staticmethod
    def resolve_patient_name(obj: CoursePlan) -> str:
        return str(obj.patient)

    @staticmethod
    def resolve_indication(obj: CoursePlan) -> str:
        return obj.indication.code

    @staticmethod
    def resolve_indication_label(obj: CoursePlan) -> str:
        return obj.indication.label

    @staticmethod
    def resolve_areas(obj: CoursePlan) -> list[str]:
        return [area.code for area in obj.areas.all()]

    @staticmethod
    def resolve_protocol(obj: CoursePlan) -> str:
        return obj.protocol.code

    @staticmethod
    def resolve_practitioner_name(obj: CoursePlan) -> str:
        return str(obj.practitioner)

    @staticmethod
    def resolve_formula_name(obj: CoursePlan) -> str | None:
        version = obj.formula_version
        return version.formula.name if version is not None else None

    @staticmethod
    def resolve_formula_version_number(obj: CoursePlan) -> int | None:
        version = obj.formula_version
        return version.number if version is not None else None

    @staticmethod
    def resolve_created_at(obj: CoursePlan, context: dict[str, Any]) -> datetime:
        return _local(obj.created_at, context)


class PlanDetailOut(PlanOut):
    appointments: list[AppointmentOut] = Field(
        description="Every appointment of the course, cancelled ones included, in time order."
    )
    concurrent: list[ConcurrentOut] = Field(description="Other treatments alongside the course.")
    maintenance: list[RecallOut] = Field(description="Planned when the course completes.")

    @staticmethod
    def resolve_appointments(obj: CoursePlan) -> list[Appointment]:
        return list(obj.appointments.select_related("patient", "practitioner", "room"))

    @staticmethod
    def resolve_concurrent(obj: CoursePlan) -> list[ConcurrentTreatment]:
        return list(obj.concurrent.all())

    @staticmethod
    def resolve_maintenance(obj: CoursePlan) -> list[MaintenanceRecall]:
        return list(obj.maintenance.all())


class ReasonIn(Schema):
    reason: Text


class SessionTime(Schema):
    session_number: int = Field(description="Which session of the course.")
    starts_at: datetime = Field(description=OFFSET_TIME)


class ProposalOut(SessionTime):
    ends_at: datetime
    room_id: int | None


class BookingsIn(Schema):
    proposals: list[SessionTime] = Field(
        min_length=1,
        max_length=SESSIONS_LIMITS[1],
        description="The sessions to book, usually as the proposal gave them.",
    )
    room_id: int | None = Field(None, description="The room every session is booked in.")


class AppointmentIn(Schema):
    patient_id: int
    practitioner_id: int
    starts_at: datetime = Field(description=OFFSET_TIME)
    minutes: int = MINUTES
    room_id: int | None = None
    plan_id: int | None = Field(
        None, description="With session_number: the appointment is that session of the course."
    )
    session_number: int | None = None


class MoveIn(Schema):
    starts_at: datetime = Field(description=OFFSET_TIME)
    room_id: int | None = Field(None, description="Another room; the same room by default.")
    reason: Text = Field(
        "", description="Required when a course session would break the course's interval."
    )


class RoomOut(Schema):
    id: int
    name: str
    active: bool = Field(description="A retired room takes no new booking.")


class SlotOut(Schema):
    starts_at: datetime
    ends_at: datetime


class SlotsOut(Schema):
    practitioner_id: int
    date: date
    unavailable: str | None = Field(
        description="Why the practitioner cannot be booked at all that day (leave, licence, "
        "no working hours), or null."
    )
    slots: list[SlotOut] = Field(description="Every free start, on the quarter hour.")


# --- helpers ------------------------------------------------------------------------------


def _day(value: date, name: str) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise HttpError(422, f"{name} must fall between {EARLIEST_YEAR} and {LATEST_YEAR}.")
    return value


def _instant(value: datetime, name: str, tz: ZoneInfo) -> datetime:
    _day(value.date(), name)
    if timezone.is_naive(value):
        raise HttpError(
            422,
            f"{name} has no UTC offset, so it names no instant: send it with one, such as "
            f"{value.replace(tzinfo=tz).isoformat()} for the clinic's time.",
        )
    return value


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=tz)


def _lookup_or_422(request: HttpRequest, model: type[Any], pk: int, what: str) -> Any:
    found = scoped(request, model).filter(pk=pk).first()
    if found is None:
        raise HttpError(422, f"No {what} of this clinic has the id {pk}.")
    return found


def _bookable_room(request: HttpRequest, room_id: int | None) -> Room | None:
    if room_id is None:
        return None
    room: Room = _lookup_or_422(request, Room, room_id, "room")
    if not room.active:
        raise HttpError(422, f"{room} is retired: it takes no new booking.")
    return room


def _plans(request: HttpRequest) -> QuerySet[CoursePlan]:
    return (
        scoped(request, CoursePlan)
        .select_related(
            "patient", "indication", "protocol", "practitioner", "formula_version__formula"
        )
        .prefetch_related("areas")
    )


def _plan(request: HttpRequest, plan_id: int) -> CoursePlan:
    return get_scoped_or_404(request, CoursePlan, pk=plan_id)


def _appointment(request: HttpRequest, appointment_id: int) -> Appointment:
    return get_scoped_or_404(request, Appointment, pk=appointment_id)


def _interval_problems(plan: CoursePlan, wanted: dict[int, datetime]) -> list[str]:
    """Why booking the sessions ``wanted`` (number -> start) would not keep the course's
    interval with the sessions next to them, booked or wanted; empty when it would."""
    tz = plan.clinic.tz
    holding: dict[int, Appointment] = {}
    for appointment in plan.appointments.exclude(status=FREEING_STATUS):
        if appointment.session_number is not None:
            holding[appointment.session_number] = appointment
    problems = []
    for number in sorted(wanted):
        if not 1 <= number <= plan.sessions_planned:
            problems.append(
                f"The course has sessions 1 to {plan.sessions_planned}: there is no session "
                f"{number}."
            )
        elif number in holding:
            taken = holding[number]
            problems.append(
                f"Session {number} already has an appointment "
                f"({taken.get_status_display().lower()})."
            )
    if problems:
        return problems
    starts = {n: a.starts_at for n, a in holding.items()} | wanted
    low = plan.interval_days - plan.tolerance_days
    high = plan.interval_days + plan.tolerance_days
    for number in sorted(starts):
        previous = number - 1
        if previous not in starts or (number not in wanted and previous not in wanted):
            continue
        gap = (
            timezone.localdate(starts[number], tz) - timezone.localdate(starts[previous], tz)
        ).days
        if not low <= gap <= high:
            problems.append(
                f"Session {number} would be {gap} days after session {previous}, outside "
                f"{plan.interval_days} ± {plan.tolerance_days} days."
            )
    return problems


# --- plans --------------------------------------------------------------------------------


@courses_router.get(
    "/",
    response=list[PlanOut],
    summary="Course plans",
    openapi_extra={"responses": NOT_FOUND_IN_FILTER},
)
@api_requires(Perm.COURSE_VIEW)
def list_plans(
    request: HttpRequest, status: CourseStatus | None = None, patient_id: int | None = None
) -> list[CoursePlan]:
    """Newest first. ``patient_id``: one patient's courses. The patients listed are audited."""
    found = _plans(request)
    if status is not None:
        found = found.filter(status=status)
    if patient_id is not None:
        found = found.filter(patient=get_scoped_or_404(request, Patient, pk=patient_id))
    result = list(found)
    record_list_view(request, [plan.patient for plan in result])
    return result


@courses_router.post("/", response={201: PlanDetailOut}, summary="Plan a course")
@api_requires(Perm.COURSE_PLAN)
def create_plan(request: HttpRequest, payload: PlanIn) -> Status[CoursePlan]:
    """From the protocol's values; a value that departs from them needs
    ``adjustment_reason``, and every value must stay within sensible limits."""
    user = signed_in_user(request)
    patient: Patient = _lookup_or_422(request, Patient, payload.patient_id, "patient")
    if payload.practitioner_id is not None:
        practitioner: User = _lookup_or_422(request, User, payload.practitioner_id, "practitioner")
    elif user.role == Role.PRACTITIONER:
        practitioner = user
    else:
        raise HttpError(422, "Name the practitioner responsible for the course (practitioner_id).")
    indication = Indication.objects.filter(code=payload.indication, retired=False).first()
    protocol = Protocol.objects.filter(code=payload.protocol, retired=False).first()
    wanted_areas = list(dict.fromkeys(payload.areas))
    areas = {a.code: a for a in BodyArea.objects.filter(code__in=wanted_areas, retired=False)}
    problems = [
        f"No body area has the code {code!r}." for code in wanted_areas if code not in areas
    ]
    if indication is None:
        problems.insert(0, f"No indication has the code {payload.indication!r}.")
    if protocol is None:
        problems.insert(0, f"No protocol has the code {payload.protocol!r}.")
    if problems:
        raise HttpError(422, " ".join(problems))
    assert indication is not None and protocol is not None
    version = None
    if payload.formula_version_id is not None:
        version = _lookup_or_422(
            request, FormulaVersion, payload.formula_version_id, "formula version"
        )
    try:
        plan = plans.create_plan(
            patient=patient,
            indication=indication,
            practitioner=practitioner,
            protocol=protocol,
            actor=user,
            areas=[areas[code] for code in wanted_areas],
            formula_version=version,
            sessions_planned=payload.sessions_planned,
            interval_days=payload.interval_days,
            tolerance_days=payload.tolerance_days,
            session_minutes=payload.session_minutes,
            maintenance_per_year=payload.maintenance_per_year,
            adjustment_reason=payload.adjustment_reason,
            goals=payload.goals,
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, _plans(request).get(pk=plan.pk))


@courses_router.get(
    "/maintenance-due",
    response=list[DueRecallOut],
    summary="Maintenance due",
    description="Maintenance sessions of completed courses due within "
    f"{plans.MAINTENANCE_NOTICE_DAYS} days, or overdue, soonest first. The patients listed are "
    "audited.",
)
@api_requires(Perm.COURSE_VIEW)
def maintenance_due(request: HttpRequest) -> list[MaintenanceRecall]:
    recalls = list(plans.due_for_maintenance(scoped(request, CoursePlan), _clinic(request).today()))
    record_list_view(request, [recall.plan.patient for recall in recalls])
    return recalls


@courses_router.get(
    "/{plan_id}",
    response=PlanDetailOut,
    summary="A course plan",
    description="With its appointments, concurrent treatments and maintenance. The read is "
    "audited.",
)
@api_requires(Perm.COURSE_VIEW)
def get_plan(request: HttpRequest, plan_id: int) -> CoursePlan:
    plan = _plans(request).filter(pk=plan_id).first()
    if plan is None:
        raise Http404("No course plan found.")
    audit.record(AuditAction.VIEW, request=request, obj=plan)
    return plan


@courses_router.post(
    "/{plan_id}/complete",
    response=PlanDetailOut,
    summary="Complete a course",
    description="Once its sessions are attended or cancelled: plans the maintenance recalls "
    "over the year after the last session attended.",
)
@api_requires(Perm.COURSE_PLAN)
def complete_plan(request: HttpRequest, plan_id: int) -> CoursePlan:
    plan = _plan(request, plan_id)
    try:
        plans.complete_plan(plan, signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None
    return _plans(request).get(pk=plan.pk)


@courses_router.post(
    "/{plan_id}/stop",
    response=PlanDetailOut,
    summary="Stop a course early",
    description="With the reason; its booked sessions are cancelled.",
)
@api_requires(Perm.COURSE_PLAN)
def stop_plan(request: HttpRequest, plan_id: int, payload: ReasonIn) -> CoursePlan:
    plan = _plan(request, plan_id)
    try:
        booking.stop_plan(plan, payload.reason, signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None
    return _plans(request).get(pk=plan.pk)


@courses_router.post(
    "/{plan_id}/concurrent",
    response={201: ConcurrentOut},
    summary="Record a concurrent treatment",
    description="Botulinum toxin, a filler or another treatment the patient has alongside the "
    "course, which outcomes must allow for.",
)
@api_requires(Perm.COURSE_PLAN)
def add_concurrent(
    request: HttpRequest, plan_id: int, payload: ConcurrentIn
) -> Status[ConcurrentTreatment]:
    plan = _plan(request, plan_id)
    try:
        treatment = plans.add_concurrent_treatment(
            plan, **payload.dict(), actor=signed_in_user(request), request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, treatment)


@courses_router.get(
    "/{plan_id}/proposal",
    response=list[ProposalOut],
    summary="Propose slots for a course's sessions",
    description="The first free slots for the sessions not yet booked: the first on or after "
    "start_on (or after the last session booked), each next one the course's interval later "
    "as nearly as the practitioner's days allow, never outside the tolerance. Nothing is "
    "booked; 422 names the first session that finds no slot.",
    openapi_extra={"responses": {"404": {"description": "No such plan or room in the clinic."}}},
)
@api_requires(Perm.COURSE_VIEW)
def propose(
    request: HttpRequest, plan_id: int, start_on: date, room_id: int | None = None
) -> list[ProposalOut]:
    plan = _plan(request, plan_id)
    room = get_scoped_or_404(request, Room, pk=room_id) if room_id is not None else None
    try:
        proposals = booking.propose_course(plan, _day(start_on, "start_on"), room=room)
    except ValidationError as error:
        raise invalid(error) from None
    tz = plan.clinic.tz
    return [
        ProposalOut(
            session_number=p.session_number,
            starts_at=timezone.localtime(p.starts_at, tz),
            ends_at=timezone.localtime(p.ends_at, tz),
            room_id=p.room.pk if p.room is not None else None,
        )
        for p in proposals
    ]


@courses_router.post(
    "/{plan_id}/bookings",
    response={201: list[AppointmentOut]},
    summary="Book a course's sessions",
    description="Accepts a proposal: books every session sent, or none. Each must keep the "
    "course's interval (within the tolerance) with the sessions next to it. When any slot has "
    "been taken since it was proposed, or breaks another rule, nothing is booked and the answer "
    "is 422 with the reason: ask for a new proposal.",
)
@api_requires(Perm.BOOKING_MANAGE)
def book_sessions(
    request: HttpRequest, plan_id: int, payload: BookingsIn
) -> Status[list[Appointment]]:
    plan = _plan(request, plan_id)
    room = _bookable_room(request, payload.room_id)
    if plan.status not in OPEN_STATUSES:
        raise HttpError(422, f"This course is {plan.get_status_display().lower()}.")
    wanted: dict[int, datetime] = {}
    for proposal in payload.proposals:
        if proposal.session_number in wanted:
            raise HttpError(422, f"Session {proposal.session_number} is sent twice.")
        wanted[proposal.session_number] = _instant(proposal.starts_at, "starts_at", plan.clinic.tz)
    problems = _interval_problems(plan, wanted)
    if problems:
        raise HttpError(422, " ".join(problems))
    minutes = timedelta(minutes=plan.session_minutes)
    series = [
        booking.Proposal(number, starts_at, starts_at + minutes, room)
        for number, starts_at in sorted(wanted.items())
    ]
    try:
        appointments = booking.book_course(plan, series, signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, appointments)


# --- the schedule -------------------------------------------------------------------------


@appointments_router.get("/rooms", response=list[RoomOut], summary="Rooms")
@api_requires(Perm.COURSE_VIEW)
def list_rooms(request: HttpRequest) -> list[Room]:
    """The clinic's rooms, retired ones included."""
    return list(scoped(request, Room))


@appointments_router.get(
    "/slots",
    response=SlotsOut,
    summary="A practitioner's free slots on a day",
    description="Every start on the quarter hour at which an appointment of that length fits in "
    "the practitioner's hours, clear of their bookings and of the room's.",
    openapi_extra={"responses": NOT_FOUND_IN_FILTER},
)
@api_requires(Perm.COURSE_VIEW)
def free_slots(
    request: HttpRequest,
    practitioner_id: int,
    day: QueryEx[date, P(alias="date")],
    minutes: QueryEx[int, P(ge=SESSION_MINUTES_LIMITS[0], le=SESSION_MINUTES_LIMITS[1])],
    room_id: int | None = None,
) -> SlotsOut:
    practitioner = get_scoped_or_404(request, User, pk=practitioner_id)
    room = get_scoped_or_404(request, Room, pk=room_id) if room_id is not None else None
    day = _day(day, "date")
    tz = _clinic(request).tz
    return SlotsOut(
        practitioner_id=practitioner.pk,
        date=day,
        unavailable=booking.day_unavailable(practitioner, day),
        slots=[
            SlotOut(starts_at=timezone.localtime(s, tz), ends_at=timezone.localtime(e, tz))
            for s, e in booking.free_slots(practitioner, day, minutes, room=room)
        ],
    )


@appointments_router.get(
    "/",
    response=list[AppointmentOut],
    summary="The schedule",
    description=f"Appointments starting on the days from ``from`` to ``to`` (at most "
    f"{MAX_RANGE_DAYS} days), cancelled ones included, in time order. The patients listed are "
    "audited.",
    openapi_extra={"responses": NOT_FOUND_IN_FILTER},
)
@api_requires(Perm.COURSE_VIEW)
def list_appointments(
    request: HttpRequest,
    date_from: QueryEx[date, P(alias="from")],
    date_to: QueryEx[date, P(alias="to")],
    practitioner_id: int | None = None,
    room_id: int | None = None,
) -> list[Appointment]:
    first, last = _day(date_from, "from"), _day(date_to, "to")
    if not 0 <= (last - first).days < MAX_RANGE_DAYS:
        raise HttpError(
            422, f"'to' must be on or after 'from', and at most {MAX_RANGE_DAYS} days later."
        )
    tz = _clinic(request).tz
    found = scoped(request, Appointment).filter(
        starts_at__gte=_day_start(first, tz), starts_at__lt=_day_start(last + timedelta(days=1), tz)
    )
    if practitioner_id is not None:
        found = found.filter(practitioner=get_scoped_or_404(request, User, pk=practitioner_id))
    if room_id is not None:
        found = found.filter(room=get_scoped_or_404(request, Room, pk=room_id))
    result = list(found.select_related("patient", "practitioner", "room"))
    record_list_view(request, [a.patient for a in result])
    return result


@appointments_router.post(
    "/",
    response={201: AppointmentOut},
    summary="Book an appointment",
    description="One appointment; with plan_id and session_number, that session of the course, "
    "which must keep the course's interval with the sessions next to it.",
)
@api_requires(Perm.BOOKING_MANAGE)
def book_appointment(request: HttpRequest, payload: AppointmentIn) -> Status[Appointment]:
    patient: Patient = _lookup_or_422(request, Patient, payload.patient_id, "patient")
    practitioner: User = _lookup_or_422(request, User, payload.practitioner_id, "practitioner")
    room = _bookable_room(request, payload.room_id)
    starts_at = _instant(payload.starts_at, "starts_at", patient.clinic.tz)
    plan = None
    if (payload.plan_id is None) != (payload.session_number is None):
        raise HttpError(422, "A course session needs both plan_id and session_number.")
    if payload.plan_id is not None and payload.session_number is not None:
        plan = _lookup_or_422(request, CoursePlan, payload.plan_id, "course plan")
        if plan.patient_id != patient.pk:
            raise HttpError(422, "That course is another patient's.")
        if plan.status not in OPEN_STATUSES:
            raise HttpError(422, f"That course is {plan.get_status_display().lower()}.")
        problems = _interval_problems(plan, {payload.session_number: starts_at})
        if problems:
            raise HttpError(422, " ".join(problems))
    try:
        appointment = booking.book(
            patient=patient,
            practitioner=practitioner,
            starts_at=starts_at,
            minutes=payload.minutes,
            room=room,
            kind=AppointmentKind.SESSION if plan is not None else AppointmentKind.OTHER,
            plan=plan,
            session_number=payload.session_number,
            actor=signed_in_user(request),
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, appointment)


@appointments_router.get(
    "/{appointment_id}",
    response=AppointmentOut,
    summary="An appointment",
    description="The read is audited.",
)
@api_requires(Perm.COURSE_VIEW)
def get_appointment(request: HttpRequest, appointment_id: int) -> Appointment:
    appointment = _appointment(request, appointment_id)
    audit.record(AuditAction.VIEW, request=request, obj=appointment)
    return appointment


@appointments_router.post(
    "/{appointment_id}/move",
    response=AppointmentOut,
    summary="Move an appointment",
    description="A course session moved outside the course's interval is refused (422, saying "
    "by how many days) unless the reason is given. Its reminders follow.",
)
@api_requires(Perm.BOOKING_MANAGE)
def move_appointment(request: HttpRequest, appointment_id: int, payload: MoveIn) -> Appointment:
    appointment = _appointment(request, appointment_id)
    try:
        return booking.move_appointment(
            appointment,
            _instant(payload.starts_at, "starts_at", appointment.clinic.tz),
            signed_in_user(request),
            room=_bookable_room(request, payload.room_id),
            reason=payload.reason,
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None


@appointments_router.post(
    "/{appointment_id}/cancel",
    response=AppointmentOut,
    summary="Cancel an appointment",
    description="With the reason; the slot is free again and the reminders are cancelled.",
)
@api_requires(Perm.BOOKING_MANAGE)
def cancel_appointment(request: HttpRequest, appointment_id: int, payload: ReasonIn) -> Appointment:
    appointment = _appointment(request, appointment_id)
    try:
        return booking.cancel_appointment(
            appointment, payload.reason, signed_in_user(request), request=request
        )
    except ValidationError as error:
        raise invalid(error) from None


@appointments_router.post(
    "/{appointment_id}/attended",
    response=AppointmentOut,
    summary="Record that the patient came",
    description="The first session attended starts the course.",
)
@api_requires(Perm.BOOKING_MANAGE)
def record_attended(request: HttpRequest, appointment_id: int) -> Appointment:
    appointment = _appointment(request, appointment_id)
    try:
        return booking.record_attended(appointment, signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None


@appointments_router.post(
    "/{appointment_id}/no-show", response=AppointmentOut, summary="Record a no-show"
)
@api_requires(Perm.BOOKING_MANAGE)
def record_no_show(request: HttpRequest, appointment_id: int) -> Appointment:
    appointment = _appointment(request, appointment_id)
    try:
        return booking.record_no_show(appointment, signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None
