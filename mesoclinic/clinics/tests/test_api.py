from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from django.test import Client

from mesoclinic.clinics.models import ApiToken, AuditEvent, Clinic, Licence, User
from mesoclinic.clinics.tokens import create_token


def api(user: User) -> tuple[Client, dict[str, str]]:
    _, key = create_token(user, "test")
    return Client(), {"Authorization": f"Bearer {key}"}


def get(user: User, path: str) -> tuple[int, object]:
    client, headers = api(user)
    response = client.get(f"/api/v1/clinic{path}", headers=headers)
    return response.status_code, response.json()


def post(user: User, path: str, body: object = None) -> tuple[int, object]:
    client, headers = api(user)
    response = client.post(
        f"/api/v1/clinic{path}",
        json.dumps(body or {}),
        content_type="application/json",
        headers=headers,
    )
    return response.status_code, response.json()


def licence_of(practitioner: User, valid_until: date | None, number: str = "1") -> Licence:
    return Licence.objects.create(
        practitioner=practitioner,
        number=number,
        issuing_body="GMC",
        jurisdiction="UK",
        valid_from=date(2020, 1, 1),
        valid_until=valid_until,
    )


def test_staff_lists_the_callers_clinic_with_licence_status(
    alice: User, pat: User, bob: User
) -> None:
    status, body = get(pat, "/staff")
    assert status == 200
    by_name = {m["username"]: m for m in body}  # type: ignore[attr-defined]
    assert set(by_name) == {"alice.admin", "pat.practitioner"}
    assert by_name["pat.practitioner"]["licence_today"]["ok"] is False
    assert by_name["alice.admin"]["licence_today"] is None


def test_researcher_cannot_list_staff(rhea: User) -> None:
    assert get(rhea, "/staff")[0] == 403


def test_licences_and_the_expiring_filter(pat: User, bob: User, clinic_a: Clinic) -> None:
    today = clinic_a.today()
    soon = licence_of(pat, today + timedelta(days=30))
    licence_of(pat, today + timedelta(days=90), number="2")
    licence_of(bob, today + timedelta(days=30))
    status, body = get(pat, "/licences")
    assert status == 200 and len(body) == 2  # type: ignore[arg-type]
    status, body = get(pat, "/licences?expiring_within=60")
    assert [lic["id"] for lic in body] == [soon.pk]  # type: ignore[attr-defined]
    assert get(pat, "/licences?expiring_within=-1")[0] == 400


def test_admin_adds_and_verifies_a_licence(alice: User, pat: User) -> None:
    body = {
        "practitioner_id": pat.pk,
        "number": "GMC 7000001",
        "issuing_body": "General Medical Council",
        "jurisdiction": "United Kingdom",
        "valid_from": "2025-01-01",
        "valid_until": "2028-01-01",
    }
    status, created = post(alice, "/licences", body)
    assert status == 201 and created["verified_at"] is None  # type: ignore[index]
    status, _ = post(alice, "/licences", body)
    assert status == 400  # the same number from the same body twice
    status, verified = post(alice, f"/licences/{created['id']}/verify")  # type: ignore[index]
    assert status == 200 and verified["verified_by_id"] == alice.pk  # type: ignore[index]
    assert AuditEvent.objects.filter(object_type="clinics.Licence").count() == 2


def test_bad_licence_dates_are_refused(alice: User, pat: User) -> None:
    status, _ = post(
        alice,
        "/licences",
        {
            "practitioner_id": pat.pk,
            "number": "1",
            "issuing_body": "GMC",
            "jurisdiction": "UK",
            "valid_from": "2025-01-01",
            "valid_until": "2024-01-01",
        },
    )
    assert status == 400 and not Licence.objects.exists()


def test_licences_of_clinic_b_are_out_of_reach(alice: User, pat: User, bob: User) -> None:
    theirs = licence_of(bob, None)
    assert post(alice, f"/licences/{theirs.pk}/verify")[0] == 404
    body = {
        "practitioner_id": bob.pk,
        "number": "9",
        "issuing_body": "GMC",
        "jurisdiction": "UK",
        "valid_from": "2025-01-01",
    }
    assert post(alice, "/licences", body)[0] == 404
    assert post(pat, f"/licences/{licence_of(pat, None).pk}/verify")[0] == 403
    theirs.refresh_from_db()
    assert not theirs.is_verified


def test_tokens_are_ones_own(pat: User, asha: User) -> None:
    client, headers = api(pat)
    created = client.post(
        "/api/v1/clinic/tokens", {"name": "cron"}, content_type="application/json", headers=headers
    )
    assert created.status_code == 201
    key = created.json()["key"]
    listed = client.get("/api/v1/clinic/tokens", headers=headers).json()
    assert {t["name"] for t in listed} == {"test", "cron"} and all("key" not in t for t in listed)
    token_id = created.json()["id"]
    other_client, other_headers = api(asha)
    assert (
        other_client.delete(f"/api/v1/clinic/tokens/{token_id}", headers=other_headers).status_code
        == 404
    )
    assert (
        other_client.get("/api/v1/clinic/tokens", headers=other_headers).json()[0]["name"] == "test"
    )
    assert client.delete(f"/api/v1/clinic/tokens/{token_id}", headers=headers).status_code == 204
    assert not ApiToken.objects.get(pk=token_id).is_active
    assert (
        client.get("/api/v1/clinic/tokens", headers={"Authorization": f"Bearer {key}"}).status_code
        == 401
    )


@pytest.mark.parametrize("path", ["/staff", "/licences", "/tokens"])
def test_anonymous_callers_are_refused(db: None, path: str) -> None:
    assert Client().get(f"/api/v1/clinic{path}").status_code == 401
