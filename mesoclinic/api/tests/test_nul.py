"""A NUL character anywhere in an API request is refused before any operation runs."""

from __future__ import annotations

import json

from django.test import Client

from mesoclinic.clinics.models import Licence, User
from mesoclinic.clinics.testing import sign_in


def licence(number: str, practitioner: User) -> str:
    return json.dumps(
        {
            "practitioner_id": practitioner.pk,
            "number": number,
            "issuing_body": "Ordre des médecins",
            "jurisdiction": "France",
            "valid_from": "2024-01-01",
        }
    )


def test_a_nul_in_a_body_is_refused_and_changes_nothing(
    client: Client, alice: User, pat: User
) -> None:
    sign_in(client, alice)

    response = client.post(
        "/api/v1/clinic/licences", licence("RPPS\x00-1", pat), content_type="application/json"
    )

    assert response.status_code == 422
    assert response.json() == {"detail": "Text cannot contain a NUL character."}
    assert not Licence.objects.exists()


def test_a_nul_in_a_query_is_refused(client: Client, alice: User) -> None:
    sign_in(client, alice)
    assert client.get("/api/v1/patients/", {"q": "Ro\x00ux"}).status_code == 422


def test_the_text_backslash_u0000_is_not_a_nul(client: Client, alice: User, pat: User) -> None:
    sign_in(client, alice)

    response = client.post(
        "/api/v1/clinic/licences", licence("RPPS\\u0000", pat), content_type="application/json"
    )

    assert response.status_code == 201
    assert Licence.objects.get().number == "RPPS\\u0000"
