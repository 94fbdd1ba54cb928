"""The chart's gate: no chart with an open block, one after an override with a reason (in
the audit log), none without a valid consent for the course or after its withdrawal."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError

from mesoclinic.clinics.models import AuditEvent, User
from mesoclinic.consent import services as consent
from mesoclinic.consent.testing import drawn_png
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment
from mesoclinic.patients import services as patients
from mesoclinic.screening import gate, services
from mesoclinic.screening.models import Stage


def signed_consent(appointment: Appointment, staff: User) -> None:
    assert appointment.plan is not None
    consent.sign_drawn(consent.prepare(appointment.plan, staff), drawn_png(), staff)


def test_a_chart_starts_with_a_clear_screening_and_a_signed_consent(
    thigh_session: Appointment, asha: User, bookable_pat: User
) -> None:
    signed_consent(thigh_session, asha)

    screening = gate.require_chart_start(thigh_session, bookable_pat)

    assert screening.stage == Stage.CHART


def test_a_block_stops_the_chart_until_a_practitioner_overrides_it(
    thigh_session: Appointment, asha: User, bookable_pat: User, session_day: date
) -> None:
    signed_consent(thigh_session, asha)
    patients.add_medication(
        thigh_session.patient,
        name="ibuprofen",
        last_dose_taken=session_day - timedelta(days=2),
        actor=asha,
        request=None,
    )

    with pytest.raises(ValidationError) as refused:
        gate.require_chart_start(thigh_session, bookable_pat)
    assert "Aspirin or another NSAID taken in the stop window" in refused.value.messages[0]
    assert "may override it" in refused.value.messages[0]

    screening = services.latest_screening(thigh_session)
    assert screening is not None
    finding = screening.findings.get(rule__code="nsaid-in-stop-window")
    decision = services.override(
        finding, "Single dose for a headache; patient accepts the bruising risk.", bookable_pat
    )
    assert AuditEvent.objects.filter(
        object_type="screening.Override", object_id=str(decision.pk), actor=bookable_pat
    ).exists()

    assert gate.chart_gate(thigh_session, bookable_pat).allowed


def test_a_block_that_allows_no_override_keeps_the_chart_closed(
    thigh_session: Appointment, asha: User, bookable_pat: User, session_day: date
) -> None:
    signed_consent(thigh_session, asha)
    patients.add_condition(thigh_session.patient, kind="breastfeeding", actor=asha, request=None)

    result = gate.chart_gate(thigh_session, bookable_pat)

    assert not result.allowed
    assert result.reasons == [
        "Blocked by “Pregnant or breastfeeding”: Breastfeeding. It cannot be overridden."
    ]


def test_no_chart_without_consent(thigh_session: Appointment, bookable_pat: User) -> None:
    result = gate.chart_gate(thigh_session, bookable_pat)

    assert not result.allowed
    assert "No valid consent for this course" in result.reasons[0]


def test_no_chart_after_consent_is_withdrawn(
    thigh_session: Appointment, asha: User, bookable_pat: User
) -> None:
    signed_consent(thigh_session, asha)
    assert gate.chart_gate(thigh_session, bookable_pat).allowed
    document = thigh_session.plan.consent_documents.get()  # type: ignore[union-attr]

    consent.withdraw(document, "The patient no longer wishes to continue.", asha)

    result = gate.chart_gate(thigh_session, bookable_pat)
    assert not result.allowed
    assert "No valid consent" in result.reasons[0]


def test_no_chart_for_a_cancelled_appointment(
    thigh_session: Appointment, asha: User, bookable_pat: User
) -> None:
    booking.cancel_appointment(thigh_session, "Patient unwell", asha)

    with pytest.raises(ValidationError, match="cancelled"):
        gate.chart_gate(thigh_session, bookable_pat)
