"""``{% portal_access patient %}``: the patient's portal status on the staff record page, with
a link to invite them for those who may."""

from __future__ import annotations

from typing import Any

from django import template

from mesoclinic.clinics.permissions import Perm, has_perm
from mesoclinic.patients.models import Patient, PortalAccount
from mesoclinic.portal.invitations import open_invitation_of

register = template.Library()


@register.inclusion_tag("portal/access/portal_access.html", takes_context=True)
def portal_access(context: template.Context, patient: Patient) -> dict[str, Any]:
    request = context.get("request")
    account = PortalAccount.objects.filter(patient=patient).first()
    return {
        "patient": patient,
        "account": account,
        "invitation": None if account is not None else open_invitation_of(patient),
        "can_invite": request is not None
        and patient.erased_at is None
        and has_perm(request.user, Perm.PATIENT_EDIT, request),
    }
