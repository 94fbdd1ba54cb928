"""Signed sessions to follow up, for the tests of this app and of those after it (outcomes,
the API, the demo's checks, the browser tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from mesoclinic.charts import services as charts
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session, simple_draft
from mesoclinic.clinics.models import User
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.followup.models import AdverseEvent, EventPhoto, Flag, FollowUp
from mesoclinic.followup.services import FOLLOW_UP_QUESTIONS
from mesoclinic.formulas.models import Lot

# simple_draft charts a session of 15 minutes from the appointment's start.
SESSION = timedelta(minutes=15)


def signed_chart(
    plan: CoursePlan,
    staff: User,
    lot: Lot,
    *,
    ended_at: datetime | None = None,
    session_number: int = 1,
) -> Chart:
    """The chart of session ``session_number`` of ``plan``, one syringe of ``lot`` into the
    forehead, signed by the plan's practitioner, the session having ended at ``ended_at``
    (by default 5 minutes ago).

    The appointment is moved into the past by a direct UPDATE before the chart starts, as
    ``ready_session`` does: a signed chart can no longer be moved. Sessions of one
    practitioner must not overlap (30 minutes each)."""
    appointment = ready_session(plan, staff, session_number=session_number)
    if ended_at is not None:
        starts_at = ended_at - SESSION
        Appointment.objects.filter(pk=appointment.pk).update(
            starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30)
        )
        appointment.refresh_from_db()
    practitioner = plan.practitioner
    chart = charts.start_chart(appointment, practitioner)
    charts.save_draft(chart, simple_draft(chart, lot), practitioner)
    return charts.sign_as(chart, practitioner)


def hours_ago(hours: float) -> datetime:
    return timezone.now() - timedelta(hours=hours)


def no_answers(**present: int) -> dict[str, int]:
    """The answers of a follow-up: 0 (none) for every question, but those given."""
    return {code: 0 for code, _ in FOLLOW_UP_QUESTIONS} | present


def remove_all_follow_ups() -> None:
    """Delete every follow-up row, for a test whose database is emptied row by row afterwards
    (``transactional_db`` on SQLite): these rows refuse deletion through the ORM, and they
    hold the charts that ``charts.testing.remove_all_charts`` removes next."""
    models = (
        EventPhoto,
        Flag.history.model,  # type: ignore[attr-defined]
        Flag,
        AdverseEvent.history.model,  # type: ignore[attr-defined]
        AdverseEvent,
        FollowUp,
    )
    with transaction.atomic(), connection.cursor() as cursor:
        for model in models:
            cursor.execute(f"DELETE FROM {model._meta.db_table}")  # noqa: S608 (model names)
