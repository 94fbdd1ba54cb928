"""Consent documents over the API: the portal's typed signature, end to end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.test import Client

from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.consent import content, services
from mesoclinic.consent.models import ConsentDocument, ConsentWithdrawal
from mesoclinic.consent.testing import drawn_png, last_code_sent
from mesoclinic.courses.models import CoursePlan

ClientFor = Callable[[User], Client]
API = "/api/v1/consents"


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def test_prepare_send_code_sign_typed_read_and_withdraw(
    client_for: ClientFor, french_plan: CoursePlan, asha: User
) -> None:
    client = client_for(asha)

    prepared = post(client, f"{API}/", {"plan_id": french_plan.pk})
    assert prepared.status_code == 201, prepared.content
    body = prepared.json()
    document_id = body["id"]
    assert body["status"] == "draft"
    assert body["version"] == 1
    assert body["language"] == "fr"
    assert body["content"]["title"] == "Consentement à une cure de mésothérapie"
    assert body["content_sha256"] == content.content_sha256(body["content"])
    assert body["signed_at"] is None and body["pdf_sha256"] is None

    sent = post(client, f"{API}/{document_id}/send-code")
    assert sent.status_code == 200, sent.content
    assert sent.json()["sent_to"] == "h\u2022\u2022\u2022@example.org"
    assert sent.json()["expires_at"].endswith("+01:00")  # the clinic's zone (Paris, winter)
    code = last_code_sent("helene.lefevre@example.org")

    wrong_name = post(
        client,
        f"{API}/{document_id}/sign-typed",
        {"typed_name": "Camille Rousseau", "one_time_code": code},
    )
    assert wrong_name.status_code == 422
    assert "not the patient's name" in wrong_name.json()["detail"]

    signed = post(
        client,
        f"{API}/{document_id}/sign-typed",
        {"typed_name": "HELENE LEFEVRE-DUPRE", "one_time_code": code},
    )
    assert signed.status_code == 200, signed.content
    body = signed.json()
    assert body["status"] == "signed"
    assert body["method"] == "typed"
    assert body["typed_name"] == "HELENE LEFEVRE-DUPRE"
    stored = ConsentDocument.objects.get(pk=document_id)
    assert body["pdf_sha256"] == stored.pdf_sha256

    reused = post(
        client,
        f"{API}/{document_id}/sign-typed",
        {"typed_name": "Hélène Lefèvre-Dupré", "one_time_code": code},
    )
    assert reused.status_code == 422
    assert "already signed" in reused.json()["detail"]

    pdf = client.get(f"{API}/{document_id}/pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert content.sha256_hex(pdf.content) == stored.pdf_sha256

    listed = client.get(f"{API}/?plan_id={french_plan.pk}")
    assert [d["id"] for d in listed.json()] == [document_id]
    assert "content" not in listed.json()[0]

    withdrawn = post(
        client, f"{API}/{document_id}/withdraw", {"reason": "Wants to wait.", "how": "phone"}
    )
    assert withdrawn.status_code == 201, withdrawn.content
    assert withdrawn.json()["how"] == "phone"
    assert client.get(f"{API}/{document_id}").json()["status"] == "withdrawn"
    assert ConsentWithdrawal.objects.get().recorded_by == asha
    again = post(client, f"{API}/{document_id}/withdraw", {"reason": "Again."})
    assert again.status_code == 422

    reads = AuditEvent.objects.filter(
        object_type="consent.ConsentDocument", object_id=str(document_id), action=AuditAction.VIEW
    )
    assert {event.detail["what"] for event in reads} == {"text", "pdf"}


def test_a_withdrawal_time_without_offset_is_refused(
    client_for: ClientFor, plan: CoursePlan, asha: User
) -> None:
    document = services.sign_drawn(services.prepare(plan, asha), drawn_png(), asha)
    response = post(
        client_for(asha),
        f"{API}/{document.pk}/withdraw",
        {"reason": "Phoned.", "withdrawn_at": "2026-03-02T10:00:00"},
    )
    assert response.status_code == 422
    assert "no UTC offset" in response.json()["detail"]
    assert not ConsentWithdrawal.objects.exists()


def test_another_clinics_plan_and_documents_are_not_found(
    client_for: ClientFor, other_plan: CoursePlan, bob: User, asha: User
) -> None:
    document = services.prepare(other_plan, bob)
    client = client_for(asha)
    assert client.get(f"{API}/?plan_id={other_plan.pk}").status_code == 404
    assert post(client, f"{API}/", {"plan_id": other_plan.pk}).status_code == 422
    assert client.get(f"{API}/{document.pk}").status_code == 404
    assert client.get(f"{API}/{document.pk}/pdf").status_code == 404
    assert post(client, f"{API}/{document.pk}/send-code").status_code == 404
    body = {"typed_name": "Oliver Hughes", "one_time_code": "123456"}
    assert post(client, f"{API}/{document.pk}/sign-typed", body).status_code == 404
    assert post(client, f"{API}/{document.pk}/withdraw", {"reason": "x"}).status_code == 404
    assert ConsentDocument.objects.filter(plan=other_plan).count() == 1
    assert not document.codes.exists()


def test_a_researcher_is_refused(
    client_for: ClientFor, plan: CoursePlan, asha: User, rhea: User
) -> None:
    document = services.prepare(plan, asha)
    client = client_for(rhea)
    assert client.get(f"{API}/?plan_id={plan.pk}").status_code == 403
    assert client.get(f"{API}/{document.pk}").status_code == 403
    assert client.get(f"{API}/{document.pk}/pdf").status_code == 403
    assert post(client, f"{API}/", {"plan_id": plan.pk}).status_code == 403
    assert post(client, f"{API}/{document.pk}/send-code").status_code == 403
    assert not document.codes.exists()
