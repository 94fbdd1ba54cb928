"""The course timeline, computed from rows built in memory: which session is done, booked,
due, overdue, missed or not given, and when an unbooked one falls due."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from itertools import count

from django.utils import timezone

from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses import booking
from mesoclinic.courses.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    MaintenanceRecall,
    MaintenanceStatus,
)
from mesoclinic.courses.timeline import SessionState, build_timeline, plan_timeline

TODAY = date(2027, 3, 10)  # a Wednesday
CLINIC = Clinic(name="Clinique", slug="c", time_zone="Europe/Paris")
_ids = count(1)


def make_plan(status: CourseStatus = CourseStatus.ACTIVE, sessions: int = 6) -> CoursePlan:
    return CoursePlan(
        clinic=CLINIC,
        sessions_planned=sessions,
        interval_days=14,
        tolerance_days=3,
        session_minutes=30,
        maintenance_per_year=1,
        status=status,
    )


def session(
    number: int | None,
    day: date,
    status: AppointmentStatus = AppointmentStatus.BOOKED,
    kind: AppointmentKind = AppointmentKind.SESSION,
) -> Appointment:
    starts = datetime.combine(day, time(10), tzinfo=CLINIC.tz)
    return Appointment(
        pk=next(_ids),
        session_number=number,
        starts_at=starts,
        ends_at=starts + timedelta(minutes=30),
        status=status,
        kind=kind,
    )


def days(n: int) -> timedelta:
    return timedelta(days=n)


def test_a_course_not_yet_booked_is_all_due_with_no_date() -> None:
    timeline = build_timeline(make_plan(CourseStatus.PLANNED), [], [], TODAY)
    assert [e.state for e in timeline.sessions] == [SessionState.DUE] * 6
    assert {e.expected_on for e in timeline.sessions} == {None}


def test_sessions_held_then_the_rest_expected_an_interval_after_the_one_before() -> None:
    first = session(1, TODAY - days(28), AppointmentStatus.ATTENDED)
    second = session(2, TODAY - days(14), AppointmentStatus.ATTENDED)
    third = session(3, TODAY + days(1))
    timeline = build_timeline(make_plan(), [third, first, second], [], TODAY)

    states = [e.state for e in timeline.sessions]
    assert states[:3] == [SessionState.DONE, SessionState.DONE, SessionState.BOOKED]
    assert states[3:] == [SessionState.DUE] * 3
    assert [e.appointment for e in timeline.sessions[:3]] == [first, second, third]
    assert [e.expected_on for e in timeline.sessions[3:]] == [
        TODAY + days(15),
        TODAY + days(29),
        TODAY + days(43),
    ]
    fourth = timeline.sessions[3]
    assert (fourth.earliest, fourth.latest) == (TODAY + days(12), TODAY + days(18))
    assert timeline.summary() == [("done", 2), ("booked", 1), ("due", 3)]


def test_a_session_is_overdue_once_its_tolerance_has_passed_and_the_next_counts_from_today() -> (
    None
):
    attended = session(1, TODAY - days(18), AppointmentStatus.ATTENDED)
    timeline = build_timeline(make_plan(), [attended], [], TODAY)
    second, third = timeline.sessions[1], timeline.sessions[2]
    assert second.state == SessionState.OVERDUE
    assert (second.expected_on, second.latest) == (TODAY - days(4), TODAY - days(1))
    # The third cannot come before the second, which can be no earlier than today.
    assert (third.state, third.expected_on) == (SessionState.DUE, TODAY + days(14))


def test_a_session_late_but_within_its_tolerance_is_still_due() -> None:
    attended = session(1, TODAY - days(16), AppointmentStatus.ATTENDED)
    second = build_timeline(make_plan(), [attended], [], TODAY).sessions[1]
    assert (second.state, second.expected_on) == (SessionState.DUE, TODAY - days(2))


def test_a_no_show_is_missed_and_cancelled_bookings_stay_beside_their_session() -> None:
    missed = session(1, TODAY - days(14), AppointmentStatus.NO_SHOW)
    cancelled = session(2, TODAY - days(1), AppointmentStatus.CANCELLED)
    rebooked = session(2, TODAY + days(2))
    timeline = build_timeline(make_plan(), [missed, cancelled, rebooked], [], TODAY)
    first, second = timeline.sessions[:2]
    assert first.state == SessionState.MISSED
    assert (second.state, second.appointment, second.cancelled) == (
        SessionState.BOOKED,
        rebooked,
        [cancelled],
    )
    # Session 3 is expected from the session booked, not from the one cancelled.
    assert timeline.sessions[2].expected_on == TODAY + days(16)


def test_a_cancelled_session_not_booked_again_is_due_again() -> None:
    cancelled = session(1, TODAY + days(3), AppointmentStatus.CANCELLED)
    first = build_timeline(make_plan(), [cancelled], [], TODAY).sessions[0]
    assert (first.state, first.appointment, first.cancelled) == (
        SessionState.DUE,
        None,
        [cancelled],
    )


def test_a_booked_session_whose_time_passed_waits_for_its_attendance() -> None:
    now = timezone.now().astimezone(CLINIC.tz)
    past = session(1, now.date() - days(1))
    future = session(2, now.date() + days(13))
    timeline = build_timeline(make_plan(), [past, future], [], now.date())
    assert [(e.state, e.to_record) for e in timeline.sessions[:2]] == [
        (SessionState.BOOKED, True),
        (SessionState.BOOKED, False),
    ]


def test_a_closed_course_gives_no_more_sessions_and_shows_its_maintenance() -> None:
    plan = make_plan(CourseStatus.COMPLETED, sessions=3)
    held = session(1, TODAY - days(380), AppointmentStatus.ATTENDED)
    booked_visit = session(None, TODAY + days(20), kind=AppointmentKind.MAINTENANCE)
    dropped_visit = session(
        None, TODAY - days(20), AppointmentStatus.CANCELLED, AppointmentKind.MAINTENANCE
    )
    overdue = MaintenanceRecall(pk=1, plan=plan, due_on=TODAY - days(15))
    booked = MaintenanceRecall(
        pk=2,
        plan=plan,
        due_on=TODAY + days(20),
        status=MaintenanceStatus.BOOKED,
        appointment=booked_visit,
    )
    timeline = build_timeline(plan, [held, booked_visit, dropped_visit], [booked, overdue], TODAY)
    assert [e.state for e in timeline.sessions] == [
        SessionState.DONE,
        SessionState.NOT_GIVEN,
        SessionState.NOT_GIVEN,
    ]
    assert [(m.recall, m.overdue, m.label) for m in timeline.maintenance] == [
        (overdue, True, "Overdue"),
        (booked, False, "Booked"),
    ]
    # The visit a recall holds is shown with it; the one cancelled is shown apart.
    assert timeline.others == [dropped_visit]


def test_plan_timeline_reads_the_plans_bookings(
    plan: CoursePlan, bookable_pat: User, django_assert_max_num_queries: object
) -> None:
    today = plan.clinic.today()
    monday = today + timedelta(days=7 - today.weekday())
    booked = booking.book_course(plan, booking.propose_course(plan, monday), bookable_pat)
    booking.cancel_appointment(booked[-1], "Holiday", bookable_pat)
    plan = CoursePlan.objects.select_related("clinic").get(pk=plan.pk)
    with django_assert_max_num_queries(2):  # type: ignore[operator]
        timeline = plan_timeline(plan, today)
        rooms = [e.appointment.room for e in timeline.sessions if e.appointment]
    assert timeline.count(SessionState.BOOKED) == 7
    assert timeline.sessions[-1].state == SessionState.DUE
    assert timeline.sessions[-1].cancelled == [booked[-1]]
    assert rooms == [None] * 7
