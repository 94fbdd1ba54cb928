"""Building portal accounts for tests, as accepting an invitation would leave them."""

from __future__ import annotations

from django.test import Client

from mesoclinic.clinics.models import Role, User
from mesoclinic.clinics.testing import PASSWORD
from mesoclinic.patients.models import Patient, PortalAccount


def portal_user(patient: Patient, *, password: str = PASSWORD) -> User:
    """The patient's portal account: signs in with their email address."""
    username = patient.email.strip().lower() or f"patient-{patient.pk}"
    user = User.objects.create_user(
        username=username,
        email=patient.email.strip().lower(),
        password=password,
        role=Role.PATIENT,
        clinic=patient.clinic,
        first_name=patient.given_name,
        last_name=patient.family_name,
    )
    PortalAccount.objects.create(patient=patient, user=user)
    return user


def portal_client(client: Client, patient: Patient) -> Client:
    """``client`` signed in as ``patient`` in the portal (an account is made if needed)."""
    account = PortalAccount.objects.filter(patient=patient).select_related("user").first()
    client.force_login(account.user if account is not None else portal_user(patient))
    return client
