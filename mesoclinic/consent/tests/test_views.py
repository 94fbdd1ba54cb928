"""The consent pages: a plan's documents, preparing, signing on the tablet, the PDF and a
withdrawal, each for the clinic's own staff only."""

from __future__ import annotations

import base64
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.consent import services
from mesoclinic.consent.models import ConsentDocument, ConsentWithdrawal, SignatureMethod
from mesoclinic.consent.testing import blank_png, drawn_png
from mesoclinic.courses.models import CoursePlan

ClientFor = Callable[[User], Client]


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def sign_post(document: ConsentDocument, **changes: object) -> dict[str, object]:
    return {
        "signature": data_url(drawn_png()),
        "content_sha256": document.content_sha256,
        "read_and_understood": "on",
    } | changes


def test_the_plan_page_links_to_consent_and_lists_the_documents(
    client_for: ClientFor, plan: CoursePlan, asha: User
) -> None:
    client = client_for(asha)
    plan_page = client.get(reverse("courses:plan", args=[plan.pk]))
    assert reverse("consent:plan", args=[plan.pk]) in plan_page.text
    assert "No valid consent" in plan_page.text

    page = client.get(reverse("consent:plan", args=[plan.pk]))
    assert page.status_code == 200
    assert "No consent document has been prepared" in page.text
    assert "No valid consent" in page.text
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_type="courses.CoursePlan", detail__what="consent documents"
    ).exists()


def test_preparing_signing_and_downloading_on_the_tablet(
    client_for: ClientFor, plan: CoursePlan, asha: User
) -> None:
    client = client_for(asha)

    response = client.post(reverse("consent:prepare", args=[plan.pk]), {"language": "en"})
    document = ConsentDocument.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("consent:document", args=[document.pk])

    tablet = client.get(reverse("consent:sign", args=[document.pk]))
    assert tablet.status_code == 200
    assert 'id="signature-pad"' in tablet.text
    assert "mesoclinic/signature-pad." in tablet.text
    assert "I have read and understood this document" in tablet.text
    assert "Phosphatidylcholine" in tablet.text
    assert "Witness: Asha Assistant" in tablet.text

    signed = client.post(reverse("consent:sign", args=[document.pk]), sign_post(document))
    assert signed.status_code == 302
    document.refresh_from_db()
    assert document.method == SignatureMethod.DRAWN
    assert document.witness == asha

    page = client.get(reverse("consent:document", args=[document.pk]))
    assert "Signed by hand by Camille Rousseau" in page.text
    assert document.pdf_sha256 in page.text
    pdf = client.get(reverse("consent:pdf", args=[document.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content == document.pdf_bytes()
    listing = client.get(reverse("consent:plan", args=[plan.pk]))
    assert "Valid consent:" in listing.text
    reads = AuditEvent.objects.filter(
        object_type="consent.ConsentDocument", object_id=str(document.pk), action=AuditAction.VIEW
    )
    assert {event.detail["what"] for event in reads} == {"text", "text for signing", "pdf"}


def test_the_tablet_speaks_the_patients_language(
    client_for: ClientFor, french_plan: CoursePlan, asha: User
) -> None:
    document = services.prepare(french_plan, asha)
    page = client_for(asha).get(reverse("consent:sign", args=[document.pk]))
    assert "J&#x27;ai lu et compris ce document" in page.text
    assert "Signer le consentement" in page.text
    assert 'lang="fr"' in page.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"signature": ""}, "The signature is empty"),
        ({"signature": data_url(blank_png())}, "The signature is empty"),
        ({"signature": "data:image/gif;base64,R0lGOD"}, "must be sent as a PNG"),
        ({"read_and_understood": ""}, "Tick the box"),
        ({"content_sha256": "0" * 64}, "prepared again while it was being read"),
    ],
    ids=["no-signature", "blank", "gif", "unticked", "other-text"],
)
def test_the_tablet_refuses_what_is_not_a_signature_of_this_text(
    client_for: ClientFor, plan: CoursePlan, asha: User, changes: dict[str, str], message: str
) -> None:
    document = services.prepare(plan, asha)
    response = client_for(asha).post(
        reverse("consent:sign", args=[document.pk]), sign_post(document, **changes)
    )
    assert response.status_code == 400
    assert message in response.text
    assert ConsentDocument.objects.get(pk=document.pk).signed_at is None


def test_recording_a_withdrawal(client_for: ClientFor, plan: CoursePlan, asha: User) -> None:
    document = services.sign_drawn(services.prepare(plan, asha), drawn_png(), asha)
    client = client_for(asha)
    url = reverse("consent:withdraw", args=[document.pk])

    refused = client.post(url, {"reason": "", "how": "phone"})
    assert refused.status_code == 400
    assert not ConsentWithdrawal.objects.exists()

    response = client.post(url, {"reason": "Changed her mind.", "how": "phone"})
    assert response.status_code == 302
    withdrawal = ConsentWithdrawal.objects.get()
    assert withdrawal.recorded_by == asha
    page = client.get(reverse("consent:document", args=[document.pk]))
    assert "Withdrawn" in page.text
    assert "Changed her mind." in page.text


def test_another_clinics_documents_are_not_found(
    client_for: ClientFor, other_plan: CoursePlan, bob: User, asha: User
) -> None:
    document = services.prepare(other_plan, bob)
    client = client_for(asha)
    for name, args in [
        ("consent:plan", [other_plan.pk]),
        ("consent:prepare", [other_plan.pk]),
        ("consent:document", [document.pk]),
        ("consent:sign", [document.pk]),
        ("consent:pdf", [document.pk]),
        ("consent:withdraw", [document.pk]),
    ]:
        url = reverse(name, args=args)
        assert client.get(url).status_code in (404, 405), url
        assert client.post(url, sign_post(document)).status_code == 404, url
    assert ConsentDocument.objects.get(pk=document.pk).signed_at is None


def test_a_researcher_is_refused(
    client_for: ClientFor, plan: CoursePlan, asha: User, rhea: User
) -> None:
    document = services.prepare(plan, asha)
    client = client_for(rhea)
    assert client.get(reverse("consent:plan", args=[plan.pk])).status_code == 403
    assert client.get(reverse("consent:pdf", args=[document.pk])).status_code == 403
    assert (
        client.post(reverse("consent:sign", args=[document.pk]), sign_post(document)).status_code
        == 403
    )
    assert ConsentDocument.objects.get(pk=document.pk).signed_at is None
