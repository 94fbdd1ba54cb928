"""Consent in the portal: the patient reads their documents, signs one by typing their name
and a code emailed to them, downloads it, and withdraws a signed one; another patient reaches
none of it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.consent import services
from mesoclinic.consent.models import (
    ConsentCode,
    ConsentDocument,
    ConsentStatus,
    ConsentWithdrawal,
    SignatureMethod,
    WithdrawalHow,
)
from mesoclinic.consent.testing import PlanConsents, last_code_sent, plan_consents
from mesoclinic.courses.models import CoursePlan
from mesoclinic.patients.models import Patient


@pytest.fixture
def consents(face_plan: CoursePlan, bookable_pat: User) -> PlanConsents:
    """Version 1 signed on the tablet, version 2 a draft (a code was emailed by the clinic)."""
    return plan_consents(face_plan, bookable_pat)


def page(document: ConsentDocument, suffix: str = "") -> str:
    return f"/portal/consent/{document.pk}/{suffix}"


def signing(code: str, **changes: str) -> dict[str, str]:
    return {"typed_name": "Camille Rousseau", "code": code, "agree": "on"} | changes


def state() -> dict[str, Any]:
    return {
        "signed": list(
            ConsentDocument.objects.filter(signed_at__isnull=False).values_list("pk", flat=True)
        ),
        "codes": list(ConsentCode.objects.values_list("pk", "attempts", "used_at")),
        "withdrawals": ConsentWithdrawal.objects.count(),
        "mails": len(mail.outbox),
    }


def test_the_list_shows_each_document_with_its_status(
    portal: Client, consents: PlanConsents
) -> None:
    html = portal.get("/portal/consent/").content.decode()
    assert "Waiting for your signature" in html
    assert "Signed" in html
    assert page(consents.draft) in html
    assert page(consents.signed) in html
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, detail__portal="consents", patient_id=consents.draft.patient_id
    ).exists()


def test_the_patient_reads_asks_for_a_code_and_signs_by_typing_their_name(
    portal: Client, consents: PlanConsents, patient: Patient, patient_user: User
) -> None:
    draft = consents.draft
    html = portal.get(page(draft)).content.decode()
    assert draft.content["sections"][0]["heading"] in html
    # The clinic emailed a code when it prepared the document: the patient may ask again.
    assert "Send me a new code" in html
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_id=str(draft.pk), detail__what="text", actor=patient_user
    ).exists()

    response = portal.post(page(draft, "code/"))
    assert response.status_code == 302
    code = last_code_sent(patient.email)
    html = portal.get(page(draft)).content.decode()
    assert "We emailed a code to c\u2022\u2022\u2022@example.org" in html

    response = portal.post(page(draft), signing(code, typed_name="  camille   ROUSSEAU "))

    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.method == SignatureMethod.TYPED
    assert draft.typed_name == "camille ROUSSEAU"
    assert services.status_of(draft) == ConsentStatus.SIGNED
    signed = AuditEvent.objects.get(
        action=AuditAction.UPDATE, object_id=str(draft.pk), detail__signed="typed"
    )
    assert signed.actor == patient_user
    html = portal.get(page(draft)).content.decode()
    assert "Download the signed copy (PDF)" in html
    assert "Withdraw my consent" in html

    pdf = portal.get(page(draft, "pdf/"))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content == draft.pdf_bytes()


def test_a_wrong_code_or_name_is_refused_and_signs_nothing(
    portal: Client, consents: PlanConsents, patient: Patient
) -> None:
    draft = consents.draft
    portal.post(page(draft, "code/"))
    code = last_code_sent(patient.email)
    wrong = "000000" if code != "000000" else "111111"

    response = portal.post(page(draft), signing(wrong))
    assert response.status_code == 400
    assert "The code is not the one sent: 4 attempts left." in response.content.decode()

    response = portal.post(page(draft), signing(code, typed_name="Someone Else"))
    assert response.status_code == 400
    assert "The name typed is not the patient" in response.content.decode()

    before = state()
    response = portal.post(page(draft), signing(code, agree=""))
    assert response.status_code == 400
    assert "Please tick the box" in response.content.decode()
    assert state() == before
    draft.refresh_from_db()
    assert draft.signed_at is None


def test_a_signed_consent_is_withdrawn_after_the_patient_reads_what_it_means(
    portal: Client, consents: PlanConsents, face_plan: CoursePlan, patient_user: User
) -> None:
    signed = consents.signed
    html = portal.get(page(signed, "withdraw/")).content.decode()
    assert "No more sessions of this course take place on this consent." in html
    assert "The clinic will contact you" in html

    before = state()
    response = portal.post(page(signed, "withdraw/"), {"reason": "Moving abroad."})
    assert response.status_code == 400
    assert state() == before

    response = portal.post(page(signed, "withdraw/"), {"reason": "Moving abroad.", "confirm": "on"})

    assert response.status_code == 302
    withdrawal = ConsentWithdrawal.objects.get(document=signed)
    assert (withdrawal.how, withdrawal.recorded_by) == (WithdrawalHow.PORTAL, patient_user)
    assert withdrawal.reason == "Moving abroad."
    assert services.valid_consent(face_plan, timezone.now()) is None
    assert "You withdrew this consent on" in portal.get(page(signed)).content.decode()


def test_a_withdrawal_needs_no_reason_and_a_draft_cannot_be_withdrawn(
    portal: Client, consents: PlanConsents
) -> None:
    before = state()
    response = portal.post(page(consents.draft, "withdraw/"), {"confirm": "on"})
    assert response.status_code == 400
    assert state() == before

    assert portal.post(page(consents.signed, "withdraw/"), {"confirm": "on"}).status_code == 302
    assert ConsentWithdrawal.objects.get().reason.startswith("None given")


def test_another_patient_reaches_no_document(other_portal: Client, consents: PlanConsents) -> None:
    before = state()
    for document in (consents.draft, consents.signed):
        for suffix in ("", "pdf/", "withdraw/"):
            assert other_portal.get(page(document, suffix)).status_code == 404
        for suffix in ("", "code/", "withdraw/"):
            data = signing(consents.code or "") | {"confirm": "on", "reason": "x"}
            assert other_portal.post(page(document, suffix), data).status_code == 404
    assert state() == before
    html = other_portal.get("/portal/consent/").content.decode()
    assert page(consents.draft) not in html
    assert "You have no consent documents yet." in html
