from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.patients import services
from mesoclinic.patients.models import Allergy, Condition, Medication, Patient
from mesoclinic.patients.tests.conftest import make_patient

ClientFor = Callable[[User], Client]

PATIENT_URLS = [
    "detail",
    "edit",
    "add-medication",
    "add-allergy",
    "add-condition",
    "audit",
    "export",
    "erase",
]


@pytest.fixture
def bea(clinic_b: Clinic) -> User:
    """The administrator of clinic B: holds every permission, but not over clinic A."""
    return create_user("bea.admin", Role.ADMIN, clinic_b)


def test_the_list_shows_the_clinics_patients_only(
    client_for: ClientFor, asha: User, patient_a: Patient, patient_b: Patient
) -> None:
    response = client_for(asha).get(reverse("patients:list"))

    assert response.status_code == 200
    assert list(response.context["page"].object_list) == [patient_a]
    assert b"Hughes" not in response.content
    event = AuditEvent.objects.get(action=AuditAction.VIEW, actor=asha)
    assert event.detail == {"listed_patient_ids": [patient_a.pk]}


@pytest.mark.parametrize("query", ["rousseau", "14/03/1980", "1980-03-14", "06.12.34.56.78"])
def test_the_list_searches(
    client_for: ClientFor, asha: User, patient_a: Patient, query: str
) -> None:
    make_patient(
        asha, given_name="Jean", family_name="Martin", date_of_birth=date(1975, 1, 2), phone=""
    )

    response = client_for(asha).get(reverse("patients:list"), {"q": query})

    assert list(response.context["page"].object_list) == [patient_a]
    assert query not in json.dumps([e.detail for e in AuditEvent.objects.all()])


def test_the_list_is_paginated(client_for: ClientFor, asha: User) -> None:
    Patient.objects.bulk_create(
        Patient(
            clinic=asha.clinic,
            given_name="P",
            family_name=f"N{i:02}",
            date_of_birth=date(1980, 1, 1),
        )
        for i in range(30)
    )
    client = client_for(asha)

    first = client.get(reverse("patients:list"))
    second = client.get(reverse("patients:list"), {"page": 2})

    assert len(first.context["page"].object_list) == 25
    assert [p.family_name for p in second.context["page"].object_list] == [
        f"N{i}" for i in range(25, 30)
    ]
    assert b"Page 1 of 2" in first.content


def test_the_navigation_offers_patients_to_staff_only(
    client_for: ClientFor, asha: User, rhea: User
) -> None:
    assert b'href="/patients/"' in client_for(asha).get("/").content
    assert b'href="/patients/"' not in client_for(rhea).get("/").content


def test_an_assistant_adds_a_patient(client_for: ClientFor, asha: User) -> None:
    response = client_for(asha).post(
        reverse("patients:create"),
        {
            "given_name": "Léa",
            "family_name": "Dubois",
            "date_of_birth": "1990-05-06",
            "sex": "female",
            "phone": "06 11 22 33 44",
            "email": "",
            "preferred_language": "fr",
            "notes": "",
        },
    )

    patient = Patient.objects.get(family_name="Dubois")
    assert response.status_code == 302
    assert response["Location"] == reverse("patients:detail", args=[patient.pk])
    assert patient.clinic == asha.clinic
    assert patient.phone_digits == "0611223344"
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, patient_id=patient.pk, actor=asha
    ).exists()


def test_a_bad_patient_form_changes_nothing(client_for: ClientFor, asha: User) -> None:
    response = client_for(asha).post(
        reverse("patients:create"),
        {
            "given_name": "Léa",
            "family_name": "",
            "date_of_birth": "2999-01-01",
            "sex": "female",
            "preferred_language": "fr",
        },
    )

    assert response.status_code == 400
    assert b"cannot be in the future" in response.content
    assert not Patient.objects.exists()


def test_an_edit_is_saved_and_audited(
    client_for: ClientFor, asha: User, patient_a: Patient
) -> None:
    response = client_for(asha).post(
        reverse("patients:edit", args=[patient_a.pk]),
        {
            "given_name": "Camille",
            "family_name": "Rousseau-Petit",
            "date_of_birth": "1980-03-14",
            "sex": "female",
            "phone": patient_a.phone,
            "email": patient_a.email,
            "preferred_language": "fr",
            "notes": patient_a.notes,
        },
    )

    assert response.status_code == 302
    patient_a.refresh_from_db()
    assert patient_a.family_name == "Rousseau-Petit"
    event = AuditEvent.objects.get(action=AuditAction.UPDATE)
    assert set(event.detail["fields"]) == {"family_name", "sex", "preferred_language"}


def test_the_detail_shows_the_record_and_audits_the_read(
    catalogue: None, client_for: ClientFor, asha: User, pat: User, patient_a: Patient
) -> None:
    services.add_medication(patient_a, name="Advil", dose="200 mg", actor=asha, request=None)
    services.add_medication(patient_a, name="Levothyrox", actor=asha, request=None)
    services.add_allergy(patient_a, substance="lidocaine", actor=asha, request=None)
    services.add_condition(
        patient_a, kind="bleeding_disorder", description="von Willebrand", actor=asha, request=None
    )

    response = client_for(pat).get(
        reverse("patients:detail", args=[patient_a.pk]), REMOTE_ADDR="10.0.0.7"
    )

    assert response.status_code == 200
    text = response.content.decode()
    assert "Anti-inflammatory painkillers (NSAIDs)" in text
    assert "recognised as Advil" in text
    assert "Unresolved" in text
    assert "lidocaine" in text and "von Willebrand" in text
    event = AuditEvent.objects.get(action=AuditAction.VIEW, actor=pat)
    assert (event.patient_id, event.object_type, event.ip_address) == (
        patient_a.pk,
        "patients.Patient",
        "10.0.0.7",
    )


def test_adding_a_medication_resolves_it(
    catalogue: None, client_for: ClientFor, asha: User, patient_a: Patient
) -> None:
    response = client_for(asha).post(
        reverse("patients:add-medication", args=[patient_a.pk]),
        {
            "medication-name": "ibuprofene",
            "medication-dose": "400 mg",
            "medication-last_dose_taken": "2025-05-01",
        },
        follow=True,
    )

    medication = Medication.objects.get()
    assert medication.resolved_as == "ibuprofen"
    assert medication.last_dose_taken == date(2025, 5, 1)
    assert "recognised as ibuprofen" in response.content.decode()


def test_a_bad_medication_changes_nothing(
    catalogue: None, client_for: ClientFor, asha: User, patient_a: Patient
) -> None:
    response = client_for(asha).post(
        reverse("patients:add-medication", args=[patient_a.pk]),
        {
            "medication-name": "ibuprofen",
            "medication-started": "2025-05-02",
            "medication-stopped": "2025-05-01",
        },
    )

    assert response.status_code == 400
    assert not Medication.objects.exists()


def test_allergies_and_conditions_are_added(
    catalogue: None, client_for: ClientFor, asha: User, patient_a: Patient
) -> None:
    client = client_for(asha)
    client.post(
        reverse("patients:add-allergy", args=[patient_a.pk]), {"allergy-substance": "lidocaine"}
    )
    client.post(
        reverse("patients:add-condition", args=[patient_a.pk]),
        {"condition-kind": "pregnancy", "condition-started": "2025-03-01"},
    )
    empty = client.post(
        reverse("patients:add-allergy", args=[patient_a.pk]), {"allergy-substance": ""}
    )

    assert list(Allergy.objects.values_list("substance", flat=True)) == ["lidocaine"]
    assert Condition.objects.get().started == date(2025, 3, 1)
    assert empty.status_code == 400
    assert (
        AuditEvent.objects.filter(action=AuditAction.CREATE, patient_id=patient_a.pk).count() == 3
    )


def test_an_administrator_sees_who_opened_the_record(
    client_for: ClientFor, alice: User, pat: User, patient_a: Patient
) -> None:
    client_for(pat).get(reverse("patients:detail", args=[patient_a.pk]))

    response = client_for(alice).get(reverse("patients:audit", args=[patient_a.pk]))

    assert response.status_code == 200
    events = list(response.context["page"].object_list)
    assert (events[0].actor, events[0].action) == (pat, AuditAction.VIEW)
    assert "Pat Practitioner" in response.content.decode()


def test_export_downloads_everything_and_is_audited(
    client_for: ClientFor, pat: User, patient_a: Patient
) -> None:
    response = client_for(pat).post(reverse("patients:export", args=[patient_a.pk]))

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="patient-{patient_a.pk}.json"'
    data = json.loads(response.content)
    assert data["patient"]["family_name"] == "Rousseau"
    assert "export" in {e["action"] for e in data["audit_events"]}
    assert AuditEvent.objects.filter(
        action=AuditAction.EXPORT, actor=pat, patient_id=patient_a.pk
    ).exists()


def test_erasure_needs_a_reason_and_a_confirmation(
    client_for: ClientFor, alice: User, patient_a: Patient
) -> None:
    client = client_for(alice)
    url = reverse("patients:erase", args=[patient_a.pk])

    assert client.get(url).status_code == 200
    refused = client.post(url, {"reason": "", "confirm": "on"})
    patient_a.refresh_from_db()
    assert refused.status_code == 400
    assert patient_a.erased_at is None

    done = client.post(url, {"reason": "Asked in writing.", "confirm": "on"})
    patient_a.refresh_from_db()
    assert done.status_code == 302
    assert patient_a.family_name == "Erased"
    assert AuditEvent.objects.get(action=AuditAction.ERASE).detail == {
        "reason": "Asked in writing."
    }
    again = client.post(url, {"reason": "Again.", "confirm": "on"})
    assert again.status_code == 400


@pytest.mark.parametrize("name", ["list", "create"])
def test_a_researcher_is_refused_the_patient_pages(
    client_for: ClientFor, rhea: User, name: str
) -> None:
    client = client_for(rhea)
    assert client.get(reverse(f"patients:{name}")).status_code == 403
    assert client.post(reverse(f"patients:{name}")).status_code == 403


@pytest.mark.parametrize("name", PATIENT_URLS)
def test_a_researcher_is_refused_every_patient(
    client_for: ClientFor, rhea: User, patient_a: Patient, name: str
) -> None:
    client = client_for(rhea)
    url = reverse(f"patients:{name}", args=[patient_a.pk])
    assert client.get(url).status_code == 403
    assert client.post(url).status_code == 403
    assert not AuditEvent.objects.filter(actor=rhea).exclude(action=AuditAction.LOGIN).exists()


@pytest.mark.parametrize("name", PATIENT_URLS)
def test_another_clinic_cannot_reach_the_patient(
    client_for: ClientFor, bea: User, patient_a: Patient, name: str
) -> None:
    client = client_for(bea)
    url = reverse(f"patients:{name}", args=[patient_a.pk])
    assert client.get(url).status_code in (404, 405)
    assert client.post(url, {"reason": "x", "confirm": "on"}).status_code == 404
    patient_a.refresh_from_db()
    assert patient_a.erased_at is None
    assert not AuditEvent.objects.filter(actor=bea).exclude(action=AuditAction.LOGIN).exists()


@pytest.mark.parametrize(
    ("role", "name"),
    [
        (Role.ASSISTANT, "export"),
        (Role.ASSISTANT, "erase"),
        (Role.ASSISTANT, "audit"),
        (Role.PRACTITIONER, "erase"),
        (Role.PRACTITIONER, "audit"),
    ],
)
def test_roles_are_refused_what_they_may_not_do(
    client_for: ClientFor, asha: User, pat: User, patient_a: Patient, role: Role, name: str
) -> None:
    client = client_for(asha if role == Role.ASSISTANT else pat)
    url = reverse(f"patients:{name}", args=[patient_a.pk])
    assert client.post(url, {"reason": "x", "confirm": "on"}).status_code == 403
    patient_a.refresh_from_db()
    assert patient_a.erased_at is None
    assert not AuditEvent.objects.filter(
        action__in=[AuditAction.EXPORT, AuditAction.ERASE]
    ).exists()


def test_staff_without_a_second_factor_are_sent_to_verify(asha: User, patient_a: Patient) -> None:
    client = Client()
    client.force_login(asha)
    response = client.get(reverse("patients:detail", args=[patient_a.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account:two-factor"))
    assert not AuditEvent.objects.filter(action=AuditAction.VIEW).exists()
