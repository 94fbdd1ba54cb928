"""The administrator's clinic settings: the NSAID stop window and the paper size."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, User

VALID = {
    "name": "Clinique des Tilleuls",
    "address": "12 rue des Tilleuls, Paris",
    "phone": "+33 1 23 45 67 89",
    "email": "accueil@tilleuls.example",
    "time_zone": "Europe/Paris",
    "precare_window_days": "10",
    "paper_size": "letter",
}


def test_the_administrator_sets_the_window_and_the_paper(
    alice: User, clinic_a: Clinic, client_for: Callable[[User], Client]
) -> None:
    response = client_for(alice).post(reverse("clinics:settings"), VALID)

    assert response.status_code == 302
    clinic_a.refresh_from_db()
    assert (clinic_a.precare_window_days, clinic_a.paper_size) == (10, "letter")
    assert clinic_a.nsaid_window_days() == 10
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type="clinics.Clinic")
    assert "precare_window_days" in event.detail["fields"]


def test_an_empty_window_means_the_catalogues(
    catalogue: None, alice: User, clinic_a: Clinic, client_for: Callable[[User], Client]
) -> None:
    client_for(alice).post(reverse("clinics:settings"), VALID | {"precare_window_days": ""})

    clinic_a.refresh_from_db()
    assert clinic_a.precare_window_days is None
    assert clinic_a.nsaid_window_days() == 7


def test_a_window_out_of_range_is_refused(
    alice: User, clinic_a: Clinic, client_for: Callable[[User], Client]
) -> None:
    response = client_for(alice).post(
        reverse("clinics:settings"), VALID | {"precare_window_days": "60"}
    )

    assert response.status_code == 400
    assert "less than or equal to 28" in response.content.decode()
    clinic_a.refresh_from_db()
    assert clinic_a.precare_window_days is None


def test_only_the_administrator_changes_settings(
    pat: User, clinic_a: Clinic, client_for: Callable[[User], Client]
) -> None:
    response = client_for(pat).post(reverse("clinics:settings"), VALID)

    assert response.status_code == 403
    clinic_a.refresh_from_db()
    assert clinic_a.precare_window_days is None
