from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from mesoclinic.clinics.models import ApiToken, AuditAction, AuditEvent, User
from mesoclinic.clinics.testing import PASSWORD, sign_in
from mesoclinic.clinics.tokens import create_token

ClientFor = Callable[[User], Client]
STAFF_PAGES = ("home", "clinics:staff", "clinics:licences", "account:index")


def code_of(device: TOTPDevice, offset: int = 0) -> str:
    return (
        f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift + offset):06d}"
    )


def sign_in_with_password(client: Client, username: str, password: str = PASSWORD) -> Any:
    return client.post(reverse("login"), {"username": username, "password": password})


# Lockout.


def test_repeated_failures_lock_the_account_even_for_the_right_password(alice: User) -> None:
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = sign_in_with_password(client, alice.username, "wrong password")
        assert response.status_code == 200  # the form again, with its error
    locked = sign_in_with_password(client, alice.username, "wrong password")
    assert locked.status_code == 429
    assert "Sign-in locked" in locked.content.decode()
    refused = sign_in_with_password(Client(), alice.username, PASSWORD)
    assert refused.status_code == 429
    assert "_auth_user_id" not in refused.wsgi_request.session
    failures = AuditEvent.objects.filter(
        action=AuditAction.LOGIN_FAILED, detail__username=alice.username
    )
    assert failures.count() >= settings.AXES_FAILURE_LIMIT
    assert not AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=alice).exists()


def test_the_right_password_before_the_limit_signs_in(alice: User) -> None:
    client = Client()
    sign_in_with_password(client, alice.username, "wrong password")
    response = sign_in_with_password(client, alice.username)
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor=alice).exists()


# Two-factor.


@pytest.fixture
def half_signed_in(asha: User) -> Client:
    """Asha after her password, before her code; she has a device already."""
    TOTPDevice.objects.create(user=asha, name="phone", confirmed=True)
    return sign_in(Client(), asha, second_factor=False)


def test_staff_without_a_second_factor_are_sent_to_it_everywhere(half_signed_in: Client) -> None:
    for name in STAFF_PAGES:
        response = half_signed_in.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(reverse("account:two-factor"))


def test_the_api_answers_403_without_a_second_factor(half_signed_in: Client) -> None:
    assert half_signed_in.get("/api/v1/clinic/staff").status_code == 403


def test_a_wrong_code_is_refused(half_signed_in: Client, asha: User) -> None:
    device = TOTPDevice.objects.get(user=asha)
    wrong = f"{(int(code_of(device)) + 1) % 1_000_000:06d}"
    response = half_signed_in.post(reverse("account:two-factor"), {"code": wrong})
    assert response.status_code == 200 and "not right" in response.content.decode()
    assert half_signed_in.get(reverse("home")).status_code == 302


def test_the_right_code_opens_the_pages_and_the_api(half_signed_in: Client, asha: User) -> None:
    device = TOTPDevice.objects.get(user=asha)
    response = half_signed_in.post(
        reverse("account:two-factor"), {"code": code_of(device), "next": "/clinic/staff/"}
    )
    assert response.status_code == 302 and response["Location"] == "/clinic/staff/"
    for name in STAFF_PAGES:
        assert half_signed_in.get(reverse(name)).status_code == 200, name
    assert half_signed_in.get("/api/v1/clinic/staff").status_code == 200


def test_first_sign_in_sets_up_a_device(asha: User) -> None:
    client = sign_in(Client(), asha, second_factor=False)
    page = client.get(reverse("account:two-factor"))
    assert page.context["setting_up"] and "<svg" in page.content.decode()
    device = TOTPDevice.objects.get(user=asha, confirmed=False)
    assert page.context["secret"] in page.content.decode()
    client.post(reverse("account:two-factor"), {"code": code_of(device)})
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("home")).status_code == 200


def test_researchers_need_no_second_factor(rhea: User) -> None:
    client = sign_in(Client(), rhea, second_factor=False)
    assert client.get(reverse("home")).status_code == 200


# API tokens.


def test_a_live_token_works_and_a_revoked_one_is_refused(pat: User) -> None:
    live, live_key = create_token(pat, "script")
    revoked, revoked_key = create_token(pat, "old laptop")
    revoked.revoked_at = revoked.created_at
    revoked.save()
    client = Client()
    response = client.get("/api/v1/clinic/staff", headers={"Authorization": f"Bearer {live_key}"})
    assert response.status_code == 200
    assert (
        client.get(
            "/api/v1/clinic/staff", headers={"Authorization": f"Bearer {revoked_key}"}
        ).status_code
        == 401
    )
    assert (
        client.get(
            "/api/v1/clinic/staff", headers={"Authorization": "Bearer mc_made-up"}
        ).status_code
        == 401
    )
    live.refresh_from_db()
    assert live.last_used_at is not None


def test_a_token_is_stored_hashed(pat: User) -> None:
    token, key = create_token(pat, "script")
    stored = [str(v) for v in ApiToken.objects.filter(pk=token.pk).values_list().get()]
    assert key not in stored and all(key not in value for value in stored)
    assert key.startswith(token.prefix)


def test_account_page_creates_shows_once_lists_and_revokes_tokens(
    client_for: ClientFor, pat: User, asha: User
) -> None:
    client = client_for(pat)
    created = client.post(reverse("account:token-create"), {"name": "export script"})
    key = created.context["new_key"]
    assert key in created.content.decode()
    token = ApiToken.objects.get(user=pat)
    page = client.get(reverse("account:index")).content.decode()
    assert "export script" in page and token.prefix in page and key not in page
    # Another user cannot revoke it.
    assert (
        client_for(asha).post(reverse("account:token-revoke", args=[token.pk])).status_code == 404
    )
    token.refresh_from_db()
    assert token.is_active
    client.post(reverse("account:token-revoke", args=[token.pk]))
    token.refresh_from_db()
    assert not token.is_active
    assert (
        Client().get("/api/v1/clinic/staff", headers={"Authorization": f"Bearer {key}"}).status_code
        == 401
    )
    assert AuditEvent.objects.filter(object_type="clinics.ApiToken", detail__revoked=True).exists()


def test_an_empty_token_name_is_refused(client_for: ClientFor, pat: User) -> None:
    response = client_for(pat).post(reverse("account:token-create"), {"name": ""})
    assert response.status_code == 200 and response.context["new_key"] is None
    assert not ApiToken.objects.exists()


# Sessions and passwords.


def test_logout_everywhere_ends_other_sessions(client_for: ClientFor, pat: User) -> None:
    laptop, phone = client_for(pat), client_for(pat)
    assert phone.get(reverse("home")).status_code == 200
    laptop.post(reverse("account:logout-everywhere"))
    for client in (laptop, phone):
        response = client.get(reverse("home"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_new_passwords_are_hashed_with_argon2(pat: User) -> None:
    assert pat.password.startswith("argon2$")


def test_change_password_uses_the_validators_and_keeps_this_session(
    client_for: ClientFor, pat: User
) -> None:
    client, other = client_for(pat), client_for(pat)
    url = reverse("account:password-change")
    weak = client.post(
        url, {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"}
    )
    assert weak.status_code == 200 and weak.context["form"].errors["new_password2"]
    new = "lavande-granit-7-colibri"
    response = client.post(
        url, {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 302
    pat.refresh_from_db()
    assert pat.check_password(new) and pat.password.startswith("argon2$")
    assert client.get(reverse("home")).status_code == 200
    assert other.get(reverse("home")).status_code == 302


def test_the_session_cookie_lasts_the_configured_inactivity(
    client_for: ClientFor, pat: User
) -> None:
    assert settings.SESSION_SAVE_EVERY_REQUEST
    response = client_for(pat).get(reverse("home"))
    cookie = response.cookies[settings.SESSION_COOKIE_NAME]
    assert int(cookie["max-age"]) == settings.SESSION_COOKIE_AGE == 30 * 60
