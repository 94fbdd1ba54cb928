"""Running screening, overriding a block, checking a patient in, recording prescriptions.

Every function that reads or writes patient data records it in the audit trail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from mesoclinic.catalogue.models import ConditionKind, Severity, normalise_name
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Role, User
from mesoclinic.courses.models import Appointment, AppointmentStatus, CoursePlan
from mesoclinic.patients import services as patients
from mesoclinic.screening import engine
from mesoclinic.screening.models import (
    Answer,
    CheckIn,
    Finding,
    Outcome,
    Override,
    Prescription,
    Screening,
    Stage,
)


def session_date(appointment: Appointment) -> date:
    """The session's calendar date where the clinic is: the day the stop window counts to."""
    return timezone.localdate(appointment.starts_at, appointment.clinic.tz)


def run_screening(
    appointment: Appointment,
    stage: Stage,
    actor: User,
    *,
    request: HttpRequest | None = None,
) -> Screening:
    """Evaluate every rule for the appointment and keep what fired, with the rules' version."""
    facts = engine.Facts.gather(
        appointment.patient, session_date(appointment), appointment.practitioner, appointment.plan
    )
    results = engine.evaluate(facts)
    outcome = Outcome(results[0].severity) if results else Outcome.CLEAR
    with transaction.atomic():
        screening = Screening.objects.create(
            clinic=appointment.clinic,
            patient=appointment.patient,
            appointment=appointment,
            plan=appointment.plan,
            practitioner=appointment.practitioner,
            session_date=facts.session_date,
            stage=stage,
            ruleset_version=engine.ruleset_version(),
            precare_window_days=facts.window_days,
            outcome=outcome,
            run_at=timezone.now(),
            run_by=actor,
        )
        Finding.objects.bulk_create(
            Finding(
                screening=screening,
                rule=result.rule,
                severity=result.rule.severity,
                overridable=result.rule.overridable,
                subject=result.hit.subject,
                evidence=result.hit.evidence,
                message=result.rule.message,
                action=result.rule.action,
            )
            for result in results
        )
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=screening,
            stage=str(stage),
            outcome=str(outcome),
            rules_fired=[result.rule.code for result in results],
        )
    return screening


def latest_screening(appointment: Appointment) -> Screening | None:
    return appointment.screenings.first()


def overrides_for(appointment: Appointment) -> dict[tuple[int, str], Override]:
    return {
        (override.rule_id, override.subject): override
        for override in appointment.screening_overrides.select_related("practitioner")
    }


@dataclass(frozen=True)
class FindingView:
    """A finding as staff read it: with the override that covers it, if any."""

    finding: Finding
    override: Override | None

    @property
    def open_block(self) -> bool:
        return self.finding.severity == Severity.BLOCK and self.override is None


def findings_of(screening: Screening) -> list[FindingView]:
    overrides = overrides_for(screening.appointment)
    return [
        FindingView(finding, overrides.get((finding.rule_id, finding.subject)))
        for finding in screening.findings.select_related("rule")
    ]


def open_blocks(screening: Screening) -> list[FindingView]:
    return [view for view in findings_of(screening) if view.open_block]


def override(
    finding: Finding,
    reason: str,
    practitioner: User,
    *,
    request: HttpRequest | None = None,
) -> Override:
    """A practitioner goes ahead despite an overridable block, and says why."""
    reason = reason.strip()
    if practitioner.role != Role.PRACTITIONER:
        raise ValidationError("Only a practitioner can override a screening block.")
    if finding.severity != Severity.BLOCK:
        raise ValidationError("Only a block needs an override; warnings are for information.")
    if not finding.overridable:
        raise ValidationError(f"“{finding.rule.label}” cannot be overridden: {finding.action}")
    if len(reason) < 10:
        raise ValidationError("Write the reason for going ahead (at least 10 characters).")
    appointment = finding.screening.appointment
    if Override.objects.filter(
        appointment=appointment, rule=finding.rule, subject=finding.subject
    ).exists():
        raise ValidationError("This block has already been overridden.")
    with transaction.atomic():
        decision = Override.objects.create(
            appointment=appointment,
            rule=finding.rule,
            subject=finding.subject,
            finding=finding,
            practitioner=practitioner,
            reason=reason,
            at=timezone.now(),
        )
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=practitioner,
            obj=decision,
            clinic_id=appointment.clinic_id,
            patient_id=appointment.patient_id,
            override_of=finding.rule.code,
            subject=finding.subject,
            reason=reason,
        )
    return decision


@dataclass(frozen=True)
class CheckInAnswers:
    nsaid_last_week: Answer
    pregnant: Answer
    nsaid_name: str = ""
    nsaid_last_dose: date | None = None
    new_medications: str = ""
    notes: str = ""


def _check_answers(answers: CheckInAnswers, today: date) -> None:
    errors: dict[str, str] = {}
    if answers.nsaid_last_week == Answer.YES:
        if not answers.nsaid_name.strip():
            errors["nsaid_name"] = "Say which painkiller was taken."
        if answers.nsaid_last_dose is None:
            errors["nsaid_last_dose"] = "Say when the last dose was taken."
        elif answers.nsaid_last_dose > today:
            errors["nsaid_last_dose"] = "The last dose cannot be in the future."
    if errors:
        raise ValidationError(errors)


def check_in(
    appointment: Appointment,
    answers: CheckInAnswers,
    actor: User,
    *,
    request: HttpRequest | None = None,
) -> CheckIn:
    """Record the patient's answers into their record (the painkiller and its last dose, new
    medicines, a pregnancy) and screen again with them."""
    if appointment.status != AppointmentStatus.BOOKED:
        raise ValidationError(
            f"Only a booked appointment can be checked in; this one is "
            f"{appointment.get_status_display().lower()}."
        )
    patient = appointment.patient
    today = appointment.clinic.today()
    _check_answers(answers, today)
    with transaction.atomic():
        if answers.nsaid_last_week == Answer.YES:
            assert answers.nsaid_last_dose is not None
            _record_last_dose(
                appointment, answers.nsaid_name, answers.nsaid_last_dose, actor, request
            )
        for line in answers.new_medications.splitlines():
            if line.strip():
                patients.add_medication(
                    patient, name=line.strip(), started=today, actor=actor, request=request
                )
        if (
            answers.pregnant == Answer.YES
            and not patient.conditions.filter(
                kind=ConditionKind.PREGNANCY, ended__isnull=True
            ).exists()
        ):
            patients.add_condition(
                patient,
                kind=ConditionKind.PREGNANCY,
                description="Reported at check-in",
                started=today,
                actor=actor,
                request=request,
            )
        screening = run_screening(appointment, Stage.CHECK_IN, actor, request=request)
        record = CheckIn.objects.create(
            appointment=appointment,
            nsaid_last_week=answers.nsaid_last_week,
            nsaid_name=answers.nsaid_name.strip(),
            nsaid_last_dose=answers.nsaid_last_dose,
            new_medications=answers.new_medications.strip(),
            pregnant=answers.pregnant,
            notes=answers.notes.strip(),
            answered_at=timezone.now(),
            recorded_by=actor,
            screening=screening,
        )
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=record,
            clinic_id=appointment.clinic_id,
            patient_id=patient.pk,
        )
    return record


def _record_last_dose(
    appointment: Appointment,
    name: str,
    last_dose: date,
    actor: User,
    request: HttpRequest | None,
) -> None:
    """Put the dose on the medication of that name, or add the medication."""
    patient = appointment.patient
    wanted = normalise_name(name)
    for medication in patient.medications.all():
        if normalise_name(medication.name) == wanted:
            if medication.last_dose_taken is None or medication.last_dose_taken < last_dose:
                medication.last_dose_taken = last_dose
                medication.save(update_fields=["last_dose_taken"])
                audit.record(
                    AuditAction.UPDATE,
                    request=request,
                    actor=actor,
                    obj=medication,
                    clinic_id=patient.clinic_id,
                    fields=["last_dose_taken"],
                )
            return
    patients.add_medication(
        patient,
        name=name.strip(),
        started=last_dose,
        stopped=last_dose,
        last_dose_taken=last_dose,
        actor=actor,
        request=request,
    )


def record_prescription(
    plan: CoursePlan,
    *,
    prescriber_name: str,
    prescriber_registration: str,
    issued_on: date,
    notes: str = "",
    actor: User,
    request: HttpRequest | None = None,
) -> Prescription:
    if issued_on > plan.clinic.today():
        raise ValidationError({"issued_on": "A prescription cannot be dated in the future."})
    prescription = Prescription(
        plan=plan,
        prescriber_name=prescriber_name.strip(),
        prescriber_registration=prescriber_registration.strip(),
        issued_on=issued_on,
        notes=notes.strip(),
        recorded_by=actor,
    )
    prescription.full_clean()
    prescription.save()
    audit.record(
        AuditAction.CREATE,
        request=request,
        actor=actor,
        obj=prescription,
        clinic_id=plan.clinic_id,
        patient_id=plan.patient_id,
    )
    return prescription
