"""Whose record a patient's portal account opens: the one link the portal and every service
that a patient may call check."""

from __future__ import annotations

from mesoclinic.clinics.models import Role, User
from mesoclinic.patients.models import Patient, PortalAccount


def portal_patient(user: User) -> Patient | None:
    """The record ``user`` may see in the portal, or None: only an active patient account
    linked to a record of its own clinic that has not been erased."""
    if (
        not user.is_authenticated
        or user.role != Role.PATIENT
        or not user.is_active
        or user.clinic_id is None
    ):
        return None
    account = (
        PortalAccount.objects.select_related("patient__clinic")
        .filter(user=user, patient__erased_at__isnull=True, patient__clinic_id=user.clinic_id)
        .first()
    )
    return account.patient if account is not None else None


def owns(user: User, patient_id: int) -> bool:
    patient = portal_patient(user)
    return patient is not None and patient.pk == patient_id
