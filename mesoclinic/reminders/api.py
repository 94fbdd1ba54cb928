"""The reminders outbox over the API, mounted at /api/v1/reminders/: list (by status) and
retry a failed one. A reminder of another clinic is 404; listing is audited, since each row
names a patient and their address."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from ninja import Field, Router, Schema

from mesoclinic.clinics.api_errors import invalid
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.patients.services import record_list_view
from mesoclinic.reminders import services
from mesoclinic.reminders.models import Channel, Reminder, ReminderKind, ReminderStatus

router = Router(tags=["reminders"])

PAGE_SIZE = 50


class ReminderOut(Schema):
    id: int
    patient_id: int
    appointment_id: int | None
    maintenance_id: int | None = Field(description="The maintenance recall it is about.")
    kind: ReminderKind
    channel: Channel
    recipient: str
    due_at: datetime
    status: ReminderStatus
    subject: str
    language: str
    attempts: int
    last_error: str = Field(description="Why the last attempt failed, or why it was cancelled.")
    next_attempt_at: datetime
    sent_at: datetime | None
    created_at: datetime

    @staticmethod
    def resolve_language(obj: Reminder) -> str:
        return str(obj.payload.get("language", ""))


class ReminderPage(Schema):
    count: int
    page: int
    pages: int
    items: list[ReminderOut]


@router.get("/", response=ReminderPage, summary="Reminders")
@api_requires(Perm.COURSE_VIEW)
def list_reminders(
    request: HttpRequest, status: ReminderStatus | None = None, page: int = 1
) -> dict[str, Any]:
    """By due time, most recent first; ``status``: only those in that state (``failed``:
    the ones to look at)."""
    reminders = scoped(request, Reminder).order_by("-due_at", "-pk")
    if status is not None:
        reminders = reminders.filter(status=status)
    count = reminders.count()
    pages = max(1, math.ceil(count / PAGE_SIZE))
    page = min(max(page, 1), pages)
    items = list(reminders.select_related("patient")[(page - 1) * PAGE_SIZE : page * PAGE_SIZE])
    record_list_view(request, list({r.patient_id: r.patient for r in items}.values()))
    return {"count": count, "page": page, "pages": pages, "items": items}


@router.post("/{reminder_id}/retry", response=ReminderOut, summary="Retry a failed reminder")
@api_requires(Perm.BOOKING_MANAGE)
def retry_reminder(request: HttpRequest, reminder_id: int) -> Reminder:
    """Sends it again from a fresh count of attempts, to the patient's current address. 422
    when it has not failed, its session has already started, or there is no address."""
    reminder = get_scoped_or_404(request, Reminder, pk=reminder_id)
    try:
        return services.retry(reminder, signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None
