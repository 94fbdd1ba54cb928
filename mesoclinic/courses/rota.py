"""What booking works within: the clinic's rooms, each practitioner's working hours and
leave. Each change is audited; a refusal raises a ``ValidationError`` and changes nothing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Clinic, Role, User
from mesoclinic.courses.models import (
    Appointment,
    AppointmentStatus,
    Leave,
    Room,
    WorkingHours,
)


def practitioners(clinic: Clinic) -> QuerySet[User]:
    return User.objects.filter(clinic=clinic, role=Role.PRACTITIONER, is_active=True).order_by(
        "last_name", "first_name", "username"
    )


def _check_practitioner(practitioner: User, clinic: Clinic) -> None:
    if practitioner.clinic_id != clinic.pk or practitioner.role != Role.PRACTITIONER:
        raise ValidationError(f"{practitioner} is not a practitioner of this clinic.")


def add_room(clinic: Clinic, name: str, actor: User, request: HttpRequest | None = None) -> Room:
    name = " ".join(name.split())
    if not name:
        raise ValidationError("A room needs a name.")
    if Room.objects.filter(clinic=clinic, name__iexact=name).exists():
        raise ValidationError(f"This clinic already has a room called {name}.")
    with transaction.atomic():
        room = Room.objects.create(clinic=clinic, name=name)
        audit.record(AuditAction.CREATE, request=request, actor=actor, obj=room)
    return room


def set_room_active(
    room: Room, active: bool, actor: User, request: HttpRequest | None = None
) -> None:
    """A room is retired rather than deleted: its past appointments keep naming it. A retired
    room is offered for no new booking."""
    with transaction.atomic():
        room.active = active
        room.save(update_fields=["active"])
        audit.record(AuditAction.UPDATE, request=request, actor=actor, obj=room, active=active)


def add_hours(
    clinic: Clinic,
    *,
    practitioner: User,
    weekday: int,
    starts: time,
    ends: time,
    actor: User,
    request: HttpRequest | None = None,
) -> WorkingHours:
    _check_practitioner(practitioner, clinic)
    if ends <= starts:
        raise ValidationError("Working hours must end after they start.")
    overlapping = WorkingHours.objects.filter(
        practitioner=practitioner, weekday=weekday, starts__lt=ends, ends__gt=starts
    ).first()
    if overlapping is not None:
        raise ValidationError(
            f"{practitioner} already works {overlapping}: a block may not overlap another."
        )
    with transaction.atomic():
        hours = WorkingHours.objects.create(
            practitioner=practitioner, weekday=weekday, starts=starts, ends=ends
        )
        audit.record(
            AuditAction.CREATE, request=request, actor=actor, obj=hours, clinic_id=clinic.pk
        )
    return hours


def remove_hours(hours: WorkingHours, actor: User, request: HttpRequest | None = None) -> None:
    """Appointments already booked in the block stay booked: the schedule still shows them."""
    with transaction.atomic():
        audit.record(
            AuditAction.DELETE,
            request=request,
            actor=actor,
            obj=hours,
            clinic_id=hours.practitioner.clinic_id,
            practitioner_id=hours.practitioner_id,
            hours=str(hours),
        )
        hours.delete()


def add_leave(
    clinic: Clinic,
    *,
    practitioner: User,
    starts_on: date,
    ends_on: date,
    reason: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> tuple[Leave, list[Appointment]]:
    """The leave, and the appointments already booked during it, which someone must move."""
    _check_practitioner(practitioner, clinic)
    if ends_on < starts_on:
        raise ValidationError("Leave cannot end before it starts.")
    with transaction.atomic():
        leave = Leave.objects.create(
            practitioner=practitioner, starts_on=starts_on, ends_on=ends_on, reason=reason
        )
        audit.record(
            AuditAction.CREATE, request=request, actor=actor, obj=leave, clinic_id=clinic.pk
        )
    tz = clinic.tz
    booked = Appointment.objects.filter(
        practitioner=practitioner,
        status=AppointmentStatus.BOOKED,
        starts_at__gte=datetime.combine(starts_on, time(), tzinfo=tz),
        starts_at__lt=datetime.combine(ends_on + timedelta(days=1), time(), tzinfo=tz),
    ).select_related("patient")
    return leave, list(booked)


def remove_leave(leave: Leave, actor: User, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        audit.record(
            AuditAction.DELETE,
            request=request,
            actor=actor,
            obj=leave,
            clinic_id=leave.practitioner.clinic_id,
            practitioner_id=leave.practitioner_id,
            leave=f"{leave.starts_on} to {leave.ends_on}",
        )
        leave.delete()
