"""The course, booking and schedule pages: planning from the patient's page, proposing and
booking a series, moving, cancelling and recording sessions, completing into maintenance,
stopping, the schedule's cost with a busy clinic, rooms and hours, and who may do what."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mesoclinic.catalogue.models import Indication, Protocol
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses import booking
from mesoclinic.courses.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    Leave,
    MaintenanceRecall,
    MaintenanceStatus,
    Room,
    WorkingHours,
)
from mesoclinic.courses.testing import make_bookable
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient

Clients = Callable[[User], Client]


def at(clinic: Clinic, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=clinic.tz)


def next_monday(clinic: Clinic) -> date:
    today = clinic.today()
    return today + timedelta(days=7 - today.weekday())


def past_weekday(clinic: Clinic, days_ago: int) -> date:
    day = clinic.today() - timedelta(days=days_ago)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def book_series(plan: CoursePlan, room: Room | None = None) -> list[Appointment]:
    proposals = booking.propose_course(plan, next_monday(plan.clinic), room=room)
    return booking.book_course(plan, proposals, plan.practitioner)


def book_past_session(plan: CoursePlan, days_ago: int, number: int = 1) -> Appointment:
    return booking.book(
        patient=plan.patient,
        practitioner=plan.practitioner,
        starts_at=at(plan.clinic, past_weekday(plan.clinic, days_ago), 10),
        minutes=plan.session_minutes,
        plan=plan,
        session_number=number,
        actor=plan.practitioner,
    )


def plan_form(**changes: Any) -> dict[str, Any]:
    """The plan form as it arrives prefilled with the standard protocol."""
    protocol = Protocol.objects.get(code="default")
    data = {
        "indication": Indication.objects.get(code="cellulite").pk,
        "practitioner": User.objects.get(username="pat.practitioner").pk,
        "protocol": protocol.pk,
        "sessions_planned": 8,
        "interval_days": 14,
        "tolerance_days": 3,
        "session_minutes": 30,
        "maintenance_per_year": 1,
        "adjustment_reason": "",
        "goals": "Smoother thighs",
    }
    return data | changes


# --- planning ---------------------------------------------------------------------------------


def test_a_practitioner_plans_a_course_from_the_patient_page_with_the_protocol_prefilled(
    client_for: Clients, catalogue: None, bookable_pat: User, patient: Patient
) -> None:
    client = client_for(bookable_pat)
    create_url = reverse("courses:create", args=[patient.pk])
    assert create_url in client.get(reverse("patients:detail", args=[patient.pk])).content.decode()

    form = client.get(create_url).content.decode()
    for name, value in [("sessions_planned", 8), ("interval_days", 14), ("tolerance_days", 3)]:
        assert re.search(rf'name="{name}" value="{value}"', form), name

    response = client.post(create_url, plan_form())
    plan = CoursePlan.objects.get(patient=patient)
    assert response.status_code == 302
    assert response["Location"] == reverse("courses:plan", args=[plan.pk])
    assert (plan.sessions_planned, plan.interval_days, plan.practitioner) == (8, 14, bookable_pat)
    page = client.get(response["Location"]).content.decode()
    assert page.count("badge state-due") == 8


def test_a_plan_departing_from_the_protocol_is_refused_without_a_reason(
    client_for: Clients, catalogue: None, bookable_pat: User, patient: Patient
) -> None:
    client = client_for(bookable_pat)
    url = reverse("courses:create", args=[patient.pk])

    refused = client.post(url, plan_form(interval_days=21))
    assert refused.status_code == 400
    assert "departs from the standard course" in refused.content.decode()
    assert not CoursePlan.objects.exists()

    # A 0 typed is out of limits, not a request for the protocol's value.
    zero = client.post(url, plan_form(sessions_planned=0, adjustment_reason="Trial"))
    assert zero.status_code == 400
    assert "between 1 and 20" in zero.content.decode()
    assert not CoursePlan.objects.exists()

    accepted = client.post(url, plan_form(interval_days=21, adjustment_reason="Slow healer"))
    assert accepted.status_code == 302
    assert CoursePlan.objects.get().adjustment_reason == "Slow healer"


def test_an_assistant_may_not_plan_a_course(
    client_for: Clients, catalogue: None, bookable_pat: User, asha: User, patient: Patient
) -> None:
    client = client_for(asha)
    url = reverse("courses:create", args=[patient.pk])
    assert url not in client.get(reverse("patients:detail", args=[patient.pk])).content.decode()
    assert client.get(url).status_code == 403
    assert client.post(url, plan_form()).status_code == 403
    assert not CoursePlan.objects.exists()


def test_a_concurrent_treatment_is_recorded_on_the_course(
    client_for: Clients, plan: CoursePlan, pat: User
) -> None:
    client = client_for(pat)
    url = reverse("courses:plan-concurrent", args=[plan.pk])
    assert client.post(url, {"kind": "nonsense"}).status_code == 400
    response = client.post(
        url, {"kind": "botulinum_toxin", "description": "Glabella, 20 U", "given_on": ""}
    )
    assert response.status_code == 302
    assert plan.concurrent.get().description == "Glabella, 20 U"


def test_the_course_list_filters_by_status(
    client_for: Clients, plan: CoursePlan, pat: User
) -> None:
    client = client_for(pat)
    url = reverse("courses:plan", args=[plan.pk])
    assert url in client.get(reverse("courses:list"), {"status": "planned"}).content.decode()
    assert url not in client.get(reverse("courses:list"), {"status": "stopped"}).content.decode()


# --- booking a course ---------------------------------------------------------------------------


def test_a_proposed_series_is_shown_then_booked_in_one_click(
    client_for: Clients, plan: CoursePlan, pat: User, room: Room
) -> None:
    client = client_for(pat)
    monday = next_monday(plan.clinic)
    page = client.get(
        reverse("courses:plan", args=[plan.pk]),
        {"start_on": monday.isoformat(), "room": str(room.pk)},
    )
    html = page.content.decode()
    assert page.status_code == 200
    assert "Book these 8 sessions" in html
    assert not Appointment.objects.exists()  # proposing books nothing

    slots = re.search(r'name="slots" value="([^"]+)"', html)
    assert slots is not None
    accepted = {"start_on": monday.isoformat(), "room": room.pk, "slots": slots.group(1)}
    response = client.post(reverse("courses:plan-book", args=[plan.pk]), accepted)
    assert response.status_code == 302
    # A second click books nothing more.
    again = client.post(reverse("courses:plan-book", args=[plan.pk]), accepted)
    assert again.status_code == 400
    assert "booked already" in again.content.decode()
    booked = list(plan.appointments.order_by("session_number"))
    assert [a.session_number for a in booked] == list(range(1, 9))
    assert {a.room for a in booked} == {room}
    assert booked[0].starts_at == at(plan.clinic, monday, 9)
    assert client.get(response["Location"]).content.decode().count("badge state-booked") == 8


def test_a_slot_taken_meanwhile_books_nothing_and_shows_a_new_proposal(
    client_for: Clients, plan: CoursePlan, pat: User, asha: User
) -> None:
    client = client_for(pat)
    monday = next_monday(plan.clinic)
    html = client.get(
        reverse("courses:plan", args=[plan.pk]), {"start_on": monday.isoformat()}
    ).content.decode()
    slots = re.search(r'name="slots" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    other = make_patient(asha, given_name="Lou", family_name="Martin")
    booking.book(
        patient=other,
        practitioner=pat,
        starts_at=at(plan.clinic, monday, 9),
        minutes=30,
        actor=asha,
    )

    response = client.post(
        reverse("courses:plan-book", args=[plan.pk]),
        {"start_on": monday.isoformat(), "room": "", "slots": slots},
    )

    html = response.content.decode()
    assert response.status_code == 400
    assert "taken meanwhile" in html
    assert not plan.appointments.exists()
    fresh = re.search(r'name="slots" value="([^"]+)"', html)
    assert fresh is not None and fresh.group(1) != slots


def test_a_proposal_cannot_start_in_the_past(
    client_for: Clients, plan: CoursePlan, pat: User
) -> None:
    response = client_for(pat).get(
        reverse("courses:plan", args=[plan.pk]), {"start_on": plan.clinic.today().isoformat()}
    )
    assert response.status_code == 400
    assert "from tomorrow on" in response.content.decode()


# --- each session -------------------------------------------------------------------------------


def move(client: Client, appointment: Appointment, day: date, **extra: str) -> Any:
    data = {"day": day.isoformat(), "time": "10:00", "room": "", "reason": ""} | extra
    return client.post(reverse("courses:appointment-move", args=[appointment.pk]), data)


def test_a_move_within_the_interval_needs_no_reason(
    client_for: Clients, plan: CoursePlan, pat: User
) -> None:
    second = book_series(plan)[1]
    day = second.starts_at.astimezone(plan.clinic.tz).date() + timedelta(days=1)
    response = move(client_for(pat), second, day)
    assert response.status_code == 302
    assert response["Location"] == reverse("courses:plan", args=[plan.pk])
    second.refresh_from_db()
    assert second.starts_at == at(plan.clinic, day, 10)
    assert second.move_reason == ""


def test_a_move_breaking_the_interval_warns_and_asks_for_a_reason(
    client_for: Clients, plan: CoursePlan, pat: User
) -> None:
    second = book_series(plan)[1]
    before = second.starts_at
    day = before.astimezone(plan.clinic.tz).date() + timedelta(days=7)
    client = client_for(pat)

    refused = move(client, second, day)
    html = refused.content.decode()
    assert refused.status_code == 400
    assert "breaks the course&#x27;s interval" in html
    assert "outside 14 ± 3 days" in html
    second.refresh_from_db()
    assert second.starts_at == before

    accepted = move(client, second, day, reason="Patient abroad that week")
    assert accepted.status_code == 302
    second.refresh_from_db()
    assert second.starts_at == at(plan.clinic, day, 10)
    assert second.move_reason == "Patient abroad that week"


def test_a_move_into_the_past_is_refused(client_for: Clients, plan: CoursePlan, pat: User) -> None:
    first = book_series(plan)[0]
    response = move(client_for(pat), first, past_weekday(plan.clinic, 3))
    assert response.status_code == 400
    assert "still to come" in response.content.decode()


def test_a_cancellation_needs_a_reason_and_frees_the_slot(
    client_for: Clients, plan: CoursePlan, pat: User, asha: User
) -> None:
    first = book_series(plan)[0]
    client = client_for(asha)
    url = reverse("courses:appointment-cancel", args=[first.pk])

    assert client.post(url, {"cancel-reason": ""}).status_code == 400
    first.refresh_from_db()
    assert first.status == AppointmentStatus.BOOKED

    assert client.post(url, {"cancel-reason": "Patient has the flu"}).status_code == 302
    first.refresh_from_db()
    assert (first.status, first.status_reason) == (
        AppointmentStatus.CANCELLED,
        "Patient has the flu",
    )
    # The slot is free for someone else, and the course shows the booking struck through.
    other = make_patient(asha, given_name="Lou", family_name="Martin")
    booking.book(patient=other, practitioner=pat, starts_at=first.starts_at, minutes=30, actor=asha)
    page = client.get(reverse("courses:plan", args=[plan.pk])).content.decode()
    assert "<del" in page and "Patient has the flu" in page


def test_attendance_is_recorded_only_once_the_session_has_begun(
    client_for: Clients, plan: CoursePlan, pat: User
) -> None:
    past = book_past_session(plan, days_ago=7)
    future = booking.book_course(plan, booking.propose_course(plan, next_monday(plan.clinic)), pat)[
        0
    ]
    client = client_for(pat)

    def record(appointment: Appointment, outcome: str) -> Any:
        url = reverse("courses:appointment-attendance", args=[appointment.pk])
        return client.post(url, {"outcome": outcome})

    refused = record(future, "attended")
    assert refused.status_code == 400
    assert "still to come" in refused.content.decode()
    future.refresh_from_db()
    assert future.status == AppointmentStatus.BOOKED

    assert record(past, "attended").status_code == 302
    past.refresh_from_db()
    plan.refresh_from_db()
    assert past.status == AppointmentStatus.ATTENDED
    assert plan.status == CourseStatus.ACTIVE
    assert record(past, "no_show").status_code == 400  # already recorded


def test_a_no_show_is_a_missed_session_on_the_timeline(
    client_for: Clients, plan: CoursePlan, pat: User
) -> None:
    missed = book_past_session(plan, days_ago=7)
    client = client_for(pat)
    url = reverse("courses:appointment-attendance", args=[missed.pk])
    assert client.post(url, {"outcome": "no_show"}).status_code == 302
    page = client.get(reverse("courses:plan", args=[plan.pk])).content.decode()
    assert "badge state-missed" in page


# --- completing and stopping ---------------------------------------------------------------------


def test_a_completed_course_appears_in_the_maintenance_list_and_is_booked_from_it(
    client_for: Clients, plan: CoursePlan, pat: User, room: Room
) -> None:
    # The last session was nearly a year ago, so its yearly maintenance falls due soon.
    booking.record_attended(book_past_session(plan, days_ago=350), pat)
    client = client_for(pat)

    assert client.post(reverse("courses:plan-complete", args=[plan.pk])).status_code == 302
    plan.refresh_from_db()
    recall = MaintenanceRecall.objects.get(plan=plan)
    assert plan.status == CourseStatus.COMPLETED
    listing = client.get(reverse("courses:maintenance")).content.decode()
    assert str(plan.patient) in listing
    assert reverse("courses:recall-book", args=[recall.pk]) in listing

    day = max(recall.due_on, plan.clinic.today() + timedelta(days=1))
    while day.weekday() >= 5:
        day += timedelta(days=1)
    prefix = f"recall-{recall.pk}"
    response = client.post(
        reverse("courses:recall-book", args=[recall.pk]),
        {f"{prefix}-day": day.isoformat(), f"{prefix}-time": "11:00", f"{prefix}-room": room.pk},
    )
    assert response.status_code == 302
    recall.refresh_from_db()
    assert recall.status == MaintenanceStatus.BOOKED
    assert recall.appointment is not None
    assert recall.appointment.kind == AppointmentKind.MAINTENANCE
    assert str(plan.patient) not in client.get(reverse("courses:maintenance")).content.decode()


def test_a_course_with_sessions_still_booked_is_not_completed(
    client_for: Clients, plan: CoursePlan, pat: User
) -> None:
    booking.record_attended(book_past_session(plan, days_ago=7), pat)
    booking.book_course(plan, booking.propose_course(plan, next_monday(plan.clinic)), pat)
    response = client_for(pat).post(reverse("courses:plan-complete", args=[plan.pk]))
    assert response.status_code == 400
    assert "still booked" in response.content.decode()
    plan.refresh_from_db()
    assert plan.status == CourseStatus.ACTIVE


def test_stopping_a_course_needs_a_reason_and_cancels_its_sessions(
    client_for: Clients, plan: CoursePlan, pat: User
) -> None:
    book_series(plan)
    client = client_for(pat)
    url = reverse("courses:plan-stop", args=[plan.pk])

    assert client.post(url, {"stop-reason": " "}).status_code == 400
    plan.refresh_from_db()
    assert plan.status == CourseStatus.PLANNED

    assert client.post(url, {"stop-reason": "Bruising that did not settle"}).status_code == 302
    plan.refresh_from_db()
    assert (plan.status, plan.status_reason) == (
        CourseStatus.STOPPED,
        "Bruising that did not settle",
    )
    assert set(plan.appointments.values_list("status", flat=True)) == {AppointmentStatus.CANCELLED}


# --- the schedule ---------------------------------------------------------------------------------


def busy_week(clinic: Clinic, practitioners: list[User], rooms: list[Room], per_day: int) -> None:
    """``per_day`` appointments a day for each practitioner, in a room of their own, Monday to
    Friday next week, each with a patient of its own."""
    monday = next_monday(clinic)
    patients = Patient.objects.bulk_create(
        Patient(
            clinic=clinic, given_name=f"P{n}", family_name="Busy", date_of_birth=date(1980, 1, 1)
        )
        for n in range(5 * per_day * len(practitioners))
    )
    numbered = iter(patients)
    Appointment.objects.bulk_create(
        Appointment(
            clinic=clinic,
            patient=next(numbered),
            practitioner=practitioner,
            room=rooms[index],
            starts_at=at(clinic, monday + timedelta(days=day), 9) + timedelta(minutes=30 * slot),
            ends_at=at(clinic, monday + timedelta(days=day), 9) + timedelta(minutes=30 * slot + 30),
            created_by=practitioner,
        )
        for index, practitioner in enumerate(practitioners)
        for day in range(5)
        for slot in range(per_day)
    )


def schedule_queries(client: Client, clinic: Clinic, span: str) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            reverse("courses:schedule"), {"span": span, "day": next_monday(clinic).isoformat()}
        )
    assert response.status_code == 200
    return len(queries), response.content.decode()


@pytest.mark.parametrize("span", ["day", "week"])
def test_the_schedule_costs_the_same_few_queries_however_busy_the_clinic(
    client_for: Clients,
    clinic_a: Clinic,
    alice: User,
    span: str,
    django_assert_max_num_queries: Any,
) -> None:
    practitioners = [
        make_bookable(create_user(f"doc{n}.practitioner", Role.PRACTITIONER, clinic_a), alice)
        for n in range(3)
    ]
    rooms = [Room.objects.create(clinic=clinic_a, name=f"Room {n}") for n in range(3)]
    client = client_for(alice)
    busy_week(clinic_a, practitioners, rooms, per_day=1)
    quiet, _ = schedule_queries(client, clinic_a, span)

    Appointment.objects.all().delete()
    busy_week(clinic_a, practitioners, rooms, per_day=12)
    # The session and its user, the clinic, its practitioners and rooms, the appointments,
    # the audit event: the same for 180 appointments as for 15.
    with django_assert_max_num_queries(12):
        busy, html = schedule_queries(client, clinic_a, span)
    assert busy == quiet

    shown = 12 * len(practitioners) * (5 if span == "week" else 1)
    assert html.count('class="slot status-booked"') == shown
    assert "P0 Busy" in html and "Course session" in html


def test_the_schedule_shows_one_room_or_one_practitioner(
    client_for: Clients, plan: CoursePlan, pat: User, room: Room
) -> None:
    book_series(plan, room=room)
    other_room = Room.objects.create(clinic=plan.clinic, name="Room 2")
    client = client_for(pat)
    day = next_monday(plan.clinic).isoformat()
    url = reverse("courses:schedule")

    by_room = client.get(
        url, {"day": day, "room": str(room.pk), "group_by": "room"}
    ).content.decode()
    assert str(plan.patient) in by_room and "Session 1" in by_room
    empty = client.get(url, {"day": day, "room": str(other_room.pk)}).content.decode()
    assert str(plan.patient) not in empty
    week = client.get(
        url, {"day": day, "span": "week", "practitioner": str(pat.pk)}
    ).content.decode()
    assert "Session 1" in week
    # Previous and next keep the choices made.
    assert f"practitioner={pat.pk}" in week and "span=week" in week


def test_a_nonsense_schedule_address_shows_today_with_the_error(
    client_for: Clients, pat: User
) -> None:
    response = client_for(pat).get(reverse("courses:schedule"), {"day": "tomorrow-ish"})
    assert response.status_code == 400
    assert "Enter a valid date" in response.content.decode()


# --- rooms, hours and leave ---------------------------------------------------------------------


def test_the_administrator_manages_rooms_hours_and_leave(
    client_for: Clients, alice: User, plan: CoursePlan, pat: User
) -> None:
    client = client_for(alice)
    assert client.post(reverse("courses:room-add"), {"room-name": "Cabine 2"}).status_code == 302
    room = Room.objects.get(name="Cabine 2")
    duplicate = client.post(reverse("courses:room-add"), {"room-name": "cabine 2"})
    assert duplicate.status_code == 400
    assert client.post(reverse("courses:room-active", args=[room.pk]), {}).status_code == 302
    room.refresh_from_db()
    assert not room.active

    hours = {"hours-practitioner": pat.pk, "hours-weekday": 5, "hours-starts": "09:00"}
    assert (
        client.post(reverse("courses:hours-add"), hours | {"hours-ends": "12:00"}).status_code
        == 302
    )
    overlapping = client.post(
        reverse("courses:hours-add"), hours | {"hours-starts": "11:00", "hours-ends": "13:00"}
    )
    assert overlapping.status_code == 400
    assert "may not overlap" in overlapping.content.decode()
    saturday = WorkingHours.objects.get(practitioner=pat, weekday=5)
    assert client.post(reverse("courses:hours-remove", args=[saturday.pk])).status_code == 302
    assert not WorkingHours.objects.filter(weekday=5).exists()

    first = book_series(plan)[0]
    day = first.starts_at.astimezone(plan.clinic.tz).date()
    response = client.post(
        reverse("courses:leave-add"),
        {
            "leave-practitioner": pat.pk,
            "leave-starts_on": day.isoformat(),
            "leave-ends_on": day.isoformat(),
        },
        follow=True,
    )
    assert "1 appointment is booked during this leave" in response.content.decode()
    leave = Leave.objects.get(practitioner=pat)
    assert client.post(reverse("courses:leave-remove", args=[leave.pk])).status_code == 302
    assert not Leave.objects.exists()


def test_only_the_administrator_manages_rooms_and_hours(
    client_for: Clients, pat: User, asha: User
) -> None:
    for user in (pat, asha):
        client = client_for(user)
        assert client.get(reverse("courses:setup")).status_code == 403
        assert client.post(reverse("courses:room-add"), {"room-name": "X"}).status_code == 403
    assert not Room.objects.exists()


# --- who may see what ---------------------------------------------------------------------------


def test_a_researcher_sees_no_course_page(
    client_for: Clients, plan: CoursePlan, rhea: User
) -> None:
    client = client_for(rhea)
    for url in (
        reverse("courses:list"),
        reverse("courses:schedule"),
        reverse("courses:maintenance"),
        reverse("courses:plan", args=[plan.pk]),
    ):
        assert client.get(url).status_code == 403, url


def test_another_clinic_finds_none_of_this_clinics_courses(
    client_for: Clients, plan: CoursePlan, bob: User
) -> None:
    first = book_series(plan)[0]
    client = client_for(bob)
    assert client.get(reverse("courses:plan", args=[plan.pk])).status_code == 404
    assert client.get(reverse("courses:appointment", args=[first.pk])).status_code == 404
    cancel = client.post(
        reverse("courses:appointment-cancel", args=[first.pk]), {"cancel-reason": "Spite"}
    )
    assert cancel.status_code == 404
    first.refresh_from_db()
    assert first.status == AppointmentStatus.BOOKED
    schedule = client.get(
        reverse("courses:schedule"), {"span": "week", "day": next_monday(plan.clinic).isoformat()}
    ).content.decode()
    assert str(plan.patient) not in schedule
