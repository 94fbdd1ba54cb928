"""Course plans: created from a protocol's defaults, adjusted within limits with a reason,
started, completed (which plans the maintenance) or stopped."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea, Indication, Protocol
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Role, User
from mesoclinic.courses.models import (
    INTERVAL_LIMITS,
    MAINTENANCE_LIMITS,
    SESSION_MINUTES_LIMITS,
    SESSIONS_LIMITS,
    AppointmentStatus,
    ConcurrentTreatment,
    CoursePlan,
    CourseStatus,
    MaintenanceRecall,
    MaintenanceStatus,
)
from mesoclinic.formulas.models import FormulaVersion
from mesoclinic.patients.models import Patient

# A maintenance recall shows in the "due" list this long before its date.
MAINTENANCE_NOTICE_DAYS = 30


def _within(label: str, value: int, limits: tuple[int, int], unit: str) -> list[str]:
    low, high = limits
    if low <= value <= high:
        return []
    return [f"The {label} must be between {low} and {high} {unit} (got {value})."]


def create_plan(
    *,
    patient: Patient,
    indication: Indication,
    practitioner: User,
    protocol: Protocol,
    actor: User,
    areas: Iterable[BodyArea] = (),
    formula_version: FormulaVersion | None = None,
    sessions_planned: int | None = None,
    interval_days: int | None = None,
    tolerance_days: int | None = None,
    session_minutes: int | None = None,
    maintenance_per_year: int | None = None,
    adjustment_reason: str = "",
    goals: str = "",
    request: HttpRequest | None = None,
) -> CoursePlan:
    """A plan from ``protocol``'s defaults; any value given that departs from them needs
    ``adjustment_reason``, and every value must stay within sensible limits."""
    # "is None", not "or": a 0 typed is a value to refuse, not a request for the default.
    values = {
        "sessions_planned": protocol.sessions_max if sessions_planned is None else sessions_planned,
        "interval_days": protocol.interval_days if interval_days is None else interval_days,
        "tolerance_days": protocol.interval_tolerance_days
        if tolerance_days is None
        else tolerance_days,
        "session_minutes": protocol.session_minutes if session_minutes is None else session_minutes,
        "maintenance_per_year": protocol.maintenance_per_year_min
        if maintenance_per_year is None
        else maintenance_per_year,
    }
    errors = (
        _within("number of sessions", values["sessions_planned"], SESSIONS_LIMITS, "sessions")
        + _within("interval", values["interval_days"], INTERVAL_LIMITS, "days")
        + _within("session length", values["session_minutes"], SESSION_MINUTES_LIMITS, "minutes")
        + _within(
            "maintenance", values["maintenance_per_year"], MAINTENANCE_LIMITS, "sessions a year"
        )
    )
    if not 0 <= values["tolerance_days"] < values["interval_days"]:
        errors.append(
            f"The tolerance must be at least 0 and below the interval of "
            f"{values['interval_days']} days (got {values['tolerance_days']})."
        )
    departs = (
        not protocol.sessions_min <= values["sessions_planned"] <= protocol.sessions_max
        or values["interval_days"] != protocol.interval_days
        or values["tolerance_days"] != protocol.interval_tolerance_days
        or values["session_minutes"] != protocol.session_minutes
        or not protocol.maintenance_per_year_min
        <= values["maintenance_per_year"]
        <= protocol.maintenance_per_year_max
    )
    if departs and not adjustment_reason.strip():
        errors.append(
            f"The plan departs from the {protocol.label.lower()} "
            f"({protocol.sessions_min}-{protocol.sessions_max} sessions every "
            f"{protocol.interval_days} ± {protocol.interval_tolerance_days} days, "
            f"{protocol.session_minutes} minutes): give the reason."
        )
    if practitioner.role != Role.PRACTITIONER or practitioner.clinic_id != patient.clinic_id:
        errors.append(f"{practitioner} is not a practitioner of this clinic.")
    if formula_version is not None and formula_version.formula.clinic_id != patient.clinic_id:
        errors.append("The formula belongs to another clinic.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        plan = CoursePlan.objects.create(
            clinic_id=patient.clinic_id,
            patient=patient,
            indication=indication,
            practitioner=practitioner,
            protocol=protocol,
            formula_version=formula_version,
            adjustment_reason=adjustment_reason.strip(),
            goals=goals,
            created_by=actor,
            **values,
        )
        plan.areas.set(areas)
        audit.record(AuditAction.CREATE, request=request, actor=actor, obj=plan)
    return plan


def add_concurrent_treatment(
    plan: CoursePlan,
    *,
    kind: str,
    description: str = "",
    given_on: date | None = None,
    actor: User,
    request: HttpRequest | None = None,
) -> ConcurrentTreatment:
    treatment = ConcurrentTreatment(
        plan=plan, kind=kind, description=description, given_on=given_on, recorded_by=actor
    )
    treatment.full_clean()
    with transaction.atomic():
        treatment.save()
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=treatment,
            clinic_id=plan.clinic_id,
            patient_id=plan.patient_id,
        )
    return treatment


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, or the month's last day when it has no such day."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(
        year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1])
    )


def change_status(
    plan: CoursePlan, status: CourseStatus, reason: str, actor: User, request: HttpRequest | None
) -> None:
    previous = plan.status
    plan.status = status
    plan.status_reason = reason
    plan.save(update_fields=["status", "status_reason", "completed_on"])
    audit.record(
        AuditAction.UPDATE,
        request=request,
        actor=actor,
        obj=plan,
        status=str(status),
        previous_status=previous,
        reason=reason,
    )


def start_plan(plan: CoursePlan, actor: User, request: HttpRequest | None = None) -> None:
    """Called when the first session is attended."""
    if plan.status == CourseStatus.PLANNED:
        change_status(plan, CourseStatus.ACTIVE, "", actor, request)


def complete_plan(
    plan: CoursePlan, actor: User, *, request: HttpRequest | None = None
) -> list[MaintenanceRecall]:
    """Close the course and plan its maintenance: ``maintenance_per_year`` recalls spread
    over the year after the last session attended."""
    if plan.status not in (CourseStatus.PLANNED, CourseStatus.ACTIVE):
        raise ValidationError(f"This course is already {plan.get_status_display().lower()}.")
    attended = plan.appointments.filter(status=AppointmentStatus.ATTENDED).order_by("-starts_at")
    last = attended.first()
    if last is None:
        raise ValidationError("No session of this course was attended: stop it instead.")
    if plan.appointments.filter(status=AppointmentStatus.BOOKED).exists():
        raise ValidationError("Sessions are still booked: record or cancel them first.")
    last_day = timezone.localdate(last.starts_at, plan.clinic.tz)
    with transaction.atomic():
        plan.completed_on = plan.clinic.today()
        change_status(plan, CourseStatus.COMPLETED, "", actor, request)
        count = plan.maintenance_per_year
        recalls = [
            MaintenanceRecall.objects.create(
                plan=plan, due_on=add_months(last_day, 12 * number // count)
            )
            for number in range(1, count + 1)
        ]
    return recalls


def due_for_maintenance(plans: QuerySet[CoursePlan], today: date) -> QuerySet[MaintenanceRecall]:
    """Maintenance recalls of ``plans`` due within the notice period, or overdue."""
    horizon = date.fromordinal(today.toordinal() + MAINTENANCE_NOTICE_DAYS)
    return (
        MaintenanceRecall.objects.filter(
            plan__in=plans, status=MaintenanceStatus.DUE, due_on__lte=horizon
        )
        .select_related("plan__patient", "plan__indication", "plan__practitioner")
        .order_by("due_on")
    )
