"""The screening API: results with what fired and why, check-in, overrides, the chart's gate
and prescriptions, with the refusals a client can meet."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from django.test import Client

from mesoclinic.clinics.models import User
from mesoclinic.consent import services as consent
from mesoclinic.consent.testing import drawn_png
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.patients import services as patients
from mesoclinic.screening.models import Override

ClientFor = Callable[[User], Client]
API = "/api/v1/screening"


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def test_check_in_returns_the_screening_with_the_block(
    soon_session: Appointment, asha: User, client_for: ClientFor
) -> None:
    today = soon_session.clinic.today()

    response = post(
        client_for(asha),
        f"{API}/appointments/{soon_session.pk}/check-in",
        {
            "nsaid_last_week": True,
            "nsaid_name": "Advil",
            "nsaid_last_dose": (today - timedelta(days=3)).isoformat(),
            "new_medications": ["Vitamin D"],
            "pregnant": "no",
        },
    )

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["stage"] == "check_in"
    assert body["outcome"] == "block"
    assert body["open_blocks"] == 1
    block = next(f for f in body["findings"] if f["severity"] == "block")
    assert block["rule"] == "nsaid-in-stop-window"
    assert block["evidence"].startswith("Advil: last dose")
    assert block["action"].startswith("Move the session")
    listed = client_for(asha).get(f"{API}/appointments/{soon_session.pk}").json()
    assert [s["stage"] for s in listed] == ["check_in", "booking"]


def test_a_check_in_that_says_yes_without_a_date_is_422_and_changes_nothing(
    soon_session: Appointment, asha: User, client_for: ClientFor
) -> None:
    response = post(
        client_for(asha),
        f"{API}/appointments/{soon_session.pk}/check-in",
        {"nsaid_last_week": True, "nsaid_name": "Advil", "pregnant": "no"},
    )

    assert response.status_code == 422
    assert "Say when the last dose was taken." in response.json()["detail"]
    assert not soon_session.patient.medications.exists()


def test_override_then_the_gate_opens(
    thigh_session: Appointment, asha: User, bookable_pat: User, client_for: ClientFor
) -> None:
    assert thigh_session.plan is not None
    consent.sign_drawn(consent.prepare(thigh_session.plan, asha), drawn_png(), asha)
    patients.add_medication(
        thigh_session.patient, name="Xarelto", started=date(2025, 1, 1), actor=asha, request=None
    )
    client = client_for(bookable_pat)
    closed = post(client, f"{API}/appointments/{thigh_session.pk}/chart-gate").json()
    assert closed["allowed"] is False
    finding = closed["screening"]["findings"][0]
    assert finding["rule"] == "anticoagulant-or-antiplatelet" and finding["overridable"]

    by_assistant = post(
        client_for(asha), f"{API}/findings/{finding['id']}/override", {"reason": "Checked it."}
    )
    assert by_assistant.status_code == 403
    too_short = post(client, f"{API}/findings/{finding['id']}/override", {"reason": "ok"})
    assert too_short.status_code == 422
    assert not Override.objects.exists()
    done = post(
        client,
        f"{API}/findings/{finding['id']}/override",
        {"reason": "Cardiologist agrees; light technique, firm pressure."},
    )
    assert done.status_code == 201
    assert done.json()["practitioner"] == str(bookable_pat)

    opened = post(client, f"{API}/appointments/{thigh_session.pk}/chart-gate").json()
    assert opened["allowed"] is True
    assert opened["screening"]["findings"][0]["override"]["reason"].startswith("Cardiologist")


def test_another_clinics_appointment_is_404(
    thigh_session: Appointment, bob: User, client_for: ClientFor
) -> None:
    client = client_for(bob)

    assert client.get(f"{API}/appointments/{thigh_session.pk}").status_code == 404
    assert post(client, f"{API}/appointments/{thigh_session.pk}/run").status_code == 404
    assert not thigh_session.screenings.exclude(stage="booking").exists()


def test_prescriptions_are_recorded_by_the_practitioner(
    hair_plan: CoursePlan, asha: User, bookable_pat: User, client_for: ClientFor
) -> None:
    body = {
        "prescriber_name": "Dr Claire Martin",
        "prescriber_registration": "RPPS 10003456789",
        "issued_on": hair_plan.clinic.today().isoformat(),
    }
    url = f"{API}/plans/{hair_plan.pk}/prescriptions"

    assert post(client_for(asha), url, body).status_code == 403
    created = post(client_for(bookable_pat), url, body)
    assert created.status_code == 201
    listed = client_for(asha).get(url).json()
    assert [p["prescriber_name"] for p in listed] == ["Dr Claire Martin"]
