"""The reminders page: what goes out in the coming week and what failed, with a retry."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404
from mesoclinic.patients.services import record_list_view
from mesoclinic.reminders import services
from mesoclinic.reminders.models import Reminder


@requires(Perm.COURSE_VIEW)
def reminder_list(request: HttpRequest) -> HttpResponse:
    clinic = signed_in_user(request).clinic
    assert clinic is not None  # staff, as the permission requires
    due = list(services.reminders_due(clinic))
    failed = list(services.reminders_failed(clinic))
    record_list_view(request, list({r.patient_id: r.patient for r in due + failed}.values()))
    context = {
        "due": due,
        "failed": failed,
        "days": services.DUE_LIST_DAYS,
        "can_retry": has_perm(request.user, Perm.BOOKING_MANAGE, request),
    }
    return render(request, "reminders/list.html", context)


@requires(Perm.BOOKING_MANAGE)
@require_POST
def reminder_retry(request: HttpRequest, pk: int) -> HttpResponse:
    reminder = get_scoped_or_404(request, Reminder, pk=pk)
    try:
        services.retry(reminder, signed_in_user(request), request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"The reminder to {reminder.patient} will be sent again.")
    return redirect("reminders:list")
