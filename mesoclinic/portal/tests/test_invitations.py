"""Inviting a patient to the portal and the patient accepting: who may invite whom, what the
email says and in which language, the code given by another way, every refusal (and nothing
changed by it), the attempts at the code, the invitation page, the staff page that sends the
invitation and the status shown on the patient's record."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format

from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.patients.accounts import portal_patient
from mesoclinic.patients.models import Patient, PortalAccount
from mesoclinic.patients.services import erase_patient
from mesoclinic.patients.tests.conftest import make_patient
from mesoclinic.portal import invitations
from mesoclinic.portal.invitations import InvitationClosed, accept, invite
from mesoclinic.portal.models import Invitation
from mesoclinic.portal.testing import portal_user

NEW_PASSWORD = "lantern orchard pebble 42"
ClientFor = Callable[[User], Client]


@pytest.fixture(autouse=True)
def fast_hashes(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def token_in(message: mail.EmailMessage) -> str:
    found = re.search(r"/portal/invitation/([\w-]+)/", str(message.body))
    assert found, message.body
    return found.group(1)


def last_token() -> str:
    return token_in(mail.outbox[-1])


@pytest.fixture
def invited(patient: Patient, asha: User) -> tuple[Invitation, str, str]:
    """Invitation, code and token of ``patient``, sent by asha."""
    invitation, code = invite(patient, asha)
    return invitation, code, last_token()


def accepted(token: str, code: str) -> User:
    return accept(token, code, NEW_PASSWORD, NEW_PASSWORD)


# --- inviting -------------------------------------------------------------------------------


def test_an_invitation_emails_a_link_and_gives_the_code_to_the_staff_member(
    patient: Patient, asha: User, settings: Any
) -> None:
    settings.ALLOWED_HOSTS = ["clinic.example.org"]
    request = RequestFactory().post("/", HTTP_HOST="clinic.example.org", secure=True)
    request.user = asha

    invitation, code = invite(patient, asha, request=request)

    assert re.fullmatch(r"\d{6}", code)
    (message,) = mail.outbox
    token = token_in(message)
    assert len(token) >= 43  # 256 bits, URL-safe
    assert message.to == ["camille.rousseau@example.org"]
    link = f"https://clinic.example.org{reverse('portal:invitation', kwargs={'token': token})}"
    assert link in message.body
    assert "Clinique des Tilleuls" in message.subject and "Clinique des Tilleuls" in message.body
    assert "Camille" in message.body
    assert "6-digit code" in message.body and "in person or by phone" in message.body
    assert code not in message.body  # the other channel
    # Only digests are kept.
    assert invitation.token_digest == hashlib.sha256(token.encode()).hexdigest()
    assert code not in invitation.code_hash and len(invitation.code_hash) == 64
    assert invitation.sent_to == "camille.rousseau@example.org"
    assert invitation.created_by == asha
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="portal.Invitation")
    assert event.actor == asha and event.patient_id == patient.pk
    assert event.detail["sent_to"] == "c\u2022\u2022\u2022@example.org"


def test_the_email_is_in_the_patients_language_with_the_clinics_dates(
    patient: Patient, asha: User
) -> None:
    patient.preferred_language = "fr"
    patient.save()

    invitation, _ = invite(patient, asha)

    (message,) = mail.outbox
    assert message.extra_headers["Content-Language"] == "fr"
    with translation.override("fr"):
        expires = date_format(
            timezone.localtime(invitation.expires_at, patient.clinic.tz), "DATETIME_FORMAT"
        )
    assert expires in message.body  # the French date, at the clinic's time


def test_without_a_request_the_link_is_built_from_the_settings(
    patient: Patient, asha: User, settings: Any
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://portal.example.org"]
    invite(patient, asha)
    assert f"https://portal.example.org/portal/invitation/{last_token()}/" in mail.outbox[0].body


@pytest.mark.parametrize("who", ["alice", "pat", "asha"])
def test_staff_of_the_clinic_who_edit_patients_may_invite(
    request: pytest.FixtureRequest, patient: Patient, who: str
) -> None:
    invitation, _ = invite(patient, request.getfixturevalue(who))
    assert invitation.pk is not None


def test_nobody_else_may_invite(
    patient: Patient, other_patient: Patient, rhea: User, bob: User, clinic_b: Clinic
) -> None:
    other_patients_account = portal_user(other_patient)
    bea = create_user("bea.assistant", Role.ASSISTANT, clinic_b)
    for outsider in (rhea, bob, bea, other_patients_account):
        with pytest.raises(PermissionDenied):
            invite(patient, outsider)
    assert not Invitation.objects.exists() and not mail.outbox


@pytest.fixture
def refused(patient: Patient, asha: User) -> Callable[[str], None]:
    def check(words: str) -> None:
        before = Invitation.objects.count()
        with pytest.raises(ValidationError, match=words):
            invite(Patient.objects.get(pk=patient.pk), asha)
        assert Invitation.objects.count() == before
        assert not mail.outbox

    return check


def test_a_patient_without_an_email_address_is_refused(
    patient: Patient, refused: Callable[[str], None]
) -> None:
    Patient.objects.filter(pk=patient.pk).update(email="")
    refused("Add the patient's email address first")


def test_an_erased_patient_is_refused(
    patient: Patient, alice: User, refused: Callable[[str], None]
) -> None:
    erase_patient(patient, actor=alice, reason="Asked to be forgotten.")
    refused("identity was erased")


def test_a_patient_with_an_account_is_refused(
    patient: Patient, patient_user: User, refused: Callable[[str], None]
) -> None:
    refused("already has a portal account")


def test_an_address_that_signs_in_to_another_account_is_refused(
    patient: Patient, bob: User, refused: Callable[[str], None]
) -> None:
    # The same person, a patient of clinic B too, with an account there.
    portal_user(make_patient(bob, email="Camille.Rousseau@example.org"))
    refused("shared across clinics are not supported")


def test_a_new_invitation_revokes_the_open_one(
    patient: Patient, asha: User, invited: tuple[Invitation, str, str]
) -> None:
    first, first_code, first_token = invited
    second, second_code = invite(patient, asha)

    first.refresh_from_db()
    assert first.revoked_at is not None and second.revoked_at is None
    with pytest.raises(InvitationClosed, match="replaced by a newer one") as closed:
        accepted(first_token, first_code)
    assert closed.value.status == 410
    assert accepted(last_token(), second_code).username == "camille.rousseau@example.org"


def test_at_most_five_invitations_a_day(patient: Patient, asha: User) -> None:
    for _ in range(invitations.INVITATIONS_PER_DAY):
        invite(patient, asha)
    with pytest.raises(ValidationError, match="in the last 24 hours"):
        invite(patient, asha)
    assert Invitation.objects.filter(patient=patient).count() == 5
    # A day later, one more.
    Invitation.objects.update(created_at=timezone.now() - timedelta(days=1, minutes=1))
    invite(patient, asha)


def test_an_invitation_the_mail_server_refuses_is_not_kept(patient: Patient, asha: User) -> None:
    with (
        mock.patch("django.core.mail.EmailMessage.send", side_effect=OSError("refused")),
        pytest.raises(ValidationError, match="could not be sent"),
    ):
        invite(patient, asha)
    assert not Invitation.objects.exists()
    assert not AuditEvent.objects.filter(object_type="portal.Invitation").exists()


# --- accepting --------------------------------------------------------------------------------


def test_accepting_makes_the_patients_account(
    patient: Patient, invited: tuple[Invitation, str, str]
) -> None:
    invitation, code, token = invited

    user = accept(token, f" {code[:3]} {code[3:]} ", NEW_PASSWORD, NEW_PASSWORD)

    assert user.role == Role.PATIENT and user.clinic_id == patient.clinic_id
    assert user.username == user.email == "camille.rousseau@example.org"
    assert (user.first_name, user.last_name) == ("Camille", "Rousseau")
    assert portal_patient(user) == patient
    assert user.check_password(NEW_PASSWORD)
    invitation.refresh_from_db()
    assert invitation.used_at is not None and invitation.attempts == 1
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="patients.PortalAccount")
    assert event.actor == user and event.patient_id == patient.pk


def test_the_username_is_the_address_in_lower_case(patient: Patient, asha: User) -> None:
    Patient.objects.filter(pk=patient.pk).update(email="Camille.Rousseau@Example.ORG")
    _, code = invite(Patient.objects.get(pk=patient.pk), asha)
    assert accepted(last_token(), code).username == "camille.rousseau@example.org"


def test_a_wrong_code_says_how_many_attempts_are_left(
    patient: Patient, invited: tuple[Invitation, str, str]
) -> None:
    invitation, code, token = invited
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(ValidationError) as refused:
            accepted(token, wrong)
        assert refused.value.message_dict["code"] == [
            f"The code is not the one your clinic gave you: {left} "
            f"attempt{'s' if left > 1 else ''} left."
        ]
    with pytest.raises(InvitationClosed, match="no attempt is left"):
        accepted(token, wrong)
    # Out of attempts: not even the right code opens it now.
    with pytest.raises(InvitationClosed, match="Too many wrong codes"):
        accepted(token, code)
    invitation.refresh_from_db()
    assert invitation.attempts == 5 and invitation.used_at is None
    assert not PortalAccount.objects.exists()
    assert (
        AuditEvent.objects.filter(
            object_type="portal.Invitation", action=AuditAction.UPDATE, detail__wrong_code=True
        ).count()
        == 5
    )


def test_attempts_are_counted_by_a_conditional_update(
    invited: tuple[Invitation, str, str],
) -> None:
    """Of requests racing each other, those beyond the limit find no attempt to count, even
    when they read the invitation before the others counted theirs."""
    invitation, code, token = invited
    Invitation.objects.filter(pk=invitation.pk).update(attempts=invitations.CODE_ATTEMPTS)
    with (
        mock.patch.object(invitations, "find", return_value=invitation),
        pytest.raises(InvitationClosed, match="Too many wrong codes"),
    ):
        accepted(token, code)
    assert not PortalAccount.objects.exists()


def test_passwords_are_checked_before_the_code_and_use_no_attempt(
    invited: tuple[Invitation, str, str],
) -> None:
    invitation, code, token = invited
    with pytest.raises(ValidationError) as different:
        accept(token, code, NEW_PASSWORD, NEW_PASSWORD + "!")
    assert "password2" in different.value.message_dict
    for weak in ("12345678", "password", "camille.rousseau", "short"):
        with pytest.raises(ValidationError) as refused:
            accept(token, code, weak, weak)
        assert "password" in refused.value.message_dict, weak
    invitation.refresh_from_db()
    assert invitation.attempts == 0 and not User.objects.filter(role=Role.PATIENT).exists()


@pytest.mark.parametrize(
    ("change", "words", "status"),
    [
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "has expired", 410),
        ({"used_at": timezone.now()}, "used already", 410),
        ({"revoked_at": timezone.now()}, "replaced by a newer one", 410),
    ],
)
def test_a_closed_invitation_is_refused(
    invited: tuple[Invitation, str, str], change: dict[str, Any], words: str, status: int
) -> None:
    invitation, code, token = invited
    Invitation.objects.filter(pk=invitation.pk).update(**change)
    with pytest.raises(InvitationClosed, match=words) as closed:
        accepted(token, code)
    assert closed.value.status == status
    assert not PortalAccount.objects.exists()


def test_an_unknown_token_is_not_found(invited: tuple[Invitation, str, str]) -> None:
    _, code, token = invited
    with pytest.raises(InvitationClosed, match="not known") as closed:
        accepted(token[:-1] + ("A" if token[-1] != "A" else "B"), code)
    assert closed.value.status == 404


def test_an_invitation_works_once(invited: tuple[Invitation, str, str]) -> None:
    _, code, token = invited
    accepted(token, code)
    with pytest.raises(InvitationClosed, match="used already"):
        accepted(token, code)
    assert User.objects.filter(role=Role.PATIENT).count() == 1


def test_a_record_changed_since_the_invitation_is_refused(
    patient: Patient, alice: User, invited: tuple[Invitation, str, str]
) -> None:
    _, code, token = invited
    Patient.objects.filter(pk=patient.pk).update(email="someone.else@example.org")
    with pytest.raises(InvitationClosed, match="record has changed"):
        accepted(token, code)
    Patient.objects.filter(pk=patient.pk).update(email="camille.rousseau@example.org")
    erase_patient(Patient.objects.get(pk=patient.pk), actor=alice, reason="Asked.")
    with pytest.raises(InvitationClosed):
        accepted(token, code)
    assert not PortalAccount.objects.exists()


def test_an_address_taken_meanwhile_is_refused(
    bob: User, invited: tuple[Invitation, str, str]
) -> None:
    _, code, token = invited
    portal_user(make_patient(bob, email="camille.rousseau@example.org"))
    with pytest.raises(ValidationError, match="already signs in to another account"):
        accepted(token, code)
    assert PortalAccount.objects.count() == 1  # clinic B's only
    assert Invitation.objects.get(token_digest=invitations.token_digest(token)).used_at is None


# --- the invitation page ------------------------------------------------------------------------


def invitation_url(token: str) -> str:
    return reverse("portal:invitation", kwargs={"token": token})


def test_the_invitation_page_asks_for_the_code_and_a_password(
    client: Client, invited: tuple[Invitation, str, str]
) -> None:
    page = client.get(invitation_url(invited[2]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Clinique des Tilleuls" in html and "camille.rousseau@example.org" in html
    for name in ("code", "password", "password2"):
        assert f'name="{name}"' in html
    assert 'autocomplete="new-password"' in html and 'autocomplete="one-time-code"' in html
    assert "no-store" in page["Cache-Control"]


def test_the_invitation_page_is_in_the_patients_language_and_the_clinics_time(
    client: Client, patient: Patient, asha: User
) -> None:
    patient.preferred_language = "fr"
    patient.save()
    invitation, _ = invite(patient, asha)
    page = client.get(invitation_url(last_token()))
    assert page["Content-Language"] == "fr"
    with translation.override("fr"):
        expires = date_format(
            timezone.localtime(invitation.expires_at, patient.clinic.tz), "DATETIME_FORMAT"
        )
    assert expires in page.content.decode()
    assert '<html lang="fr">' in page.content.decode()


def test_accepting_on_the_page_signs_the_patient_in(
    client: Client, patient: Patient, invited: tuple[Invitation, str, str]
) -> None:
    patient.preferred_language = "fr"
    patient.save()
    _, code, token = invited
    response = client.post(
        invitation_url(token), {"code": code, "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert response.cookies["django_language"].value == "fr"
    user = User.objects.get(username="camille.rousseau@example.org")
    assert int(client.session["_auth_user_id"]) == user.pk
    assert client.get(reverse("portal:account")).status_code == 200


def test_a_wrong_code_on_the_page_is_a_form_error(
    client: Client, invited: tuple[Invitation, str, str]
) -> None:
    _, code, token = invited
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    response = client.post(
        invitation_url(token), {"code": wrong, "password": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "4 attempts left" in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="id_code_error"' in html
    assert not PortalAccount.objects.exists()


def test_an_empty_form_changes_nothing(
    client: Client, invited: tuple[Invitation, str, str]
) -> None:
    invitation, _, token = invited
    assert client.post(invitation_url(token), {}).status_code == 400
    invitation.refresh_from_db()
    assert invitation.attempts == 0 and not PortalAccount.objects.exists()


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, 410),
        ({"used_at": timezone.now()}, 410),
        ({"revoked_at": timezone.now()}, 410),
        ({"token_digest": "0" * 64}, 404),
    ],
)
def test_a_link_that_no_longer_works_says_to_ask_the_clinic(
    client: Client, invited: tuple[Invitation, str, str], change: dict[str, Any], status: int
) -> None:
    invitation, code, token = invited
    Invitation.objects.filter(pk=invitation.pk).update(**change)
    for response in (
        client.get(invitation_url(token)),
        client.post(
            invitation_url(token),
            {"code": code, "password": NEW_PASSWORD, "password2": NEW_PASSWORD},
        ),
    ):
        assert response.status_code == status
        html = response.content.decode()
        assert "cannot be used" in html and "new invitation" in html
        assert 'name="password"' not in html
    assert not PortalAccount.objects.exists()


# --- the staff page and the status on the record --------------------------------------------


def invite_url(patient: Patient) -> str:
    return reverse("portal:invite", kwargs={"patient_pk": patient.pk})


def test_staff_see_the_status_and_send_an_invitation(
    client_for: ClientFor, asha: User, patient: Patient
) -> None:
    client = client_for(asha)
    page = client.get(invite_url(patient))
    assert page.status_code == 200
    assert "Not invited to the portal yet." in page.content.decode()

    response = client.post(invite_url(patient))

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    html = response.content.decode()
    shown = re.search(
        r'class="invite-code".*?<code class="secret">(\d{3}) (\d{3})</code>', html, re.DOTALL
    )
    assert shown, html
    code = shown.group(1) + shown.group(2)
    assert "c\u2022\u2022\u2022@example.org" in html and "Invited on" in html
    # The code shown is the one that opens the invitation.
    assert accepted(last_token(), code).username == "camille.rousseau@example.org"
    # Shown once: the page opened again does not have it.
    assert "invite-code" not in client.get(invite_url(patient)).content.decode()


def test_a_refused_invitation_is_said_on_the_page(
    client_for: ClientFor, asha: User, patient: Patient
) -> None:
    Patient.objects.filter(pk=patient.pk).update(email="")
    response = client_for(asha).post(invite_url(patient))
    assert response.status_code == 400
    assert "email address first" in response.content.decode()
    assert not Invitation.objects.exists()


def test_staff_of_another_clinic_find_no_such_patient(
    client_for: ClientFor, clinic_b: Clinic, patient: Patient
) -> None:
    bea = create_user("bea.assistant", Role.ASSISTANT, clinic_b)
    client = client_for(bea)
    assert client.get(invite_url(patient)).status_code == 404
    assert client.post(invite_url(patient)).status_code == 404
    assert not Invitation.objects.exists() and not mail.outbox


def test_patients_and_researchers_are_refused_the_staff_page(
    client_for: ClientFor, rhea: User, patient: Patient, portal: Client
) -> None:
    for client in (portal, client_for(rhea)):
        assert client.get(invite_url(patient)).status_code == 403
        assert client.post(invite_url(patient)).status_code == 403
    assert not Invitation.objects.exists()


def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client: Client, patient: Patient) -> None:
    response = client.post(invite_url(patient))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_record_shows_the_portal_status(
    client_for: ClientFor, asha: User, rhea: User, patient: Patient
) -> None:
    client = client_for(asha)
    detail = reverse("patients:detail", kwargs={"pk": patient.pk})
    html = client.get(detail).content.decode()
    assert "Portal: not invited" in html and f'href="{invite_url(patient)}"' in html

    invitation, code = invite(patient, asha)
    html = client.get(detail).content.decode()
    assert (
        f"Portal: invited on {timezone.localdate(invitation.created_at, patient.clinic.tz):%Y-%m-%d}"
        in html
    )
    assert (
        f"expires {timezone.localdate(invitation.expires_at, patient.clinic.tz):%Y-%m-%d}" in html
    )

    accepted(last_token(), code)
    html = client.get(detail).content.decode()
    assert "Portal: account active since" in html
