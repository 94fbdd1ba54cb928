"""Screening at booking, check-in answers written into the record, overrides with their
rules (who, why, which data) and the audit trail of each."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from mesoclinic.catalogue.models import ConditionKind
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment
from mesoclinic.patients import services as patients
from mesoclinic.screening import services
from mesoclinic.screening.models import (
    Answer,
    Finding,
    ImmutableRecordError,
    Override,
    Screening,
    Stage,
)

NSAID = "nsaid-in-stop-window"


def answers(**values: object) -> services.CheckInAnswers:
    defaults: dict[str, object] = {"nsaid_last_week": Answer.NO, "pregnant": Answer.NO}
    return services.CheckInAnswers(**(defaults | values))  # type: ignore[arg-type]


def test_booking_screens_the_session_and_says_when_to_stop_ibuprofen(
    thigh_plan: object, asha: User, session_day: date
) -> None:
    from mesoclinic.screening.tests.conftest import book_session, local

    patient = thigh_plan.patient  # type: ignore[attr-defined]
    patients.add_medication(
        patient, name="Nurofen", started=date(2026, 1, 1), actor=asha, request=None
    )

    appointment = book_session(thigh_plan, local(patient.clinic, session_day), asha)  # type: ignore[arg-type]

    screening = appointment.screenings.get()
    assert screening.stage == Stage.BOOKING
    assert screening.run_by == asha
    finding = screening.findings.get()
    assert finding.rule.code == "nsaid-ongoing"
    stop_from = session_day - timedelta(days=7)
    assert f"not to be taken from {stop_from:%d %b %Y}" in finding.evidence
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_type="screening.Screening", object_id=str(screening.pk)
    ).exists()


def test_moving_a_session_screens_it_again_for_the_new_date(
    thigh_session: Appointment, asha: User, session_day: date
) -> None:
    from mesoclinic.screening.tests.conftest import local

    patients.add_medication(
        thigh_session.patient,
        name="ibuprofen",
        last_dose_taken=session_day - timedelta(days=10),
        actor=asha,
        request=None,
    )
    booking.move_appointment(
        thigh_session, local(thigh_session.clinic, session_day - timedelta(days=7)), asha
    )

    latest = thigh_session.screenings.first()
    assert latest is not None and latest.stage == Stage.BOOKING
    assert latest.session_date == session_day - timedelta(days=7)
    assert latest.findings.filter(rule__code=NSAID).exists()


def test_check_in_records_the_painkiller_and_blocks(thigh_session: Appointment, asha: User) -> None:
    today = thigh_session.clinic.today()

    record = services.check_in(
        thigh_session,
        answers(nsaid_last_week=Answer.YES, nsaid_name="Advil", nsaid_last_dose=today),
        asha,
    )

    medication = thigh_session.patient.medications.get()
    assert (medication.name, medication.last_dose_taken) == ("Advil", today)
    assert record.screening.stage == Stage.CHECK_IN
    assert record.screening.findings.filter(rule__code=NSAID).exists() is (
        (thigh_session.starts_at.date() - today).days <= 7
    )


def test_check_in_updates_the_last_dose_of_a_known_medication(
    thigh_session: Appointment, asha: User
) -> None:
    patient = thigh_session.patient
    patients.add_medication(
        patient, name="Ibuprofène", started=date(2026, 1, 1), actor=asha, request=None
    )
    today = thigh_session.clinic.today()

    services.check_in(
        thigh_session,
        answers(nsaid_last_week=Answer.YES, nsaid_name="ibuprofene", nsaid_last_dose=today),
        asha,
    )

    assert patient.medications.get().last_dose_taken == today


def test_check_in_adds_new_medicines_and_a_pregnancy(
    thigh_session: Appointment, asha: User
) -> None:
    record = services.check_in(
        thigh_session,
        answers(new_medications="Eliquis 5 mg\n\n  Zyxorin ", pregnant=Answer.YES),
        asha,
    )

    patient = thigh_session.patient
    assert sorted(patient.medications.values_list("name", flat=True)) == [
        "Eliquis 5 mg",
        "Zyxorin",
    ]
    assert patient.conditions.filter(kind=ConditionKind.PREGNANCY).count() == 1
    fired = set(record.screening.findings.values_list("rule__code", flat=True))
    assert {
        "anticoagulant-or-antiplatelet",
        "pregnancy-or-breastfeeding",
        "unresolved-medication",
    } <= fired


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"nsaid_last_week": Answer.YES, "nsaid_last_dose": date(2026, 1, 1)}, "nsaid_name"),
        ({"nsaid_last_week": Answer.YES, "nsaid_name": "Advil"}, "nsaid_last_dose"),
        (
            {
                "nsaid_last_week": Answer.YES,
                "nsaid_name": "Advil",
                "nsaid_last_dose": date(2099, 1, 1),
            },
            "nsaid_last_dose",
        ),
    ],
)
def test_incomplete_answers_are_refused_and_change_nothing(
    thigh_session: Appointment, asha: User, values: dict[str, object], field: str
) -> None:
    before = Screening.objects.count()

    with pytest.raises(ValidationError) as caught:
        services.check_in(thigh_session, answers(**values), asha)

    assert field in caught.value.message_dict
    assert Screening.objects.count() == before
    assert not thigh_session.patient.medications.exists()
    assert not thigh_session.check_ins.exists()


def test_a_cancelled_appointment_cannot_be_checked_in(
    thigh_session: Appointment, asha: User
) -> None:
    booking.cancel_appointment(thigh_session, "Patient unwell", asha)

    with pytest.raises(ValidationError, match="cancelled"):
        services.check_in(thigh_session, answers(), asha)


def _anticoagulated(appointment: Appointment, actor: User) -> Finding:
    patients.add_medication(
        appointment.patient, name="warfarin", started=date(2025, 1, 1), actor=actor, request=None
    )
    screening = services.run_screening(appointment, Stage.CHECK_IN, actor)
    return screening.findings.get(rule__code="anticoagulant-or-antiplatelet")


def test_a_practitioner_overrides_a_block_with_a_reason_and_it_is_audited(
    thigh_session: Appointment, asha: User, bookable_pat: User
) -> None:
    finding = _anticoagulated(thigh_session, asha)

    decision = services.override(
        finding, "  INR checked today at 2.1; thighs only, light nappage.  ", bookable_pat
    )

    assert decision.reason == "INR checked today at 2.1; thighs only, light nappage."
    event = AuditEvent.objects.get(object_type="screening.Override", object_id=str(decision.pk))
    assert event.actor == bookable_pat
    assert event.patient_id == thigh_session.patient_id
    assert event.detail["override_of"] == "anticoagulant-or-antiplatelet"
    assert event.detail["reason"] == decision.reason
    # A later run that finds the same data is covered by the same override.
    later = services.run_screening(thigh_session, Stage.CHART, asha)
    assert services.open_blocks(later) == []


def test_an_override_does_not_cover_new_data(
    thigh_session: Appointment, asha: User, bookable_pat: User, session_day: date
) -> None:
    patients.add_medication(
        thigh_session.patient,
        name="ibuprofen",
        last_dose_taken=session_day - timedelta(days=6),
        actor=asha,
        request=None,
    )
    first = services.run_screening(thigh_session, Stage.CHECK_IN, asha)
    services.override(
        first.findings.get(rule__code=NSAID),
        "Patient cannot come later; accepts bruising.",
        bookable_pat,
    )
    medication = thigh_session.patient.medications.get()
    medication.last_dose_taken = session_day - timedelta(days=1)
    medication.save()

    again = services.run_screening(thigh_session, Stage.CHART, asha)

    assert [view.finding.rule.code for view in services.open_blocks(again)] == [NSAID]


@pytest.mark.parametrize(
    ("who", "reason", "message"),
    [
        ("asha", "Reviewed with the doctor on the phone.", "Only a practitioner"),
        ("pat", "ok", "at least 10 characters"),
    ],
)
def test_an_override_needs_a_practitioner_and_a_reason(
    thigh_session: Appointment,
    asha: User,
    bookable_pat: User,
    who: str,
    reason: str,
    message: str,
) -> None:
    finding = _anticoagulated(thigh_session, asha)
    actor = {"asha": asha, "pat": bookable_pat}[who]

    with pytest.raises(ValidationError, match=message):
        services.override(finding, reason, actor)

    assert not Override.objects.exists()


def test_a_non_overridable_block_cannot_be_overridden(
    thigh_session: Appointment, asha: User, bookable_pat: User
) -> None:
    patients.add_condition(
        thigh_session.patient, kind=ConditionKind.PREGNANCY, actor=asha, request=None
    )
    finding = services.run_screening(thigh_session, Stage.CHECK_IN, asha).findings.get(
        rule__code="pregnancy-or-breastfeeding"
    )

    with pytest.raises(ValidationError, match="cannot be overridden"):
        services.override(finding, "The patient insists on going ahead.", bookable_pat)


def test_the_same_block_is_overridden_once(
    thigh_session: Appointment, asha: User, bookable_pat: User
) -> None:
    finding = _anticoagulated(thigh_session, asha)
    services.override(finding, "Reviewed: INR in range this morning.", bookable_pat)

    with pytest.raises(ValidationError, match="already been overridden"):
        services.override(finding, "Reviewed again: still in range.", bookable_pat)
    with pytest.raises(IntegrityError), transaction.atomic():
        Override.objects.create(
            appointment=thigh_session,
            rule=finding.rule,
            subject=finding.subject,
            finding=finding,
            practitioner=bookable_pat,
            reason="A second row the database refuses.",
            at=finding.screening.run_at,
        )


def test_screening_records_are_never_changed(thigh_session: Appointment, asha: User) -> None:
    screening = services.run_screening(thigh_session, Stage.ON_REQUEST, asha)

    screening.outcome = "block"
    with pytest.raises(ImmutableRecordError):
        screening.save()
    with pytest.raises(ImmutableRecordError):
        screening.delete()
