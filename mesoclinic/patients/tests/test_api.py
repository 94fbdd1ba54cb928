from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.clinics.tokens import create_token
from mesoclinic.patients.models import Medication, Patient

ClientFor = Callable[[User], Client]
BASE = "/api/v1/patients"
NEW_PATIENT: dict[str, object] = {
    "given_name": "Léa",
    "family_name": "Dubois",
    "date_of_birth": "1990-05-06",
    "sex": "female",
    "phone": "06 11 22 33 44",
    "preferred_language": "fr",
}


def bearer(user: User) -> Client:
    _, key = create_token(user, "test")
    return Client(headers={"Authorization": f"Bearer {key}"})


def operations(patient_id: int) -> list[tuple[str, str, dict[str, object] | None]]:
    return [
        ("get", f"{BASE}/{patient_id}", None),
        ("put", f"{BASE}/{patient_id}", NEW_PATIENT),
        ("get", f"{BASE}/{patient_id}/medications", None),
        ("post", f"{BASE}/{patient_id}/medications", {"name": "ibuprofen"}),
        ("get", f"{BASE}/{patient_id}/allergies", None),
        ("post", f"{BASE}/{patient_id}/allergies", {"substance": "lidocaine"}),
        ("get", f"{BASE}/{patient_id}/conditions", None),
        ("post", f"{BASE}/{patient_id}/conditions", {"kind": "pregnancy"}),
        ("get", f"{BASE}/{patient_id}/export", None),
    ]


def call(client: Client, method: str, url: str, body: dict[str, object] | None) -> Any:
    if body is None:
        return getattr(client, method)(url)
    return getattr(client, method)(url, body, content_type="application/json")


def test_list_and_search(
    client_for: ClientFor, asha: User, patient_a: Patient, patient_b: Patient
) -> None:
    client = client_for(asha)

    everyone = client.get(f"{BASE}/").json()
    found = client.get(f"{BASE}/", {"q": "14/03/1980"}).json()
    none = client.get(f"{BASE}/", {"q": "Hughes"}).json()

    assert (everyone["count"], everyone["pages"]) == (1, 1)
    assert [p["family_name"] for p in everyone["items"]] == ["Rousseau"]
    assert [p["id"] for p in found["items"]] == [patient_a.pk]
    assert none["items"] == []


def test_create_update_and_read_with_a_token(asha: User) -> None:
    client = bearer(asha)

    created = client.post(f"{BASE}/", NEW_PATIENT, content_type="application/json")
    patient_id = created.json()["id"]
    updated = client.put(
        f"{BASE}/{patient_id}",
        NEW_PATIENT | {"family_name": "Dubois-Roy"},
        content_type="application/json",
    )
    read = client.get(f"{BASE}/{patient_id}")

    assert created.status_code == 201
    assert updated.status_code == 200
    assert read.json()["family_name"] == "Dubois-Roy"
    assert Patient.objects.get(pk=patient_id).clinic == asha.clinic
    actions = list(
        AuditEvent.objects.filter(patient_id=patient_id).values_list("action", flat=True)
    )
    assert actions == [AuditAction.VIEW, AuditAction.UPDATE, AuditAction.CREATE]


def test_bad_input_is_refused_and_changes_nothing(
    client_for: ClientFor, asha: User, patient_a: Patient
) -> None:
    client = client_for(asha)

    future = client.post(
        f"{BASE}/", NEW_PATIENT | {"date_of_birth": "2999-01-01"}, content_type="application/json"
    )
    bad_email = client.post(
        f"{BASE}/", NEW_PATIENT | {"email": "nope"}, content_type="application/json"
    )
    backwards = client.post(
        f"{BASE}/{patient_a.pk}/medications",
        {"name": "ibuprofen", "started": "2025-05-02", "stopped": "2025-05-01"},
        content_type="application/json",
    )
    area = client.post(
        f"{BASE}/{patient_a.pk}/conditions",
        {"kind": "skin", "body_area": "nowhere"},
        content_type="application/json",
    )

    assert [r.status_code for r in (future, bad_email, backwards, area)] == [422] * 4
    assert "future" in future.json()["detail"]
    assert Patient.objects.count() == 1
    assert not Medication.objects.exists()


def test_medications_resolve(
    catalogue: None, client_for: ClientFor, asha: User, patient_a: Patient
) -> None:
    client = client_for(asha)

    added = client.post(
        f"{BASE}/{patient_a.pk}/medications",
        {"name": "Aspirin 75 mg", "last_dose_taken": "2025-05-01"},
        content_type="application/json",
    )
    unknown = client.post(
        f"{BASE}/{patient_a.pk}/medications",
        {"name": "Levothyrox"},
        content_type="application/json",
    )
    listed = client.get(f"{BASE}/{patient_a.pk}/medications").json()

    assert added.status_code == 201
    assert added.json()["resolved"] is True
    assert set(added.json()["drug_classes"]) == {"salicylates", "aspirin-antithrombotic"}
    assert unknown.json() | {"id": 0} == {
        "id": 0,
        "name": "Levothyrox",
        "dose": "",
        "started": None,
        "stopped": None,
        "last_dose_taken": None,
        "resolved": False,
        "resolved_as": "",
        "drug_classes": [],
    }
    assert [m["name"] for m in listed] == ["Aspirin 75 mg", "Levothyrox"]


def test_allergies_and_conditions(
    catalogue: None, client_for: ClientFor, asha: User, patient_a: Patient
) -> None:
    client = client_for(asha)

    client.post(
        f"{BASE}/{patient_a.pk}/allergies",
        {"substance": "lidocaine"},
        content_type="application/json",
    )
    client.post(
        f"{BASE}/{patient_a.pk}/conditions",
        {"kind": "pregnancy", "started": "2025-03-01"},
        content_type="application/json",
    )

    assert [a["substance"] for a in client.get(f"{BASE}/{patient_a.pk}/allergies").json()] == [
        "lidocaine"
    ]
    conditions = client.get(f"{BASE}/{patient_a.pk}/conditions").json()
    assert [(c["kind"], c["started"]) for c in conditions] == [("pregnancy", "2025-03-01")]


def test_a_read_is_audited(client_for: ClientFor, pat: User, patient_a: Patient) -> None:
    client_for(pat).get(f"{BASE}/{patient_a.pk}", REMOTE_ADDR="10.1.2.3")

    event = AuditEvent.objects.get(action=AuditAction.VIEW, actor=pat)
    assert (event.patient_id, event.ip_address) == (patient_a.pk, "10.1.2.3")


def test_export(client_for: ClientFor, pat: User, patient_a: Patient) -> None:
    response = client_for(pat).get(f"{BASE}/{patient_a.pk}/export")

    assert response.status_code == 200
    assert response.json()["patient"]["email"] == "camille.rousseau@example.org"
    assert AuditEvent.objects.filter(action=AuditAction.EXPORT, patient_id=patient_a.pk).exists()


def test_an_assistant_cannot_export(client_for: ClientFor, asha: User, patient_a: Patient) -> None:
    assert client_for(asha).get(f"{BASE}/{patient_a.pk}/export").status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_a_researcher_is_refused_every_operation(
    client_for: ClientFor, rhea: User, patient_a: Patient
) -> None:
    client = client_for(rhea)
    statuses = [call(client, m, url, body).status_code for m, url, body in operations(patient_a.pk)]
    statuses += [client.get(f"{BASE}/").status_code]
    statuses += [client.post(f"{BASE}/", NEW_PATIENT, content_type="application/json").status_code]

    assert set(statuses) == {403}
    assert Patient.objects.count() == 1


@pytest.fixture
def bea(clinic_b: Clinic) -> User:
    return create_user("bea.admin", Role.ADMIN, clinic_b)


def test_another_clinic_gets_404_on_every_operation(bea: User, patient_a: Patient) -> None:
    client = bearer(bea)

    statuses = {call(client, m, url, body).status_code for m, url, body in operations(patient_a.pk)}

    assert statuses == {404}
    patient_a.refresh_from_db()
    assert patient_a.family_name == "Rousseau"
    assert (
        not AuditEvent.objects.filter(patient_id=patient_a.pk)
        .exclude(action=AuditAction.CREATE)
        .exists()
    )


def test_anonymous_callers_are_refused(patient_a: Patient) -> None:
    assert Client().get(f"{BASE}/{patient_a.pk}").status_code == 401


def test_the_schema_documents_the_operations(client_for: ClientFor, asha: User) -> None:
    schema = client_for(asha).get("/api/v1/openapi.json").json()

    assert {"get", "post"} <= set(schema["paths"][f"{BASE}/"])
    assert "MedicationOut" in schema["components"]["schemas"]
    assert "resolved" in schema["components"]["schemas"]["MedicationOut"]["properties"]
