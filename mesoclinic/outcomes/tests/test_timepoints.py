"""Time points follow the clinic's calendar: a measurement at 23:30 and one at 00:30 fall on
the days a person in the clinic would name, across a change to summer time too."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from mesoclinic.charts import services as charts
from mesoclinic.charts.testing import ready_session
from mesoclinic.clinics.models import User
from mesoclinic.courses import plans
from mesoclinic.courses.models import CoursePlan
from mesoclinic.outcomes.models import TimePoint
from mesoclinic.outcomes.testing import held_session, measure
from mesoclinic.outcomes.timepoints import HeldSession, time_point, time_point_of

PARIS = ZoneInfo("Europe/Paris")


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def charted(number: int, day: date, hour: int = 10) -> HeldSession:
    return HeldSession(number, at(day, hour), day, at(day, hour), chart_id=number)


def uncharted(number: int, day: date) -> HeldSession:
    return HeldSession(number, at(day, 10), day, at(day + timedelta(1), 0), chart_id=None)


def test_before_any_session_is_baseline() -> None:
    assert time_point([], False, at(date(2026, 3, 2), 9), PARIS) == (TimePoint.BASELINE, None)


def test_on_the_first_day_the_chart_start_divides_baseline_from_session_1() -> None:
    held = [charted(1, date(2026, 3, 2))]
    assert time_point(held, False, at(date(2026, 3, 2), 9, 50), PARIS) == (TimePoint.BASELINE, None)
    assert time_point(held, False, at(date(2026, 3, 2), 10, 30), PARIS) == (TimePoint.SESSION, 1)


def test_without_a_chart_start_the_whole_local_day_is_before_the_session() -> None:
    held = [uncharted(1, date(2026, 3, 2))]
    # 23:30 in Paris is 22:30 UTC, and 00:30 the next day is still 23:30 UTC on the 2nd.
    assert time_point(held, False, at(date(2026, 3, 2), 23, 30), PARIS) == (
        TimePoint.BASELINE,
        None,
    )
    assert time_point(held, False, at(date(2026, 3, 3), 0, 30), PARIS) == (TimePoint.SESSION, 1)


def test_between_sessions_is_the_last_session_held() -> None:
    held = [charted(1, date(2026, 3, 2)), charted(2, date(2026, 3, 16))]
    assert time_point(held, False, at(date(2026, 3, 10), 12), PARIS) == (TimePoint.SESSION, 1)
    assert time_point(held, False, at(date(2026, 3, 16), 9), PARIS) == (TimePoint.SESSION, 1)
    assert time_point(held, False, at(date(2026, 3, 20), 12), PARIS) == (TimePoint.SESSION, 2)
    # Long after, while the course is not over, it is still after session 2.
    assert time_point(held, False, at(date(2026, 9, 1), 12), PARIS) == (TimePoint.SESSION, 2)


LAST = date(2026, 2, 15)  # 42 days later is 29 March 2026, when Paris moves to summer time


@pytest.mark.parametrize(
    ("day", "hour", "minute", "expected"),
    [
        (LAST, 11, 0, TimePoint.END),
        (LAST + timedelta(42), 23, 30, TimePoint.END),
        (LAST + timedelta(43), 0, 30, TimePoint.UNSCHEDULED),
        (LAST + timedelta(60), 23, 59, TimePoint.UNSCHEDULED),
        (LAST + timedelta(61), 0, 0, TimePoint.MONTH_3),
        (LAST + timedelta(136), 12, 0, TimePoint.MONTH_3),
        (LAST + timedelta(137), 12, 0, TimePoint.MONTH_6),
        (LAST + timedelta(273), 12, 0, TimePoint.MONTH_6),
        (LAST + timedelta(274), 12, 0, TimePoint.MONTH_12),
        (LAST + timedelta(456), 23, 30, TimePoint.MONTH_12),
        (LAST + timedelta(457), 0, 30, TimePoint.UNSCHEDULED),
    ],
)
def test_after_the_course_the_windows_count_local_days(
    day: date, hour: int, minute: int, expected: TimePoint
) -> None:
    held = [charted(1, LAST - timedelta(14)), charted(2, LAST)]
    assert time_point(held, True, at(day, hour, minute), PARIS) == (expected, None)


def test_the_dst_change_moves_no_boundary() -> None:
    """29 March 2026 has 23 hours in Paris: counted in hours from the session, 23:30 on day
    42 would already be past 42 days; counted in local days, it is not."""
    held = [charted(1, LAST, hour=23)]
    late = at(LAST + timedelta(42), 23, 30)
    assert late - held[0].begins_at < timedelta(days=42, hours=1)
    assert time_point(held, True, late, PARIS) == (TimePoint.END, None)
    assert time_point(held, True, at(LAST + timedelta(43), 0, 5), PARIS)[0] == TimePoint.UNSCHEDULED


# --- from the course's own sessions ---------------------------------------------------------


def test_time_points_from_the_sessions_held_in_the_clinics_zone(
    thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    clinic = thigh_plan.clinic
    assert clinic.time_zone == "Europe/Paris"
    first = clinic.today() - timedelta(days=60)
    held_session(thigh_plan, bookable_pat, at(first, 10))
    second = first + timedelta(days=14)
    held_session(thigh_plan, bookable_pat, at(second, 10), session_number=2)

    assert time_point_of(thigh_plan, at(first - timedelta(1), 23, 30)) == (TimePoint.BASELINE, None)
    # Attended but not charted: its day counts as before it, up to midnight in Paris.
    assert time_point_of(thigh_plan, at(first, 23, 30)) == (TimePoint.BASELINE, None)
    assert time_point_of(thigh_plan, at(first + timedelta(1), 0, 30)) == (TimePoint.SESSION, 1)
    assert time_point_of(thigh_plan, at(second + timedelta(3), 12)) == (TimePoint.SESSION, 2)

    plans.complete_plan(thigh_plan, bookable_pat)
    assert time_point_of(thigh_plan, at(second + timedelta(10), 12)) == (TimePoint.END, None)
    stored = measure(thigh_plan, 6, at(second + timedelta(10), 12), bookable_pat)
    assert (stored.time_point, stored.session_number) == (TimePoint.END, None)
    during = measure(thigh_plan, 8, at(first + timedelta(5), 12), bookable_pat)
    assert (during.time_point, during.session_number) == (TimePoint.SESSION, 1)
    assert timezone.is_aware(during.measured_at)


def test_a_measurement_on_a_charted_session_day_is_linked_to_its_chart(
    thigh_plan: CoursePlan, bookable_pat: User
) -> None:
    session = ready_session(thigh_plan, bookable_pat)
    chart = charts.start_chart(session, bookable_pat)
    measured = measure(thigh_plan, 7, session.starts_at, bookable_pat)
    assert measured.chart == chart
    assert measured.time_point == TimePoint.BASELINE  # the chart has recorded no start yet
