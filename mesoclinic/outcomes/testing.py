"""Sessions held and measurements recorded, for the tests of this app and of those after it
(the API, the access checks, the browser tests)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.db import connection, transaction

from mesoclinic.catalogue.models import OutcomeScale
from mesoclinic.charts.testing import ready_session
from mesoclinic.clinics.models import User
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.outcomes import services
from mesoclinic.outcomes.models import Measurement, Rater

DEFAULT_SITE = "navel + 5 cm"


def held_session(
    plan: CoursePlan, staff: User, starts_at: datetime, *, session_number: int = 1
) -> Appointment:
    """Session ``session_number`` of ``plan``, attended at ``starts_at`` (in the past).

    Booked through the booking rules, then moved to ``starts_at`` by a direct UPDATE, since
    booking refuses past times."""
    appointment = ready_session(plan, staff, session_number=session_number)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=starts_at, ends_at=starts_at + timedelta(minutes=30)
    )
    appointment.refresh_from_db()
    return booking.record_attended(appointment, staff)


def measure(
    plan: CoursePlan,
    value: Decimal | int | str,
    measured_at: datetime,
    actor: User,
    *,
    scale: OutcomeScale | str | None = None,
    rater: str = Rater.PRACTITIONER,
    rated_by: User | None = None,
    site: str | None = None,
) -> Measurement:
    """A measurement on ``scale`` (a code, or the course's primary scale), recorded through
    the service; a scale that needs a site gets DEFAULT_SITE unless one is given."""
    if scale is None:
        scale = plan.indication.primary_scale
    elif isinstance(scale, str):
        scale = OutcomeScale.objects.get(code=scale)
    if site is None:
        site = DEFAULT_SITE if services.site_required(scale) else ""
    return services.record_measurement(
        plan, scale, value, measured_at, rater, rated_by or actor, actor, site=site
    )


def remove_all_measurements() -> None:
    """Delete every measurement, for a test whose database is emptied row by row afterwards
    (``transactional_db`` on SQLite): measurements refuse deletion through the ORM, and they
    hold the charts that ``charts.testing.remove_all_charts`` removes next."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {Measurement._meta.db_table}")  # noqa: S608 (a model name)
