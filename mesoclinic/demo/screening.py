"""The demo's screening: prescriptions, a block to see at check-in, and an override.

Courses whose formula holds a prescription-only drug (the hair mixes) get the prescriber's
prescription, dated before their first session, except the one course still only planned.
In each clinic the patient of the first upcoming session took ibuprofen yesterday (the
check-in screen shows the block, and what to do), and another takes low-dose aspirin, which
their practitioner has reviewed and overridden with a reason. Every session of the coming
fortnight is then screened again, as the front desk would on the morning.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.courses.models import Appointment, AppointmentStatus, CoursePlan
from mesoclinic.formulas.services import composition
from mesoclinic.patients import services as patients
from mesoclinic.screening import services
from mesoclinic.screening.models import Stage
from mesoclinic.screening.receivers import SCREENED_KINDS

PRESCRIBERS = {
    "Europe/Paris": ("Dr Hélène Garnier (dermatologist)", "RPPS 10003456781"),
    "Europe/London": ("Dr Fiona Marsh (GP)", "GMC 7012345"),
}
OVERRIDE_REASON = (
    "Low-dose aspirin prescribed by her cardiologist after a stent; it must not be stopped. "
    "Reviewed: small volumes, fewer points, firm pressure after each pass; she accepts the "
    "higher risk of bruising."
)


@dataclass
class ScreeningCounts:
    prescriptions: int = 0
    screenings: int = 0
    overrides: int = 0


def _needs_prescription(plan: CoursePlan) -> bool:
    if plan.formula_version is None:
        return False
    return any(line.ingredient.needs_prescriber for line in composition(plan.formula_version))


def _upcoming(clinic: Clinic, today: date, days: int) -> list[Appointment]:
    start = datetime.combine(today, time(0), tzinfo=clinic.tz)
    return list(
        Appointment.objects.filter(
            clinic=clinic,
            status=AppointmentStatus.BOOKED,
            kind__in=SCREENED_KINDS,
            starts_at__gte=start,
            starts_at__lt=start + timedelta(days=days),
        )
        .select_related("patient", "practitioner", "plan")
        .order_by("starts_at")
    )


def prescribe(plan: CoursePlan, today: date) -> bool:
    """Record the prescription the course's formula needs, dated before its first session
    (``demo.courses`` calls this once the course is booked, so that its past sessions could be
    charted). False, recording nothing, when the formula needs none, the course has no session
    (the one only planned: screening will ask for it) or it has its prescription already."""
    first = plan.appointments.order_by("starts_at").first()
    if first is None or not _needs_prescription(plan) or plan.prescriptions.exists():
        return False
    name, registration = PRESCRIBERS[plan.clinic.time_zone]
    first_day = timezone.localdate(first.starts_at, plan.clinic.tz)
    services.record_prescription(
        plan,
        prescriber_name=name,
        prescriber_registration=registration,
        issued_on=min(today, first_day - timedelta(days=10)),
        notes="Compounded by the hospital pharmacy to this prescription.",
        actor=plan.practitioner,
    )
    return True


def build_screening(clinics: list[Clinic], today: date) -> ScreeningCounts:
    counts = ScreeningCounts()
    for clinic in clinics:
        desk = User.objects.filter(clinic=clinic, role=Role.ASSISTANT).order_by("pk").first()
        assert desk is not None
        for plan in CoursePlan.objects.filter(clinic=clinic).order_by("pk"):
            prescribe(plan, today)
            counts.prescriptions += plan.prescriptions.exists()
        upcoming = _upcoming(clinic, today, 14)
        next_of: dict[int, Appointment] = {}  # each patient's next session
        for appointment in upcoming:
            next_of.setdefault(appointment.patient_id, appointment)
        sessions = list(next_of.values())
        if sessions:
            patients.add_medication(
                sessions[0].patient,
                name="Ibuprofen 400 mg",
                dose="400 mg when needed",
                last_dose_taken=today - timedelta(days=1),
                actor=desk,
                request=None,
            )
        if len(sessions) > 1:
            patients.add_medication(
                sessions[1].patient,
                name="Kardegic",
                dose="75 mg daily",
                started=today - timedelta(days=900),
                actor=sessions[1].practitioner,
                request=None,
            )
        for appointment in upcoming:
            screening = services.run_screening(appointment, Stage.ON_REQUEST, desk)
            counts.screenings += 1
            for view in services.open_blocks(screening):
                if view.finding.rule.code == "anticoagulant-or-antiplatelet":
                    services.override(view.finding, OVERRIDE_REASON, appointment.practitioner)
                    counts.overrides += 1
    return counts
