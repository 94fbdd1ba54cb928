"""The demo's portal accounts: one patient per clinic signs in with the demo password and
sees their own record."""

from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory
from django.urls import reverse

from mesoclinic.clinics.models import Role
from mesoclinic.demo.accounts import DEMO_PASSWORD
from mesoclinic.demo.generator import DEFAULT_PATIENTS, DEFAULT_SEED, build_demo
from mesoclinic.demo.portal import demo_patient_logins
from mesoclinic.demo.tests.test_generator import TODAY
from mesoclinic.patients.accounts import portal_patient
from mesoclinic.patients.models import PortalAccount

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def test_one_patient_of_each_clinic_signs_in_to_the_portal(client: Client) -> None:
    summary = build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)

    accounts = list(PortalAccount.objects.select_related("user", "patient"))
    assert summary.portal_accounts == len(accounts) == 2
    assert {a.patient.clinic_id for a in accounts} == {c.pk for c in summary.clinics}
    request = RequestFactory().post("/portal/login/")
    for account in accounts:
        user = authenticate(request, username=account.user.username, password=DEMO_PASSWORD)
        assert user == account.user and user.role == Role.PATIENT
        assert portal_patient(user) == account.patient
        # Chosen to have something to show: a session coming.
        assert account.patient.appointments.filter(starts_at__date__gt=TODAY).exists()
    assert [login for login, _ in demo_patient_logins()] == [a.user.username for a in accounts]

    client.force_login(accounts[0].user)
    page = client.get(reverse("portal:home"))
    assert page.status_code == 200
    assert accounts[0].patient.given_name in page.content.decode()
