"""A clinic's portal rules, with the defaults for a clinic that has not set its own."""

from __future__ import annotations

from mesoclinic.clinics.models import Clinic
from mesoclinic.portal.models import PortalRules


def rules_of(clinic: Clinic) -> PortalRules:
    found = PortalRules.objects.filter(clinic=clinic).first()
    return found if found is not None else PortalRules(clinic=clinic)
