"""Signing in to the portal: by password (django-axes locks the address after five failures,
and the patient is told so in their words), by a code sent by email (wrong, expired, used,
throttled, and no way to learn who has an account), who may sign in here at all, where the
patient goes afterwards, signing out, and a patient on the staff sign-in."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation
from django_otp.plugins.otp_email.models import EmailDevice

from mesoclinic.clinics.models import AuditAction, AuditEvent, Role, User
from mesoclinic.clinics.testing import PASSWORD, create_user
from mesoclinic.patients.models import Patient
from mesoclinic.patients.services import erase_patient
from mesoclinic.portal import signin

EMAIL = "camille.rousseau@example.org"
LOGIN = reverse("portal:login")
ASK = reverse("portal:login-code")
VERIFY = reverse("portal:login-code-verify")


@pytest.fixture(autouse=True)
def fast_hashes(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def with_password(
    client: Client, email: str = EMAIL, password: str = PASSWORD, **extra: str
) -> Any:
    return client.post(LOGIN, {"email": email, "password": password, **extra})


def signed_in_as(client: Client) -> int | None:
    found = client.session.get("_auth_user_id")
    return int(found) if found is not None else None


# --- by password ------------------------------------------------------------------------------


def test_the_patient_signs_in_with_email_and_password(
    client: Client, patient: Patient, patient_user: User
) -> None:
    patient.preferred_language = "fr"
    patient.save()

    response = with_password(client, "  Camille.Rousseau@EXAMPLE.org ")

    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert signed_in_as(client) == patient_user.pk
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "fr"
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=patient_user).count() == 1


def test_the_sign_in_page_links_to_the_code(client: Client) -> None:
    page = client.get(LOGIN)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'href="{ASK}"' in html
    assert 'autocomplete="current-password"' in html and 'type="email"' in html


def test_a_wrong_password_is_refused_and_recorded(
    client: Client, patient: Patient, patient_user: User
) -> None:
    response = with_password(client, password="wrong password")
    assert response.status_code == 400
    html = response.content.decode()
    assert "The email address or the password is not right" in html
    assert 'aria-describedby="form-errors"' in html and 'id="form-errors"' in html
    assert signed_in_as(client) is None
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, detail__username=EMAIL)


def test_an_unknown_address_reads_as_a_wrong_password(client: Client, db: None) -> None:
    response = with_password(client, "nobody@example.org")
    assert response.status_code == 400
    assert "The email address or the password is not right" in response.content.decode()


def test_five_wrong_passwords_lock_the_address(
    client: Client, patient: Patient, patient_user: User
) -> None:
    for _ in range(django_settings.AXES_FAILURE_LIMIT - 1):
        assert with_password(client, password="wrong password").status_code == 400
    locked = with_password(client, password="wrong password")
    assert locked.status_code == 429
    html = locked.content.decode()
    # The portal's own words and page, not the staff lockout page.
    assert "signing in with a password is locked for 15 minutes" in html
    assert "sign in with a code sent by email" in html.lower()
    assert '<body class="portal">' in html
    # Even the right password, from anywhere.
    refused = with_password(Client(), password=PASSWORD)
    assert refused.status_code == 429
    assert "_auth_user_id" not in refused.wsgi_request.session
    failures = AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, detail__username=EMAIL)
    assert failures.count() >= django_settings.AXES_FAILURE_LIMIT + 1
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=patient_user).exists()


def test_staff_are_sent_to_the_staff_sign_in(client: Client, clinic_a: Any) -> None:
    staff = create_user("sam@example.org", Role.ASSISTANT, clinic_a)
    response = with_password(client, staff.username)
    assert response.status_code == 400
    assert "please use the staff sign-in" in response.content.decode()
    assert signed_in_as(client) is None
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN_FAILED, actor=staff, detail__portal="not a portal account"
    ).exists()


def test_a_patient_whose_record_was_erased_cannot_sign_in(
    client: Client, alice: User, patient: Patient, patient_user: User
) -> None:
    erase_patient(patient, actor=alice, reason="Asked to be forgotten.")
    response = with_password(client)
    # Erasure closed the account and removed the address: it is unknown now.
    assert response.status_code == 400
    assert "The email address or the password is not right" in response.content.decode()
    assert signed_in_as(client) is None


def test_a_deactivated_account_cannot_sign_in(
    client: Client, patient: Patient, patient_user: User
) -> None:
    User.objects.filter(pk=patient_user.pk).update(is_active=False)
    assert with_password(client).status_code == 400
    assert signed_in_as(client) is None


@pytest.mark.parametrize(
    ("target", "goes_to"),
    [
        ("/portal/account/", "/portal/account/"),
        ("/portal/account/access-log/?page=2", "/portal/account/access-log/?page=2"),
        ("https://evil.example/portal/account/", "/portal/"),
        ("//evil.example/portal/account/", "/portal/"),
        ("/patients/", "/portal/"),  # a staff page: the patient would be refused there
        ("/portal/sign-out/", "/portal/"),
    ],
)
def test_the_patient_goes_on_only_to_a_portal_page(
    client: Client, patient: Patient, patient_user: User, target: str, goes_to: str
) -> None:
    assert reverse("portal:home") == "/portal/"
    response = with_password(client, next=target)
    assert response.status_code == 302 and response["Location"] == goes_to


def test_a_portal_page_sends_the_visitor_to_sign_in_and_back(
    client: Client, patient: Patient, patient_user: User
) -> None:
    account = reverse("portal:account")
    sent = client.get(account)
    assert sent.status_code == 302 and sent["Location"] == f"{LOGIN}?next={account}"
    page = client.get(sent["Location"])
    assert f'name="next" value="{account}"' in page.content.decode()
    assert with_password(client, next=account)["Location"] == account


# --- by a code sent by email -------------------------------------------------------------------


def code_in(message: mail.EmailMessage) -> str:
    found = re.search(r"^\s+(\d{6})\s*$", str(message.body), re.MULTILINE)
    assert found, message.body
    return found.group(1)


def ask(client: Client, email: str = EMAIL) -> Any:
    return client.post(ASK, {"email": email})


def with_code(client: Client, code: str, email: str = EMAIL) -> Any:
    return client.post(VERIFY, {"email": email, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def test_the_patient_signs_in_with_a_code(
    client: Client, patient: Patient, patient_user: User
) -> None:
    asked = ask(client, "Camille.Rousseau@example.org")

    assert asked.status_code == 302 and asked["Location"] == VERIFY
    (message,) = mail.outbox
    assert message.to == [EMAIL]
    assert message.subject == "Your sign-in code"
    assert "Clinique des Tilleuls" in message.body and "10 minutes" in message.body
    page = client.get(VERIFY).content.decode()
    assert "If Camille.Rousseau@example.org has a portal account, we have sent a code" in page
    assert 'autocomplete="one-time-code"' in page

    response = with_code(client, code_in(message))

    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
    assert signed_in_as(client) == patient_user.pk
    assert response.cookies[django_settings.LANGUAGE_COOKIE_NAME].value == "en"
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=patient_user).count() == 1


def test_the_code_email_is_in_the_patients_language(
    client: Client, patient: Patient, patient_user: User
) -> None:
    patient.preferred_language = "fr"
    patient.save()
    languages = []
    send = EmailDevice.send_mail

    def spy(device: EmailDevice, body: str, **kwargs: Any) -> None:
        languages.append(translation.get_language())
        send(device, body, **kwargs)

    with mock.patch.object(EmailDevice, "send_mail", spy):
        ask(client)
    assert languages == ["fr"]
    assert code_in(mail.outbox[0])


def test_asking_for_a_code_does_not_tell_who_has_an_account(
    client: Client, clinic_a: Any, alice: User, patient: Patient, patient_user: User
) -> None:
    create_user("sam@example.org", Role.ASSISTANT, clinic_a)  # staff
    answers = []
    for email in (EMAIL, "nobody@example.org", "sam@example.org"):
        response = ask(Client(), email)
        answers.append((response.status_code, response["Location"]))
    assert answers == [(302, VERIFY)] * 3
    assert [message.to for message in mail.outbox] == [[EMAIL]]


def test_no_code_for_an_erased_record_or_a_deactivated_account(
    client: Client, alice: User, patient: Patient, patient_user: User
) -> None:
    User.objects.filter(pk=patient_user.pk).update(is_active=False)
    assert ask(client)["Location"] == VERIFY
    User.objects.filter(pk=patient_user.pk).update(is_active=True)
    erase_patient(patient, actor=alice, reason="Asked to be forgotten.")
    assert ask(client)["Location"] == VERIFY
    assert not mail.outbox


def test_no_code_once_the_clinic_has_changed_the_address(
    client: Client, patient: Patient, patient_user: User
) -> None:
    """The old inbox may be shared or lost: it no longer receives codes."""
    Patient.objects.filter(pk=patient.pk).update(email="camille.new@example.org")
    assert ask(client)["Location"] == VERIFY
    assert not mail.outbox


def test_a_wrong_code_is_refused_and_recorded(
    client: Client, patient: Patient, patient_user: User
) -> None:
    ask(client)
    response = with_code(client, wrong(code_in(mail.outbox[0])))
    assert response.status_code == 400
    html = response.content.decode()
    assert "This code is not right, or it is no longer valid" in html
    assert 'aria-invalid="true"' in html
    assert signed_in_as(client) is None
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN_FAILED, detail__username=EMAIL, detail__portal="email code"
    ).exists()


def test_a_code_for_an_address_without_an_account_reads_the_same(
    client: Client, patient: Patient, patient_user: User
) -> None:
    ask(client)
    code = code_in(mail.outbox[0])
    response = with_code(Client(), code, "nobody@example.org")
    assert response.status_code == 400
    assert "This code is not right, or it is no longer valid" in response.content.decode()


def test_an_expired_code_is_refused(client: Client, patient: Patient, patient_user: User) -> None:
    ask(client)
    device = EmailDevice.objects.get(user=patient_user)
    assert device.valid_until - timezone.now() > timedelta(minutes=9, seconds=50)
    EmailDevice.objects.filter(pk=device.pk).update(valid_until=timezone.now())
    assert with_code(client, code_in(mail.outbox[0])).status_code == 400
    assert signed_in_as(client) is None


def test_after_a_wrong_code_the_next_try_waits(
    client: Client, patient: Patient, patient_user: User
) -> None:
    ask(client)
    code = code_in(mail.outbox[0])
    with_code(client, wrong(code))
    # At once, even the right code is turned away: guesses are slowed down.
    assert with_code(client, code).status_code == 400
    assert signed_in_as(client) is None
    device = EmailDevice.objects.get(user=patient_user)
    assert device.throttling_failure_count >= 1
    EmailDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(minutes=1)
    )
    assert with_code(client, code).status_code == 302
    assert signed_in_as(client) == patient_user.pk


def test_a_code_works_once(client: Client, patient: Patient, patient_user: User) -> None:
    ask(client)
    code = code_in(mail.outbox[0])
    assert with_code(client, code).status_code == 302
    other = Client()
    assert with_code(other, code).status_code == 400
    assert signed_in_as(other) is None


def test_one_code_a_minute(client: Client, patient: Patient, patient_user: User) -> None:
    ask(client)
    ask(client)
    assert len(mail.outbox) == 1  # the first code still works
    EmailDevice.objects.filter(user=patient_user).update(
        last_generated_timestamp=timezone.now() - timedelta(minutes=2)
    )
    ask(client)
    assert len(mail.outbox) == 2
    # The newer code replaces the older.
    old, new = code_in(mail.outbox[0]), code_in(mail.outbox[1])
    if old != new:
        assert with_code(Client(), old).status_code == 400
        EmailDevice.objects.filter(user=patient_user).update(throttling_failure_timestamp=None)
    assert with_code(client, new).status_code == 302


def test_the_code_pages_open_without_signing_in(client: Client, db: None) -> None:
    for url in (ASK, VERIFY):
        assert client.get(url).status_code == 200
    assert "works for 10 minutes" in client.get(ASK).content.decode()
    assert client.post(ASK, {"email": "not an address"}).status_code == 400
    assert not mail.outbox


def test_signing_in_by_code_goes_on_to_the_page_asked_for(
    client: Client, patient: Patient, patient_user: User
) -> None:
    account = reverse("portal:account")
    client.post(ASK, {"email": EMAIL, "next": account})
    assert with_code(client, code_in(mail.outbox[0]))["Location"] == account


def test_the_service_functions_directly(rf: Any, patient: Patient, patient_user: User) -> None:
    request = rf.post("/")
    request.session = {}
    assert signin.by_password(request, EMAIL.upper(), PASSWORD) == (patient_user, patient)
    with pytest.raises(signin.SignInRefused) as refused:
        signin.by_code(request, EMAIL, "000000")
    assert not refused.value.locked


# --- signing out, and the staff sign-in -----------------------------------------------------


def test_signing_out_takes_a_post(portal: Client) -> None:
    url = reverse("portal:logout")
    assert portal.get(url).status_code == 405
    assert signed_in_as(portal) is not None
    response = portal.post(url)
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert signed_in_as(portal) is None
    assert portal.get(reverse("portal:account"))["Location"].startswith(LOGIN)


def test_a_patient_on_the_staff_sign_in_goes_to_the_portal(
    client: Client, patient: Patient, patient_user: User
) -> None:
    response = client.post(reverse("login"), {"username": EMAIL, "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("portal:home")
    assert response.status_code == 200


def test_a_patient_opening_the_staff_home_goes_to_the_portal(portal: Client) -> None:
    response = portal.get(reverse("home"))
    assert response.status_code == 302 and response["Location"] == reverse("portal:home")
