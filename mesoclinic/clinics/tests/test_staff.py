from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from mesoclinic.clinics.models import AuditAction, AuditEvent, Role, User
from mesoclinic.clinics.testing import PASSWORD, sign_in

ClientFor = Callable[[User], Client]
NEW_MEMBER = {
    "username": "noor.assistant",
    "first_name": "Noor",
    "last_name": "Haddad",
    "email": "noor@example.org",
    "role": Role.ASSISTANT.value,
    "password": "tilleul-mesange-42-orage",
}


def test_staff_list_shows_roles_and_licence_status_of_own_clinic_only(
    client_for: ClientFor, alice: User, pat: User, asha: User, bob: User
) -> None:
    response = client_for(asha).get(reverse("clinics:staff"))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Pat Practitioner" in page and "Practitioner" in page
    assert "has no licence on record" in page
    assert "Bob" not in page
    # An assistant sees the list but not the administrator's buttons.
    assert reverse("clinics:staff-add") not in page


def test_admin_adds_a_staff_member_with_a_valid_password(
    client_for: ClientFor, alice: User
) -> None:
    response = client_for(alice).post(reverse("clinics:staff-add"), NEW_MEMBER)
    member = User.objects.get(username="noor.assistant")
    assert response.status_code == 302
    assert member.clinic == alice.clinic and member.role == Role.ASSISTANT
    assert member.check_password(NEW_MEMBER["password"])
    event = AuditEvent.objects.get(action=AuditAction.CREATE, object_id=str(member.pk))
    assert event.actor == alice and event.clinic_id == alice.clinic_id


@pytest.mark.parametrize("password", ["password", "12345678901", "noor.assistant", "short"])
def test_a_weak_password_is_refused_and_nothing_is_created(
    client_for: ClientFor, alice: User, password: str
) -> None:
    response = client_for(alice).post(
        reverse("clinics:staff-add"), NEW_MEMBER | {"password": password}
    )
    assert response.status_code == 200
    assert response.context["form"].errors["password"]
    assert not User.objects.filter(username="noor.assistant").exists()


def test_a_taken_username_is_refused(client_for: ClientFor, alice: User, pat: User) -> None:
    response = client_for(alice).post(
        reverse("clinics:staff-add"), NEW_MEMBER | {"username": "PAT.practitioner"}
    )
    assert "is taken" in response.content.decode()
    assert User.objects.count() == 2


def test_a_patient_role_cannot_be_given_from_the_staff_page(
    client_for: ClientFor, alice: User
) -> None:
    response = client_for(alice).post(
        reverse("clinics:staff-add"), NEW_MEMBER | {"role": "patient"}
    )
    assert response.context["form"].errors["role"]
    assert not User.objects.filter(username="noor.assistant").exists()


@pytest.mark.parametrize("who", ["pat", "asha"])
def test_only_an_administrator_manages_staff(
    client_for: ClientFor, alice: User, pat: User, asha: User, who: str
) -> None:
    client = client_for({"pat": pat, "asha": asha}[who])
    assert client.post(reverse("clinics:staff-add"), NEW_MEMBER).status_code == 403
    assert client.post(reverse("clinics:staff-deactivate", args=[alice.pk])).status_code == 403
    assert (
        client.post(
            reverse("clinics:staff-role", args=[alice.pk]), {"role": "assistant"}
        ).status_code
        == 403
    )
    alice.refresh_from_db()
    assert alice.is_active and alice.role == Role.ADMIN
    assert not User.objects.filter(username="noor.assistant").exists()


def test_admin_changes_a_role_and_the_old_sessions_end(
    client_for: ClientFor, alice: User, asha: User
) -> None:
    asha_client = client_for(asha)
    response = client_for(alice).post(
        reverse("clinics:staff-role", args=[asha.pk]), {"role": Role.PRACTITIONER.value}
    )
    assert response.status_code == 302
    asha.refresh_from_db()
    assert asha.role == Role.PRACTITIONER
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE,
        object_id=str(asha.pk),
        detail__role=["assistant", "practitioner"],
    ).exists()
    assert asha_client.get(reverse("home")).status_code == 302  # to the sign-in page


def test_admin_deactivates_never_deletes(client_for: ClientFor, alice: User, pat: User) -> None:
    pat_client = client_for(pat)
    client_for(alice).post(reverse("clinics:staff-deactivate", args=[pat.pk]))
    pat.refresh_from_db()
    assert not pat.is_active
    assert pat_client.get(reverse("home")).status_code == 302
    refused = Client().post(reverse("login"), {"username": pat.username, "password": PASSWORD})
    assert refused.status_code == 200 and "_auth_user_id" not in refused.wsgi_request.session
    assert AuditEvent.objects.filter(
        object_id=str(pat.pk), detail__is_active=[True, False]
    ).exists()


def test_an_admin_cannot_deactivate_themselves(client_for: ClientFor, alice: User) -> None:
    client_for(alice).post(reverse("clinics:staff-deactivate", args=[alice.pk]))
    alice.refresh_from_db()
    assert alice.is_active


def test_reset_two_factor_makes_the_member_set_it_up_again(
    client_for: ClientFor, alice: User, asha: User
) -> None:
    asha_client = client_for(asha)
    assert TOTPDevice.objects.filter(user=asha).exists()
    client_for(alice).post(reverse("clinics:staff-reset-two-factor", args=[asha.pk]))
    assert not TOTPDevice.objects.filter(user=asha).exists()
    assert asha_client.get(reverse("home")).status_code == 302
    asha.refresh_from_db()
    fresh = sign_in(Client(), asha, second_factor=False)
    response = fresh.get(reverse("account:two-factor"))
    assert response.context["setting_up"]
    assert AuditEvent.objects.filter(object_id=str(asha.pk), detail__two_factor_reset=1).exists()


def test_an_admin_of_clinic_a_cannot_reach_clinic_b_staff(
    client_for: ClientFor, alice: User, bob: User
) -> None:
    TOTPDevice.objects.create(user=bob, name="phone", confirmed=True)
    client = client_for(alice)
    assert client.get(reverse("clinics:staff-detail", args=[bob.pk])).status_code == 404
    for name in ("staff-deactivate", "staff-reset-two-factor"):
        assert client.post(reverse(f"clinics:{name}", args=[bob.pk])).status_code == 404
    assert (
        client.post(reverse("clinics:staff-role", args=[bob.pk]), {"role": "assistant"}).status_code
        == 404
    )
    bob.refresh_from_db()
    assert bob.is_active and bob.role == Role.PRACTITIONER
    assert TOTPDevice.objects.filter(user=bob).count() == 1


def test_researcher_without_a_clinic_sees_no_staff(client_for: ClientFor, rhea: User) -> None:
    assert client_for(rhea).get(reverse("clinics:staff")).status_code == 403


def test_a_member_page_shows_admin_actions_to_admins_only(
    client_for: ClientFor, alice: User, pat: User, asha: User
) -> None:
    url = reverse("clinics:staff-detail", args=[pat.pk])
    admin_page = client_for(alice).get(url).content.decode()
    assert reverse("clinics:staff-deactivate", args=[pat.pk]) in admin_page
    assert "has no licence on record" in admin_page
    assistant_page = client_for(asha).get(url)
    assert assistant_page.status_code == 200
    assert reverse("clinics:staff-deactivate", args=[pat.pk]) not in assistant_page.content.decode()
