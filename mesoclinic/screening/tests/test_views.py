"""The check-in screen, as staff use it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from django.test import Client
from django.urls import reverse

from mesoclinic.clinics.models import AuditEvent, User
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.patients import services as patients
from mesoclinic.screening.models import Override, Screening


def test_check_in_with_ibuprofen_three_days_ago_shows_the_block(
    soon_session: Appointment, asha: User, client_for: Callable[[User], Client]
) -> None:
    client = client_for(asha)
    today = soon_session.clinic.today()

    response = client.post(
        reverse("screening:check-in", args=[soon_session.pk]),
        {
            "nsaid_last_week": "yes",
            "nsaid_name": "Ibuprofen",
            "nsaid_last_dose": (today - timedelta(days=3)).isoformat(),
            "pregnant": "no",
        },
        follow=True,
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert "Checked in; screening result: blocked." in page
    assert "Aspirin or another NSAID taken in the stop window" in page
    assert "Ibuprofen: last dose" in page
    assert soon_session.patient.medications.get().last_dose_taken == today - timedelta(days=3)


def test_a_check_in_without_answers_is_refused_with_the_form(
    soon_session: Appointment, asha: User, client_for: Callable[[User], Client]
) -> None:
    response = client_for(asha).post(
        reverse("screening:check-in", args=[soon_session.pk]), {"nsaid_last_week": "yes"}
    )

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not soon_session.check_ins.exists()


def test_the_screen_lists_blocks_with_what_fired_and_what_to_do(
    thigh_session: Appointment,
    asha: User,
    session_day: date,
    client_for: Callable[[User], Client],
) -> None:
    patients.add_medication(
        thigh_session.patient,
        name="Advil",
        last_dose_taken=session_day - timedelta(days=2),
        actor=asha,
        request=None,
    )
    client = client_for(asha)
    client.post(reverse("screening:run", args=[thigh_session.pk]))

    page = client.get(reverse("screening:appointment", args=[thigh_session.pk])).content.decode()

    assert "Aspirin or another NSAID taken in the stop window" in page
    assert "Advil: last dose" in page
    assert "Move the session" in page
    assert "1 block:" in page
    # An assistant sees the block but is not offered the override.
    assert "Override this block" not in page


def test_a_practitioner_overrides_on_the_page(
    thigh_session: Appointment,
    asha: User,
    bookable_pat: User,
    client_for: Callable[[User], Client],
) -> None:
    patients.add_medication(
        thigh_session.patient, name="Eliquis", started=date(2025, 1, 1), actor=asha, request=None
    )
    client = client_for(bookable_pat)
    client.post(reverse("screening:run", args=[thigh_session.pk]))
    finding = (
        Screening.objects.filter(appointment=thigh_session)
        .first()
        .findings.get(  # type: ignore[union-attr]
            rule__code="anticoagulant-or-antiplatelet"
        )
    )

    refused = client.post(
        reverse("screening:override", args=[finding.pk]), {f"f{finding.pk}-reason": "fine"}
    )
    assert refused.status_code == 400
    assert "at least 10 characters" in refused.content.decode()
    assert not Override.objects.exists()

    client.post(
        reverse("screening:override", args=[finding.pk]),
        {f"f{finding.pk}-reason": "Haematologist agreed; small volumes, pressure after."},
    )
    page = client.get(reverse("screening:appointment", args=[thigh_session.pk])).content.decode()
    assert "Overridden by" in page
    assert "Haematologist agreed" in page


def test_an_assistant_cannot_override(
    thigh_session: Appointment, asha: User, client_for: Callable[[User], Client]
) -> None:
    patients.add_medication(
        thigh_session.patient, name="warfarin", started=date(2025, 1, 1), actor=asha, request=None
    )
    client = client_for(asha)
    client.post(reverse("screening:run", args=[thigh_session.pk]))
    finding = thigh_session.screenings.first().findings.get()  # type: ignore[union-attr]

    response = client.post(
        reverse("screening:override", args=[finding.pk]),
        {f"f{finding.pk}-reason": "I checked with the doctor by phone."},
    )

    assert response.status_code == 403
    assert not Override.objects.exists()


def test_the_day_list_shows_each_session_and_its_screening(
    thigh_session: Appointment,
    asha: User,
    session_day: date,
    client_for: Callable[[User], Client],
) -> None:
    response = client_for(asha).get(reverse("screening:today"), {"day": session_day.isoformat()})

    page = response.content.decode()
    assert str(thigh_session.patient) in page
    assert "Clear" in page
    event = AuditEvent.objects.filter(detail__has_key="listed_patient_ids").latest("at")
    assert event.detail["listed_patient_ids"] == [thigh_session.patient_id]


def test_a_prescription_is_recorded_by_a_practitioner_only(
    hair_plan: CoursePlan,
    asha: User,
    bookable_pat: User,
    client_for: Callable[[User], Client],
) -> None:
    data = {
        "prescriber_name": "Dr Claire Martin",
        "prescriber_registration": "RPPS 10003456789",
        "issued_on": hair_plan.clinic.today().isoformat(),
    }
    url = reverse("screening:prescription-add", args=[hair_plan.pk])

    assert client_for(asha).post(url, data).status_code == 403
    assert client_for(bookable_pat).post(url, data).status_code == 302
    assert hair_plan.prescriptions.get().prescriber_name == "Dr Claire Martin"
    future = data | {"issued_on": (hair_plan.clinic.today() + timedelta(days=2)).isoformat()}
    refused = client_for(bookable_pat).post(url, future)
    assert refused.status_code == 400
    assert "cannot be dated in the future" in refused.content.decode()


def test_the_day_list_tells_an_overridden_block_from_an_open_one(
    thigh_session: Appointment,
    asha: User,
    bookable_pat: User,
    session_day: date,
    client_for: Callable[[User], Client],
) -> None:
    from mesoclinic.screening import services
    from mesoclinic.screening.models import Stage

    patients.add_medication(
        thigh_session.patient, name="warfarin", started=date(2025, 1, 1), actor=asha, request=None
    )
    screening = services.run_screening(thigh_session, Stage.ON_REQUEST, asha)
    url = reverse("screening:today")
    assert (
        ">Blocked<" in client_for(asha).get(url, {"day": session_day.isoformat()}).content.decode()
    )

    services.override(
        screening.findings.get(), "INR in range this morning; reviewed.", bookable_pat
    )

    page = client_for(asha).get(url, {"day": session_day.isoformat()}).content.decode()
    assert ">Overridden<" in page and ">Blocked<" not in page
