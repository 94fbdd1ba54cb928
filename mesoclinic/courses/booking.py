"""Booking: when a practitioner can see a patient, the series a course plan proposes, and
booking, moving, cancelling and recording appointments.

Times are aware datetimes; days are dates in the clinic's time zone, and a working-hours
block is turned into instants for each day separately, so 09:00 stays 09:00 local on both
sides of a daylight-saving change. The database refuses overlapping bookings (see
``models``); the checks here give the sentence a person reads, and an overlap that slips
between check and write (a concurrent request) is turned into the same sentence.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from mesoclinic.clinics import audit
from mesoclinic.clinics.licences import licence_check
from mesoclinic.clinics.models import AuditAction, Clinic, Role, User
from mesoclinic.courses.models import (
    FREEING_STATUS,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    Leave,
    MaintenanceRecall,
    MaintenanceStatus,
    Room,
    WorkingHours,
)
from mesoclinic.courses.plans import change_status, start_plan
from mesoclinic.courses.signals import appointment_changed
from mesoclinic.patients.models import Patient

# Appointments start on the quarter hour.
SLOT_STEP = timedelta(minutes=15)
# How far ahead the first session of a course is looked for.
FIRST_SESSION_SEARCH_DAYS = 28


@dataclass(frozen=True)
class Proposal:
    session_number: int
    starts_at: datetime
    ends_at: datetime
    room: Room | None


def _instant(day: date, moment: time, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=tz)


def day_unavailable(practitioner: User, day: date) -> str | None:
    """Why ``practitioner`` cannot be booked at all on ``day``, or None."""
    check = licence_check(practitioner, day)
    if not check.ok:
        return check.reason
    if Leave.objects.filter(practitioner=practitioner, starts_on__lte=day, ends_on__gte=day):
        return f"{practitioner} is on leave on {day:%Y-%m-%d}."
    if not WorkingHours.objects.filter(practitioner=practitioner, weekday=day.weekday()):
        return f"{practitioner} does not work on {day:%A}s."
    return None


def working_blocks(practitioner: User, day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    if day_unavailable(practitioner, day) is not None:
        return []
    return [
        (_instant(day, hours.starts, tz), _instant(day, hours.ends, tz))
        for hours in WorkingHours.objects.filter(practitioner=practitioner, weekday=day.weekday())
    ]


def _holding(exclude: Appointment | None = None) -> Q:
    condition = ~Q(status=FREEING_STATUS)
    if exclude is not None and exclude.pk is not None:
        condition &= ~Q(pk=exclude.pk)
    return condition


def conflicts(
    practitioner: User,
    room: Room | None,
    starts_at: datetime,
    ends_at: datetime,
    exclude: Appointment | None = None,
) -> list[Appointment]:
    """Appointments holding the practitioner or the room over any part of the time."""
    who = Q(practitioner=practitioner)
    if room is not None:
        who |= Q(room=room)
    return list(
        Appointment.objects.filter(
            who, _holding(exclude), starts_at__lt=ends_at, ends_at__gt=starts_at
        ).select_related("practitioner", "room")
    )


def free_slots(
    practitioner: User,
    day: date,
    minutes: int,
    *,
    room: Room | None = None,
    exclude: Appointment | None = None,
) -> Iterator[tuple[datetime, datetime]]:
    """Every start on the quarter hour at which ``minutes`` fit on ``day`` in the
    practitioner's hours and clear of bookings of the practitioner and the room."""
    if practitioner.clinic is None:
        return
    tz = practitioner.clinic.tz
    blocks = working_blocks(practitioner, day, tz)
    if not blocks:
        return
    first, last = min(b[0] for b in blocks), max(b[1] for b in blocks)
    taken = [(a.starts_at, a.ends_at) for a in conflicts(practitioner, room, first, last, exclude)]
    length = timedelta(minutes=minutes)
    for block_start, block_end in blocks:
        start = block_start
        while start + length <= block_end:
            end = start + length
            if not any(s < end and e > start for s, e in taken):
                yield start, end
            start += SLOT_STEP


def _gap_days(first: datetime, second: datetime, tz: ZoneInfo) -> int:
    return (timezone.localdate(second, tz) - timezone.localdate(first, tz)).days


def _days_by_closeness(target: date, low: date, high: date) -> list[date]:
    days = [low + timedelta(days=n) for n in range((high - low).days + 1)]
    return sorted(days, key=lambda day: (abs((day - target).days), day))


def propose_course(plan: CoursePlan, start_on: date, *, room: Room | None = None) -> list[Proposal]:
    """Slots for the plan's sessions not held by a booking: the first on or after
    ``start_on``, each next one ``interval_days`` after the previous as nearly as the
    practitioner's days allow, never outside the tolerance, and a session between two held
    ones (say, a cancelled session 3) within the tolerance of both. Raises a
    ``ValidationError`` naming the first session that finds no slot."""
    tz = plan.clinic.tz
    practitioner = plan.practitioner
    held = {
        appointment.session_number: timezone.localdate(appointment.starts_at, tz)
        for appointment in plan.appointments.filter(_holding(), session_number__isnull=False)
    }
    low = plan.interval_days - plan.tolerance_days
    high = plan.interval_days + plan.tolerance_days
    previous_day: date | None = None
    proposals: list[Proposal] = []
    for number in range(1, plan.sessions_planned + 1):
        if number in held:
            previous_day = held[number]
            continue
        if previous_day is None:
            window = [start_on + timedelta(days=n) for n in range(FIRST_SESSION_SEARCH_DAYS)]
        else:
            target = previous_day + timedelta(days=plan.interval_days)
            window = _days_by_closeness(
                target,
                target - timedelta(days=plan.tolerance_days),
                target + timedelta(days=plan.tolerance_days),
            )
        later = [day for n, day in held.items() if n is not None and n > number]
        next_day = min(later) if later else None
        found = None
        for day in window:
            if day < start_on:
                continue
            if next_day is not None and not low <= (next_day - day).days <= high:
                continue
            found = next(free_slots(practitioner, day, plan.session_minutes, room=room), None)
            if found is not None:
                break
        if found is None:
            raise ValidationError(
                f"No free slot for session {number} between {min(window):%Y-%m-%d} and "
                f"{max(window):%Y-%m-%d}: {practitioner} is fully booked, away or not "
                "licensed on those days."
            )
        proposals.append(Proposal(number, found[0], found[1], room))
        previous_day = timezone.localdate(found[0], tz)
    return proposals


def _check_bookable(
    clinic: Clinic,
    patient: Patient,
    practitioner: User,
    room: Room | None,
    starts_at: datetime,
    ends_at: datetime,
    exclude: Appointment | None = None,
) -> None:
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise ValidationError("Appointment times must carry a time zone.")
    if ends_at <= starts_at:
        raise ValidationError("An appointment must end after it starts.")
    if patient.clinic_id != clinic.pk:
        raise ValidationError("The patient belongs to another clinic.")
    if practitioner.clinic_id != clinic.pk or practitioner.role != Role.PRACTITIONER:
        raise ValidationError(f"{practitioner} is not a practitioner of this clinic.")
    if room is not None and room.clinic_id != clinic.pk:
        raise ValidationError("The room belongs to another clinic.")
    tz = clinic.tz
    day = timezone.localdate(starts_at, tz)
    reason = day_unavailable(practitioner, day)
    if reason is not None:
        raise ValidationError(reason)
    blocks = working_blocks(practitioner, day, tz)
    if not any(start <= starts_at and ends_at <= end for start, end in blocks):
        hours = ", ".join(f"{s.astimezone(tz):%H:%M}-{e.astimezone(tz):%H:%M}" for s, e in blocks)
        raise ValidationError(
            f"{timezone.localtime(starts_at, tz):%H:%M}-{timezone.localtime(ends_at, tz):%H:%M} "
            f"is outside {practitioner}'s hours on {day:%Y-%m-%d} ({hours})."
        )
    clash = conflicts(practitioner, room, starts_at, ends_at, exclude)
    if clash:
        raise ValidationError(_clash_message(clash[0], practitioner, tz))


def _clash_message(other: Appointment, practitioner: User, tz: ZoneInfo) -> str:
    who = str(practitioner) if other.practitioner_id == practitioner.pk else str(other.room)
    start = timezone.localtime(other.starts_at, tz)
    end = timezone.localtime(other.ends_at, tz)
    return f"{who} is already booked on {start:%Y-%m-%d} from {start:%H:%M} to {end:%H:%M}."


TAKEN = "That slot was taken a moment ago by another booking; choose another time."


def book(
    *,
    patient: Patient,
    practitioner: User,
    starts_at: datetime,
    minutes: int,
    actor: User,
    room: Room | None = None,
    kind: str = AppointmentKind.SESSION,
    plan: CoursePlan | None = None,
    session_number: int | None = None,
    request: HttpRequest | None = None,
) -> Appointment:
    """Book one appointment, or refuse with the reason and book nothing."""
    clinic = patient.clinic
    ends_at = starts_at + timedelta(minutes=minutes)
    if plan is not None and plan.patient_id != patient.pk:
        raise ValidationError("That course plan is another patient's.")
    if room is not None and not room.active:
        raise ValidationError(f"{room} is no longer in use.")
    try:
        with transaction.atomic():
            # Checked inside the transaction: on SQLite it holds the write lock from its
            # start (IMMEDIATE), so no other booking can slip in between check and insert.
            _check_bookable(clinic, patient, practitioner, room, starts_at, ends_at)
            appointment = Appointment.objects.create(
                clinic=clinic,
                patient=patient,
                practitioner=practitioner,
                room=room,
                starts_at=starts_at,
                ends_at=ends_at,
                kind=kind,
                plan=plan,
                session_number=session_number,
                created_by=actor,
            )
            audit.record(AuditAction.CREATE, request=request, actor=actor, obj=appointment)
            appointment_changed.send(
                Appointment, appointment=appointment, change="booked", actor=actor
            )
    except IntegrityError as error:
        raise ValidationError(_integrity_message(error)) from None
    return appointment


def _integrity_message(error: IntegrityError) -> str:
    if "one_per_session" in str(error):
        return "That session of the course is already booked."
    return TAKEN


def book_course(
    plan: CoursePlan,
    proposals: list[Proposal],
    actor: User,
    *,
    request: HttpRequest | None = None,
) -> list[Appointment]:
    """Book a proposed series at once: all of it, or nothing if any slot has gone."""
    if plan.status not in (CourseStatus.PLANNED, CourseStatus.ACTIVE):
        raise ValidationError(f"This course is {plan.get_status_display().lower()}.")
    with transaction.atomic():
        return [
            book(
                patient=plan.patient,
                practitioner=plan.practitioner,
                starts_at=proposal.starts_at,
                minutes=plan.session_minutes,
                room=proposal.room,
                plan=plan,
                session_number=proposal.session_number,
                actor=actor,
                request=request,
            )
            for proposal in proposals
        ]


def interval_breaks(appointment: Appointment, starts_at: datetime) -> list[str]:
    """How moving a course session to ``starts_at`` would break the plan's interval with
    the sessions before and after it; empty when it keeps within the tolerance."""
    plan = appointment.plan
    if plan is None or appointment.session_number is None:
        return []
    tz = plan.clinic.tz
    low = plan.interval_days - plan.tolerance_days
    high = plan.interval_days + plan.tolerance_days
    siblings = plan.appointments.filter(_holding(appointment), session_number__isnull=False)
    before = siblings.filter(session_number__lt=appointment.session_number).last()
    after = siblings.filter(session_number__gt=appointment.session_number).first()
    problems = []
    for other, first, second in (
        (before, before.starts_at if before else None, starts_at),
        (after, starts_at, after.starts_at if after else None),
    ):
        if other is None or first is None or second is None:
            continue
        gap = _gap_days(first, second, tz)
        if not low <= gap <= high:
            problems.append(
                f"{gap} days from session {other.session_number}"
                if other is before
                else f"{gap} days to session {other.session_number}"
            )
    if not problems:
        return []
    return [
        f"Session {appointment.session_number} would be "
        + " and ".join(problems)
        + f", outside {plan.interval_days} ± {plan.tolerance_days} days."
    ]


def move_appointment(
    appointment: Appointment,
    starts_at: datetime,
    actor: User,
    *,
    room: Room | None = None,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Appointment:
    """Move one appointment; a course session moved outside its interval needs ``reason``.
    Its reminders follow (``appointment_changed``)."""
    if appointment.status != AppointmentStatus.BOOKED:
        raise ValidationError(
            f"Only a booked appointment can move; this one is "
            f"{appointment.get_status_display().lower()}."
        )
    breaks = interval_breaks(appointment, starts_at)
    if breaks and not reason.strip():
        raise ValidationError([*breaks, "Give a reason to move it there anyway."])
    ends_at = starts_at + (appointment.ends_at - appointment.starts_at)
    new_room = room if room is not None else appointment.room
    try:
        with transaction.atomic():
            _check_bookable(
                appointment.clinic,
                appointment.patient,
                appointment.practitioner,
                new_room,
                starts_at,
                ends_at,
                exclude=appointment,
            )
            previous = appointment.starts_at
            appointment.starts_at, appointment.ends_at, appointment.room = (
                starts_at,
                ends_at,
                new_room,
            )
            appointment.move_reason = reason.strip() if breaks else ""
            appointment.save()
            audit.record(
                AuditAction.UPDATE,
                request=request,
                actor=actor,
                obj=appointment,
                moved_from=previous.isoformat(),
                moved_to=starts_at.isoformat(),
                reason=appointment.move_reason,
            )
            appointment_changed.send(
                Appointment, appointment=appointment, change="moved", actor=actor
            )
    except IntegrityError:
        raise ValidationError(TAKEN) from None
    return appointment


def _set_status(
    appointment: Appointment,
    status: AppointmentStatus,
    reason: str,
    actor: User,
    request: HttpRequest | None,
) -> Appointment:
    if appointment.status != AppointmentStatus.BOOKED:
        raise ValidationError(
            f"This appointment is already {appointment.get_status_display().lower()}."
        )
    with transaction.atomic():
        appointment.status = status
        appointment.status_reason = reason
        appointment.save(update_fields=["status", "status_reason"])
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=appointment,
            status=str(status),
            reason=reason,
        )
        appointment_changed.send(
            Appointment, appointment=appointment, change=str(status), actor=actor
        )
    return appointment


def cancel_appointment(
    appointment: Appointment, reason: str, actor: User, *, request: HttpRequest | None = None
) -> Appointment:
    """Cancel: the slot is free again and the reminders are cancelled."""
    if not reason.strip():
        raise ValidationError("Give the reason for the cancellation.")
    with transaction.atomic():
        _set_status(appointment, AppointmentStatus.CANCELLED, reason.strip(), actor, request)
        # A cancelled maintenance session is due again.
        MaintenanceRecall.objects.filter(appointment=appointment).update(
            status=MaintenanceStatus.DUE, appointment=None
        )
    return appointment


def record_no_show(
    appointment: Appointment, actor: User, *, request: HttpRequest | None = None
) -> Appointment:
    if appointment.starts_at > timezone.now():
        raise ValidationError("An appointment still to come cannot be a no-show.")
    return _set_status(appointment, AppointmentStatus.NO_SHOW, "", actor, request)


def record_attended(
    appointment: Appointment, actor: User, *, request: HttpRequest | None = None
) -> Appointment:
    """The patient came; the first attended session starts the course."""
    if appointment.starts_at > timezone.now():
        raise ValidationError("An appointment still to come cannot have been attended.")
    with transaction.atomic():
        _set_status(appointment, AppointmentStatus.ATTENDED, "", actor, request)
        if appointment.plan is not None:
            start_plan(appointment.plan, actor, request)
        recall = MaintenanceRecall.objects.filter(appointment=appointment).first()
        if recall is not None:
            recall.status = MaintenanceStatus.DONE
            recall.save(update_fields=["status"])
    return appointment


def book_maintenance(
    recall: MaintenanceRecall,
    starts_at: datetime,
    actor: User,
    *,
    room: Room | None = None,
    request: HttpRequest | None = None,
) -> Appointment:
    if recall.status != MaintenanceStatus.DUE:
        raise ValidationError(f"This recall is {recall.get_status_display().lower()}.")
    plan = recall.plan
    with transaction.atomic():
        appointment = book(
            patient=plan.patient,
            practitioner=plan.practitioner,
            starts_at=starts_at,
            minutes=plan.session_minutes,
            room=room,
            kind=AppointmentKind.MAINTENANCE,
            plan=plan,
            actor=actor,
            request=request,
        )
        recall.status = MaintenanceStatus.BOOKED
        recall.appointment = appointment
        recall.save(update_fields=["status", "appointment"])
    return appointment


def stop_plan(
    plan: CoursePlan, reason: str, actor: User, *, request: HttpRequest | None = None
) -> None:
    """Stop a course early (a side effect, the patient's choice...): its booked sessions are
    cancelled, and with them their reminders."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Give the reason the course stops.")
    if plan.status in (CourseStatus.COMPLETED, CourseStatus.STOPPED):
        raise ValidationError(f"This course is already {plan.get_status_display().lower()}.")
    with transaction.atomic():
        for appointment in plan.appointments.filter(status=AppointmentStatus.BOOKED):
            cancel_appointment(appointment, f"Course stopped: {reason}", actor, request=request)
        change_status(plan, CourseStatus.STOPPED, reason, actor, request)
