from __future__ import annotations

from typing import Any

from django import template

from mesoclinic.clinics.models import Licence
from mesoclinic.clinics.permissions import Perm, has_perm
from mesoclinic.clinics.services import licence_alerts
from mesoclinic.clinics.tenancy import scoped

register = template.Library()


@register.inclusion_tag("clinics/_licence_alerts.html", takes_context=True)
def licence_alerts_panel(context: dict[str, Any]) -> dict[str, Any]:
    """For the home page: the administrator's reminder of licences to renew. Nothing for
    other roles, whose home page has no use for it."""
    request = context["request"]
    if not has_perm(request.user, Perm.LICENCE_MANAGE, request):
        return {"alerts": None}
    return {"alerts": licence_alerts(scoped(request, Licence), request.user.clinic.today())}
