"""What the portal must not keep or show: the identity of an erased patient, and what the
clinic wrote about a patient's side effects."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.test import Client, RequestFactory
from django.urls import reverse
from django_otp.plugins.otp_email.models import EmailDevice

from mesoclinic.charts.models import Chart
from mesoclinic.clinics.models import User
from mesoclinic.clinics.testing import PASSWORD
from mesoclinic.followup import services
from mesoclinic.followup.models import Reporter
from mesoclinic.followup.services import EventSpec
from mesoclinic.patients.accounts import portal_patient
from mesoclinic.patients.models import Patient
from mesoclinic.patients.services import erase_patient
from mesoclinic.portal.invitations import invite
from mesoclinic.portal.models import Invitation

pytestmark = pytest.mark.django_db


def test_erasure_removes_the_identity_from_the_portal(
    patient: Patient, patient_user: User, other_patient: Patient, alice: User, asha: User
) -> None:
    EmailDevice.objects.create(user=patient_user, name="email")
    invite(other_patient, asha)
    Invitation.objects.create(
        patient=patient,
        token_digest="x" * 64,
        code_hash="y" * 64,
        sent_to=patient.email,
        created_by=asha,
        created_at=patient.created_at,
        expires_at=patient.created_at,
    )

    erase_patient(patient, actor=alice, reason="The patient asked for erasure.")

    patient_user.refresh_from_db()
    email = "camille.rousseau@example.org"
    assert patient_user.username == f"erased-patient-{patient.pk}"
    assert (patient_user.email, patient_user.first_name, patient_user.last_name) == ("", "", "")
    assert not patient_user.is_active and not patient_user.has_usable_password()
    assert portal_patient(patient_user) is None
    assert not EmailDevice.objects.filter(user=patient_user).exists()
    assert not User.objects.filter(email=email).exists()
    assert not User.objects.filter(username=email).exists()
    mine = Invitation.objects.get(patient=patient)
    assert (mine.sent_to, mine.revoked_at is not None) == ("", True)
    request = RequestFactory().post("/portal/sign-in/")
    request.user = AnonymousUser()
    assert authenticate(request, username=email, password=PASSWORD) is None
    # Another patient's invitation is left as it was.
    theirs = Invitation.objects.get(patient=other_patient)
    assert theirs.sent_to == other_patient.email and theirs.revoked_at is None


def _event(chart: Chart, actor: User, reporter: str, notes: str) -> int:
    spec = EventSpec(
        onset_on=services.session_day(chart), grade=1, side_effect="redness", notes=notes
    )
    return services.report_event(chart, spec, actor, reporter).pk


def test_a_patient_sees_their_own_report_but_not_one_the_clinic_recorded(
    portal: Client, chart: Chart, patient_user: User, pat: User, alice: User
) -> None:
    own = _event(chart, patient_user, Reporter.PATIENT, "Itchy in the evening.")
    clinic = _event(chart, pat, Reporter.STAFF, "CLINIC NOTE: discussed by phone.")
    retracted = _event(chart, patient_user, Reporter.PATIENT, "Sent twice by mistake.")
    services.retract_event(
        chart.adverse_events.get(pk=retracted), "Duplicate of an earlier report.", alice
    )

    page = portal.get(reverse("portal:report-sent", kwargs={"event_pk": own}))
    assert page.status_code == 200 and "Itchy in the evening." in page.content.decode()
    for pk in (clinic, retracted):
        assert portal.get(reverse("portal:report-sent", kwargs={"event_pk": pk})).status_code == 404


def test_a_patient_has_no_staff_account_page_and_no_api_token(portal: Client) -> None:
    for name in ("account:index", "account:password-change"):
        assert portal.get(reverse(name)).status_code == 403, name
    assert portal.post(reverse("account:token-create"), {"name": "mine"}).status_code == 403
    assert portal.get(reverse("home"))["Location"] == reverse("portal:home")
