"""Feed tokens: the URL works once created, is stored only as a digest, and stops working
when revoked, replaced, or when its owner can no longer be served."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from icalendar import Calendar

from mesoclinic.calendars import calendars, feeds
from mesoclinic.calendars.models import CalendarFeed
from mesoclinic.calendars.tests.conftest import at, events, next_monday
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.patients import services as patients
from mesoclinic.patients.models import Patient

FEED = "calendars.CalendarFeed"


@pytest.fixture
def session(plan: CoursePlan) -> Appointment:
    return booking.book(
        patient=plan.patient,
        practitioner=plan.practitioner,
        starts_at=at(next_monday(), 10),
        minutes=30,
        actor=plan.practitioner,
        plan=plan,
        session_number=1,
    )


def test_a_new_feed_url_opens_the_calendar_without_signing_in(
    client: Client, plan: CoursePlan, session: Appointment
) -> None:
    feed, path = feeds.create_feed(plan.practitioner, actor=plan.practitioner, label="Phone")

    response = client.get(path)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, no-store"
    calendar = Calendar.from_ical(response.content)
    assert calendar["X-PUBLISHED-TTL"] == "PT1H"
    assert [event["UID"] for event in calendar.events] == [calendars.uid(session)]
    feed.refresh_from_db()
    assert feed.last_used_at is not None
    assert feed.clinic == plan.clinic
    assert feed.label == "Phone"


def test_the_secret_is_stored_only_as_a_digest(plan: CoursePlan) -> None:
    feed, path = feeds.create_feed(plan.practitioner, actor=plan.practitioner)
    key = path.removeprefix("/calendar/").removesuffix(".ics")

    assert len(key) > 40
    assert feed.prefix == key[:8]
    stored = CalendarFeed.objects.filter(pk=feed.pk).values().get()
    assert not any(key in str(value) for value in stored.values())
    assert feeds.resolve_feed(key) == feed


def test_a_revoked_or_unknown_feed_is_not_found(client: Client, plan: CoursePlan) -> None:
    feed, path = feeds.create_feed(plan.practitioner, actor=plan.practitioner)
    assert client.get(path).status_code == 200

    feeds.revoke_feed(feed, actor=plan.practitioner)

    assert client.get(path).status_code == 404
    assert client.get("/calendar/cal_not-a-real-key.ics").status_code == 404
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type=FEED, object_id=feed.pk)
    assert event.detail == {"revoked": True}


def test_a_new_feed_replaces_the_old_one(client: Client, plan: CoursePlan) -> None:
    first, old_path = feeds.create_feed(plan.practitioner, actor=plan.practitioner)
    second, new_path = feeds.create_feed(plan.practitioner, actor=plan.practitioner)

    assert client.get(old_path).status_code == 404
    assert client.get(new_path).status_code == 200
    first.refresh_from_db()
    assert first.revoked_at is not None
    assert feeds.active_feed(plan.practitioner) == second


def test_reading_a_patients_feed_is_audited_as_a_read_of_their_record(
    client: Client, patient: Patient, asha: User, session: Appointment
) -> None:
    feed, path = feeds.create_feed(patient, actor=asha)
    created = AuditEvent.objects.get(action=AuditAction.CREATE, object_type=FEED, object_id=feed.pk)
    assert (created.actor, created.patient_id) == (asha, patient.pk)

    response = client.get(path, REMOTE_ADDR="192.0.2.7")

    assert response.status_code == 200
    assert len(events(response.content)) == 1
    read = AuditEvent.objects.filter(action=AuditAction.VIEW, actor=None).get()
    assert read.patient_id == patient.pk
    assert read.clinic_id == patient.clinic_id
    assert read.actor is None
    assert read.ip_address == "192.0.2.7"
    assert read.detail == {"via": "calendar feed", "feed": feed.pk}


def test_a_feed_stops_when_its_practitioner_is_deactivated(
    client: Client, plan: CoursePlan
) -> None:
    _, path = feeds.create_feed(plan.practitioner, actor=plan.practitioner)
    plan.practitioner.is_active = False
    plan.practitioner.save()

    assert client.get(path).status_code == 404


def test_a_feed_stops_when_its_patients_identity_is_erased(
    client: Client, patient: Patient, alice: User
) -> None:
    _, path = feeds.create_feed(patient, actor=alice)
    erased = patients.erase_patient(patient, actor=alice, reason="Asked to be forgotten")

    assert client.get(path).status_code == 404
    with pytest.raises(ValidationError, match="erased"):
        feeds.create_feed(erased, actor=alice)


def test_only_practitioners_and_patients_of_the_actors_clinic_get_feeds(
    asha: User, bob: User, patient: Patient
) -> None:
    with pytest.raises(ValidationError, match="Only practitioners"):
        feeds.create_feed(asha, actor=asha)
    with pytest.raises(ValidationError, match="another clinic"):
        feeds.create_feed(patient, actor=bob)
    assert not CalendarFeed.objects.exists()
