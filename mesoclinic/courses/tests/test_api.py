"""The courses API: plans, proposals and series bookings, the schedule, moves and attendance,
through the HTTP client as a clinic's staff call it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from mesoclinic.catalogue.models import Indication, Protocol
from mesoclinic.clinics.models import AuditAction, AuditEvent, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses import booking, plans
from mesoclinic.courses.models import (
    Appointment,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
    Leave,
    MaintenanceRecall,
    Room,
)
from mesoclinic.courses.testing import make_bookable
from mesoclinic.formulas import services
from mesoclinic.formulas.models import FormulaVersion, Ingredient, Presentation
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient

ClientFor = Callable[[User], Client]
COURSES, SCHEDULE = "/api/v1/courses", "/api/v1/appointments"
PARIS = ZoneInfo("Europe/Paris")
# A Monday two weeks before Europe enters summer time (Sunday 29 March 2026): a course
# started then crosses the change.
MONDAY = date(2026, 3, 16)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def post(client: Client, url: str, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json")


def book(plan: CoursePlan, starts_at: datetime, number: int) -> Appointment:
    return booking.book(
        patient=plan.patient,
        practitioner=plan.practitioner,
        starts_at=starts_at,
        minutes=plan.session_minutes,
        plan=plan,
        session_number=number,
        actor=plan.practitioner,
    )


@pytest.fixture
def pats(client_for: ClientFor, bookable_pat: User) -> Client:
    return client_for(bookable_pat)


# --- plans --------------------------------------------------------------------------------


def test_a_practitioner_plans_a_course_from_the_protocol(
    pats: Client, bookable_pat: User, patient: Patient, catalogue: None
) -> None:
    response = post(
        pats,
        f"{COURSES}/",
        {
            "patient_id": patient.pk,
            "indication": "cellulite",
            "areas": ["thighs", "buttocks"],
            "goals": "Smoother thighs by summer.",
        },
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body | {"id": 0, "created_at": "", "areas": sorted(body["areas"])} == {
        "id": 0,
        "patient_id": patient.pk,
        "patient_name": str(patient),
        "indication": "cellulite",
        "indication_label": "Cellulite",
        "areas": ["buttocks", "thighs"],
        "protocol": "default",
        "practitioner_id": bookable_pat.pk,
        "practitioner_name": "Pat Practitioner",
        "formula_version_id": None,
        "formula_name": None,
        "formula_version_number": None,
        "sessions_planned": 8,
        "interval_days": 14,
        "tolerance_days": 3,
        "session_minutes": 30,
        "maintenance_per_year": 1,
        "adjustment_reason": "",
        "goals": "Smoother thighs by summer.",
        "status": "planned",
        "status_reason": "",
        "created_at": "",
        "completed_on": None,
        "appointments": [],
        "concurrent": [],
        "maintenance": [],
    }
    assert body["created_at"].endswith(("+01:00", "+02:00"))
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE, object_type="courses.CoursePlan", object_id=str(body["id"])
    ).exists()


def test_an_adjusted_plan_needs_the_reason_and_names_the_clinics_formula(
    pats: Client, patient: Patient, catalogue: None, bookable_pat: User
) -> None:
    version = _formula_version(bookable_pat)
    body = {"patient_id": patient.pk, "indication": "localised-fat", "session_minutes": 45}

    refused = post(pats, f"{COURSES}/", body)
    accepted = post(
        pats,
        f"{COURSES}/",
        body | {"adjustment_reason": "Large area.", "formula_version_id": version.pk},
    )

    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "The plan departs from the standard course (6-8 sessions every 14 ± 3 days, "
        "30 minutes): give the reason."
    )
    assert accepted.status_code == 201, accepted.json()
    assert accepted.json()["session_minutes"] == 45
    assert accepted.json()["formula_version_id"] == version.pk
    assert accepted.json()["formula_name"] == "Lipolysis"


def _formula_version(author: User) -> FormulaVersion:
    assert author.clinic is not None
    product = services.create_product(
        clinic=author.clinic,
        name="Lipo PC",
        manufacturer="Laboratoires Exemple",
        presentation=Presentation.VIAL,
        volume_ml=Decimal(5),
        contents=[
            services.Content(
                Ingredient.objects.get(clinic=None, name="Phosphatidylcholine"), Decimal(5), "%"
            )
        ],
        actor=author,
    )
    formula = services.create_formula(
        clinic=author.clinic,
        name="Lipolysis",
        author=author,
        components=[services.ComponentSpec(product=product, volume_ml=Decimal(2))],
        total_volume_ml=Decimal(4),
        actor=author,
    )
    return formula.current_version


def test_a_plan_is_refused_with_every_reason_and_nothing_is_written(
    pats: Client, patient: Patient, bob: User, catalogue: None
) -> None:
    others = make_patient(bob, given_name="Olivia")
    responses = [
        post(pats, f"{COURSES}/", body)
        for body in (
            {"patient_id": patient.pk, "indication": "nonsense", "areas": ["thighs", "elbows"]},
            {"patient_id": others.pk, "indication": "cellulite"},
            {"patient_id": patient.pk, "indication": "cellulite", "practitioner_id": bob.pk},
            {"patient_id": patient.pk, "indication": "cellulite", "sessions_planned": 40},
        )
    ]

    assert [r.status_code for r in responses] == [422] * 4
    assert [r.json()["detail"] for r in responses] == [
        "No indication has the code 'nonsense'. No body area has the code 'elbows'.",
        f"No patient of this clinic has the id {others.pk}.",
        f"No practitioner of this clinic has the id {bob.pk}.",
        "The number of sessions must be between 1 and 20 sessions (got 40). The plan departs from the "
        "standard course (6-8 sessions every 14 ± 3 days, 30 minutes): give the reason.",
    ]
    assert not CoursePlan.objects.exists()


def test_an_administrator_names_the_practitioner(
    client_for: ClientFor, alice: User, bookable_pat: User, patient: Patient, catalogue: None
) -> None:
    body = {"patient_id": patient.pk, "indication": "alopecia"}

    unnamed = post(client_for(alice), f"{COURSES}/", body)
    named = post(client_for(alice), f"{COURSES}/", body | {"practitioner_id": bookable_pat.pk})

    assert unnamed.status_code == 422
    assert "Name the practitioner responsible" in unnamed.json()["detail"]
    assert named.status_code == 201
    assert named.json()["practitioner_id"] == bookable_pat.pk


def test_plans_are_listed_by_status_and_patient_and_the_list_is_audited(
    pats: Client, plan: CoursePlan, patient: Patient, bookable_pat: User, bob: User
) -> None:
    other_patient = make_patient(bookable_pat, given_name="Inès")
    plans.create_plan(
        patient=other_patient,
        indication=Indication.objects.get(code="alopecia"),
        practitioner=bookable_pat,
        protocol=Protocol.objects.get(code="default"),
        actor=bookable_pat,
    )
    booking.stop_plan(plan, "Moved abroad.", bookable_pat)

    everything = pats.get(f"{COURSES}/").json()
    stopped = pats.get(f"{COURSES}/", {"status": "stopped"}).json()
    hers = pats.get(f"{COURSES}/", {"patient_id": patient.pk}).json()
    elsewhere = pats.get(f"{COURSES}/", {"patient_id": make_patient(bob).pk})

    assert len(everything) == 2
    assert [(p["id"], p["status_reason"]) for p in stopped] == [(plan.pk, "Moved abroad.")]
    assert [p["patient_id"] for p in hers] == [patient.pk]
    assert elsewhere.status_code == 404
    listed = AuditEvent.objects.filter(action=AuditAction.VIEW).exclude(detail={}).first()
    assert listed is not None and "listed_patient_ids" in listed.detail


def test_a_plan_is_read_with_its_sessions_and_the_read_is_audited(
    pats: Client, plan: CoursePlan
) -> None:
    book(plan, at(MONDAY, 9), 1)
    response = pats.get(f"{COURSES}/{plan.pk}")

    assert response.status_code == 200
    [session] = response.json()["appointments"]
    assert session["session_number"] == 1
    assert session["starts_at"] == "2026-03-16T09:00:00+01:00"
    assert session["ends_at"] == "2026-03-16T09:30:00+01:00"
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_type="courses.CoursePlan", object_id=str(plan.pk)
    ).exists()


def test_a_concurrent_treatment_is_recorded_on_the_plan(pats: Client, plan: CoursePlan) -> None:
    response = post(
        pats,
        f"{COURSES}/{plan.pk}/concurrent",
        {"kind": "botulinum_toxin", "description": "Glabella, 20 U", "given_on": "2026-03-02"},
    )

    assert response.status_code == 201
    assert response.json() | {"id": 0, "recorded_at": ""} == {
        "id": 0,
        "kind": "botulinum_toxin",
        "description": "Glabella, 20 U",
        "given_on": "2026-03-02",
        "recorded_by_id": plan.practitioner_id,
        "recorded_at": "",
    }
    assert plan.concurrent.count() == 1


# --- access -------------------------------------------------------------------------------


def test_an_assistant_books_but_does_not_plan(
    client_for: ClientFor, asha: User, plan: CoursePlan, patient: Patient
) -> None:
    client = client_for(asha)

    created = post(client, f"{COURSES}/", {"patient_id": patient.pk, "indication": "cellulite"})
    stopped = post(client, f"{COURSES}/{plan.pk}/stop", {"reason": "Asked to."})
    booked = post(
        client,
        f"{COURSES}/{plan.pk}/bookings",
        {"proposals": [{"session_number": 1, "starts_at": at(MONDAY, 10).isoformat()}]},
    )

    assert (created.status_code, stopped.status_code) == (403, 403)
    assert "course.plan" in created.json()["detail"]
    assert booked.status_code == 201
    plan.refresh_from_db()
    assert plan.status == CourseStatus.PLANNED
    assert CoursePlan.objects.count() == 1


def test_a_researcher_is_refused_everything(
    client_for: ClientFor, rhea: User, plan: CoursePlan
) -> None:
    client = client_for(rhea)
    responses = [
        client.get(f"{COURSES}/"),
        client.get(f"{COURSES}/{plan.pk}"),
        client.get(f"{SCHEDULE}/", {"from": "2026-03-16", "to": "2026-03-20"}),
        client.get(f"{SCHEDULE}/rooms"),
        post(client, f"{COURSES}/{plan.pk}/complete"),
    ]
    assert [r.status_code for r in responses] == [403] * 5


def test_another_clinics_plan_appointment_and_room_are_not_found(
    client_for: ClientFor, bob: User, alice: User, plan: CoursePlan, room: Room
) -> None:
    appointment = book(plan, at(MONDAY, 9), 1)
    client = client_for(bob)
    make_bookable(bob, bob)
    own_patient = make_patient(bob)

    responses = [
        client.get(f"{COURSES}/{plan.pk}"),
        client.get(f"{COURSES}/{plan.pk}/proposal", {"start_on": "2026-03-16"}),
        post(client, f"{COURSES}/{plan.pk}/stop", {"reason": "x"}),
        client.get(f"{SCHEDULE}/{appointment.pk}"),
        post(client, f"{SCHEDULE}/{appointment.pk}/cancel", {"reason": "x"}),
        client.get(
            f"{SCHEDULE}/", {"from": "2026-03-16", "to": "2026-03-16", "room_id": str(room.pk)}
        ),
    ]
    in_body = post(
        client,
        f"{SCHEDULE}/",
        {
            "patient_id": own_patient.pk,
            "practitioner_id": bob.pk,
            "starts_at": "2026-03-16T10:00:00+00:00",
            "minutes": 30,
            "room_id": room.pk,
        },
    )
    listed = client.get(f"{SCHEDULE}/", {"from": "2026-03-16", "to": "2026-03-16"})
    rooms = client.get(f"{SCHEDULE}/rooms")

    assert [r.status_code for r in responses] == [404] * 6
    assert in_body.status_code == 422
    assert in_body.json()["detail"] == f"No room of this clinic has the id {room.pk}."
    assert listed.json() == [] and rooms.json() == []
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED


# --- proposals and series -----------------------------------------------------------------


def test_a_whole_course_is_proposed_then_booked_across_summer_time(
    pats: Client, plan: CoursePlan, room: Room
) -> None:
    proposal = pats.get(
        f"{COURSES}/{plan.pk}/proposal", {"start_on": MONDAY.isoformat(), "room_id": str(room.pk)}
    )
    assert proposal.status_code == 200, proposal.json()
    sessions = proposal.json()
    assert [s["session_number"] for s in sessions] == list(range(1, 9))
    assert sessions[0]["starts_at"] == "2026-03-16T09:00:00+01:00"
    # 09:00 in Paris on both sides of the change.
    assert sessions[1]["starts_at"] == "2026-03-30T09:00:00+02:00"
    assert {s["room_id"] for s in sessions} == {room.pk}

    booked = post(
        pats,
        f"{COURSES}/{plan.pk}/bookings",
        {
            "proposals": [
                {"session_number": s["session_number"], "starts_at": s["starts_at"]}
                for s in sessions
            ],
            "room_id": room.pk,
        },
    )

    assert booked.status_code == 201, booked.json()
    assert [a["starts_at"] for a in booked.json()] == [s["starts_at"] for s in sessions]
    assert plan.appointments.filter(room=room).count() == 8
    detail = pats.get(f"{COURSES}/{plan.pk}").json()
    assert [a["session_number"] for a in detail["appointments"]] == list(range(1, 9))
    # Nothing left to propose.
    assert pats.get(f"{COURSES}/{plan.pk}/proposal", {"start_on": "2026-03-16"}).json() == []


def test_a_series_is_booked_all_or_nothing_when_a_slot_has_gone(
    pats: Client, plan: CoursePlan, bookable_pat: User, room: Room
) -> None:
    sessions = pats.get(
        f"{COURSES}/{plan.pk}/proposal", {"start_on": MONDAY.isoformat(), "room_id": str(room.pk)}
    ).json()
    # Between the proposal and its acceptance, the room is taken for session 5's time.
    fifth = datetime.fromisoformat(sessions[4]["starts_at"])
    colleague = make_bookable(make_colleague(bookable_pat), bookable_pat)
    booking.book(
        patient=make_patient(bookable_pat, given_name="Other"),
        practitioner=colleague,
        starts_at=fifth,
        minutes=30,
        room=room,
        actor=colleague,
    )

    response = post(
        pats,
        f"{COURSES}/{plan.pk}/bookings",
        {
            "proposals": [
                {"session_number": s["session_number"], "starts_at": s["starts_at"]}
                for s in sessions
            ],
            "room_id": room.pk,
        },
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        f"Room 1 is already booked on {fifth:%Y-%m-%d} from 09:00 to 09:30."
    )
    assert not plan.appointments.exists()
    assert Appointment.objects.count() == 1


def make_colleague(pat: User) -> User:
    return create_user("cleo.practitioner", Role.PRACTITIONER, pat.clinic)


def test_a_series_that_breaks_the_interval_is_refused_with_the_gaps(
    pats: Client, plan: CoursePlan
) -> None:
    book(plan, at(MONDAY, 9), 1)
    response = post(
        pats,
        f"{COURSES}/{plan.pk}/bookings",
        {
            "proposals": [
                {"session_number": 2, "starts_at": at(MONDAY + timedelta(days=7), 9).isoformat()},
                {"session_number": 3, "starts_at": at(MONDAY + timedelta(days=21), 9).isoformat()},
                {"session_number": 9, "starts_at": at(MONDAY + timedelta(days=35), 9).isoformat()},
            ]
        },
    )
    again = post(
        pats,
        f"{COURSES}/{plan.pk}/bookings",
        {
            "proposals": [
                {"session_number": 1, "starts_at": at(MONDAY, 10).isoformat()},
                {"session_number": 2, "starts_at": at(MONDAY + timedelta(days=7), 9).isoformat()},
                {"session_number": 3, "starts_at": at(MONDAY + timedelta(days=21), 9).isoformat()},
            ]
        },
    )

    assert response.status_code == again.status_code == 422
    assert response.json()["detail"] == ("The course has sessions 1 to 8: there is no session 9.")
    assert again.json()["detail"] == "Session 1 already has an appointment (booked)."
    gaps = post(
        pats,
        f"{COURSES}/{plan.pk}/bookings",
        {
            "proposals": [
                {"session_number": 2, "starts_at": at(MONDAY + timedelta(days=7), 9).isoformat()},
                {"session_number": 3, "starts_at": at(MONDAY + timedelta(days=21), 9).isoformat()},
            ]
        },
    )
    assert gaps.status_code == 422
    # Session 3 keeps 14 days after session 2: only the first gap is named.
    assert gaps.json()["detail"] == (
        "Session 2 would be 7 days after session 1, outside 14 ± 3 days."
    )
    assert plan.appointments.count() == 1


def test_a_time_without_an_offset_is_refused_with_a_sentence(
    pats: Client, plan: CoursePlan
) -> None:
    response = post(
        pats,
        f"{COURSES}/{plan.pk}/bookings",
        {"proposals": [{"session_number": 1, "starts_at": "2026-03-16T09:00:00"}]},
    )

    assert response.status_code == 422
    assert response.json()["detail"] == (
        "starts_at has no UTC offset, so it names no instant: send it with one, such as "
        "2026-03-16T09:00:00+01:00 for the clinic's time."
    )
    assert not Appointment.objects.exists()


def test_a_course_with_no_free_slot_is_not_proposed(
    pats: Client, plan: CoursePlan, bookable_pat: User
) -> None:
    Leave.objects.create(
        practitioner=bookable_pat, starts_on=MONDAY, ends_on=MONDAY + timedelta(days=60)
    )

    response = pats.get(f"{COURSES}/{plan.pk}/proposal", {"start_on": MONDAY.isoformat()})

    assert response.status_code == 422
    assert response.json()["detail"].startswith("No free slot for session 1 between 2026-03-16")


# --- the schedule -------------------------------------------------------------------------


def test_free_slots_leave_out_bookings_and_lunch(
    pats: Client, plan: CoursePlan, bookable_pat: User, room: Room
) -> None:
    book(plan, at(MONDAY, 9), 1)
    url = f"{SCHEDULE}/slots"

    monday = pats.get(
        url, {"practitioner_id": str(bookable_pat.pk), "date": "2026-03-16", "minutes": "60"}
    ).json()
    saturday = pats.get(
        url, {"practitioner_id": str(bookable_pat.pk), "date": "2026-03-21", "minutes": "30"}
    ).json()

    starts = [slot["starts_at"][11:16] for slot in monday["slots"]]
    assert starts[:3] == ["09:30", "09:45", "10:00"]
    assert "12:00" not in starts and "13:30" in starts and starts[-1] == "17:00"
    assert monday["unavailable"] is None
    assert saturday == {
        "practitioner_id": bookable_pat.pk,
        "date": "2026-03-21",
        "unavailable": "Pat Practitioner does not work on Saturdays.",
        "slots": [],
    }


def test_the_schedule_lists_a_range_of_days_with_filters(
    pats: Client, plan: CoursePlan, room: Room, bookable_pat: User
) -> None:
    first = book(plan, at(MONDAY, 9), 1)
    second = book(plan, at(MONDAY + timedelta(days=14), 9), 2)
    Appointment.objects.filter(pk=second.pk).update(room=room)

    week = pats.get(f"{SCHEDULE}/", {"from": "2026-03-16", "to": "2026-03-22"}).json()
    both = pats.get(
        f"{SCHEDULE}/",
        {"from": "2026-03-16", "to": "2026-03-31", "practitioner_id": str(bookable_pat.pk)},
    ).json()
    in_room = pats.get(
        f"{SCHEDULE}/", {"from": "2026-03-16", "to": "2026-03-31", "room_id": str(room.pk)}
    ).json()
    backwards = pats.get(f"{SCHEDULE}/", {"from": "2026-03-16", "to": "2026-03-15"})
    too_long = pats.get(f"{SCHEDULE}/", {"from": "2026-01-01", "to": "2026-12-31"})

    assert [a["id"] for a in week] == [first.pk]
    assert [a["id"] for a in both] == [first.pk, second.pk]
    assert [a["id"] for a in in_room] == [second.pk]
    assert backwards.status_code == too_long.status_code == 422
    assert "at most 92 days later" in too_long.json()["detail"]


def test_one_appointment_is_booked_and_refused_when_it_clashes(
    pats: Client, bookable_pat: User, patient: Patient, room: Room
) -> None:
    body = {
        "patient_id": patient.pk,
        "practitioner_id": bookable_pat.pk,
        "starts_at": "2026-03-16T10:00:00+01:00",
        "minutes": 45,
        "room_id": room.pk,
    }

    first = post(pats, f"{SCHEDULE}/", body)
    clash = post(pats, f"{SCHEDULE}/", body | {"starts_at": "2026-03-16T09:30:00Z"})

    assert first.status_code == 201
    assert first.json()["kind"] == "other"
    assert first.json()["ends_at"] == "2026-03-16T10:45:00+01:00"
    assert clash.status_code == 422
    assert clash.json()["detail"] == (
        "Pat Practitioner is already booked on 2026-03-16 from 10:00 to 10:45."
    )


def test_one_session_of_a_course_is_booked_within_its_interval(
    pats: Client, plan: CoursePlan, bookable_pat: User, patient: Patient
) -> None:
    book(plan, at(MONDAY, 9), 1)
    body = {
        "patient_id": patient.pk,
        "practitioner_id": bookable_pat.pk,
        "minutes": 30,
        "plan_id": plan.pk,
        "session_number": 2,
    }

    too_soon = post(pats, f"{SCHEDULE}/", body | {"starts_at": at(MONDAY, 11).isoformat()})
    booked = post(pats, f"{SCHEDULE}/", body | {"starts_at": at(date(2026, 3, 31), 11).isoformat()})
    half = post(
        pats,
        f"{SCHEDULE}/",
        body | {"session_number": None, "starts_at": at(MONDAY, 15).isoformat()},
    )

    assert too_soon.status_code == 422
    assert too_soon.json()["detail"] == (
        "Session 2 would be 0 days after session 1, outside 14 ± 3 days."
    )
    assert booked.status_code == 201
    assert (booked.json()["kind"], booked.json()["session_number"]) == ("session", 2)
    assert half.status_code == 422
    assert half.json()["detail"] == "A course session needs both plan_id and session_number."


def test_a_move_that_breaks_the_interval_needs_a_reason(pats: Client, plan: CoursePlan) -> None:
    book(plan, at(MONDAY, 9), 1)
    second = book(plan, at(MONDAY + timedelta(days=14), 9), 2)
    url = f"{SCHEDULE}/{second.pk}/move"
    later = at(MONDAY + timedelta(days=22), 10).isoformat()

    refused = post(pats, url, {"starts_at": later})
    moved = post(pats, url, {"starts_at": later, "reason": "Patient abroad that week."})

    assert refused.status_code == 422
    assert refused.json()["detail"] == (
        "Session 2 would be 22 days from session 1, outside 14 ± 3 days. "
        "Give a reason to move it there anyway."
    )
    assert moved.status_code == 200
    assert moved.json()["starts_at"] == "2026-04-07T10:00:00+02:00"
    assert moved.json()["move_reason"] == "Patient abroad that week."


def test_appointments_are_cancelled_attended_or_missed(pats: Client, plan: CoursePlan) -> None:
    first = book(plan, at(MONDAY, 9), 1)
    second = book(plan, at(MONDAY + timedelta(days=14), 9), 2)
    third = book(plan, at(MONDAY + timedelta(days=28), 9), 3)
    future = booking.book(
        patient=plan.patient,
        practitioner=plan.practitioner,
        starts_at=at(date.today() + timedelta(days=7 - date.today().weekday()), 10),
        minutes=30,
        actor=plan.practitioner,
    )

    attended = post(pats, f"{SCHEDULE}/{first.pk}/attended")
    missed = post(pats, f"{SCHEDULE}/{second.pk}/no-show")
    no_reason = post(pats, f"{SCHEDULE}/{third.pk}/cancel", {"reason": "  "})
    cancelled = post(pats, f"{SCHEDULE}/{third.pk}/cancel", {"reason": "Flu."})
    too_early = post(pats, f"{SCHEDULE}/{future.pk}/no-show")
    twice = post(pats, f"{SCHEDULE}/{first.pk}/attended")

    assert [r.json()["status"] for r in (attended, missed, cancelled)] == [
        "attended",
        "no_show",
        "cancelled",
    ]
    assert cancelled.json()["status_reason"] == "Flu."
    assert no_reason.json()["detail"] == "Give the reason for the cancellation."
    assert too_early.json()["detail"] == "An appointment still to come cannot be a no-show."
    assert twice.json()["detail"] == "This appointment is already attended."
    assert (no_reason.status_code, too_early.status_code, twice.status_code) == (422,) * 3
    plan.refresh_from_db()
    assert plan.status == CourseStatus.ACTIVE
    assert pats.get(f"{SCHEDULE}/{first.pk}").json()["status"] == "attended"


def test_a_completed_course_is_due_for_maintenance(
    pats: Client, plan: CoursePlan, bookable_pat: User
) -> None:
    today = date.today()
    # The last session attended a little less than a year ago: the recall falls due soon.
    last = today - timedelta(days=350)
    last -= timedelta(days=last.weekday())
    session = book(plan, at(last, 9), 1)
    booking.record_attended(session, bookable_pat)

    completed = post(pats, f"{COURSES}/{plan.pk}/complete")
    again = post(pats, f"{COURSES}/{plan.pk}/complete")
    due = pats.get(f"{COURSES}/maintenance-due").json()

    assert completed.status_code == 200
    assert completed.json()["status"] == "completed"
    [recall] = completed.json()["maintenance"]
    assert recall["due_on"] == plans.add_months(last, 12).isoformat()
    assert again.status_code == 422
    assert again.json()["detail"] == "This course is already completed."
    assert [(d["id"], d["patient_id"], d["indication"]) for d in due] == [
        (recall["id"], plan.patient_id, "cellulite")
    ]
    assert MaintenanceRecall.objects.count() == 1


def test_a_stopped_course_cancels_its_booked_sessions(pats: Client, plan: CoursePlan) -> None:
    book(plan, at(MONDAY, 9), 1)

    no_reason = post(pats, f"{COURSES}/{plan.pk}/stop", {"reason": ""})
    stopped = post(pats, f"{COURSES}/{plan.pk}/stop", {"reason": "Bruising that lasted."})

    assert no_reason.status_code == 422
    assert stopped.status_code == 200
    assert stopped.json()["status"] == "stopped"
    [session] = stopped.json()["appointments"]
    assert session["status"] == "cancelled"
    assert session["status_reason"] == "Course stopped: Bruising that lasted."


def test_rooms_are_the_clinics_own(pats: Client, room: Room, clinic_b: Any) -> None:
    Room.objects.create(clinic=clinic_b, name="Harbour room")
    retired = Room.objects.create(clinic=room.clinic, name="Old room", active=False)

    rooms = pats.get(f"{SCHEDULE}/rooms").json()

    assert rooms == [
        {"id": retired.pk, "name": "Old room", "active": False},
        {"id": room.pk, "name": "Room 1", "active": True},
    ]
