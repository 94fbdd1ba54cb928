"""The calendar pages: the course download, "My calendar feed", and a patient's feed managed
by staff."""

from __future__ import annotations

import re
from collections.abc import Callable

from django.test import Client
from django.urls import reverse

from mesoclinic.calendars import calendars
from mesoclinic.calendars.models import CalendarFeed
from mesoclinic.calendars.tests.conftest import at, events, next_monday
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.courses import booking
from mesoclinic.courses.models import CoursePlan
from mesoclinic.patients.models import Patient

Clients = Callable[[User], Client]
FEED_URL = re.compile(r"http://testserver(/calendar/cal_[\w-]+\.ics)")


def test_staff_download_a_course_as_an_ics_file(client_for: Clients, plan: CoursePlan) -> None:
    session = booking.book(
        patient=plan.patient,
        practitioner=plan.practitioner,
        starts_at=at(next_monday(), 10),
        minutes=30,
        actor=plan.practitioner,
        plan=plan,
        session_number=1,
    )

    response = client_for(plan.practitioner).get(reverse("calendars:plan-ics", args=[plan.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="course-{plan.pk}.ics"'
    assert [event["UID"] for event in events(response.content)] == [calendars.uid(session)]
    export = AuditEvent.objects.get(action=AuditAction.EXPORT)
    assert (export.actor, export.patient_id, export.detail) == (
        plan.practitioner,
        plan.patient_id,
        {"format": "ics"},
    )


def test_another_clinic_cannot_download_a_course_and_a_researcher_is_refused(
    client_for: Clients, plan: CoursePlan, bob: User, rhea: User
) -> None:
    url = reverse("calendars:plan-ics", args=[plan.pk])

    assert client_for(bob).get(url).status_code == 404
    assert client_for(rhea).get(url).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()


def test_a_practitioner_creates_sees_once_and_stops_their_feed(
    client: Client, client_for: Clients, bookable_pat: User
) -> None:
    staff = client_for(bookable_pat)

    created = staff.post(reverse("calendars:mine-create"), {"label": "iPhone"})

    assert created.status_code == 200
    match = FEED_URL.search(created.content.decode())
    assert match is not None
    path = match.group(1)
    assert f'href="webcal://testserver{path}"' in created.content.decode()
    assert client.get(path).status_code == 200
    page = staff.get(reverse("calendars:mine")).content.decode()
    assert path not in page
    feed = CalendarFeed.objects.get()
    assert f"{feed.prefix}…" in page
    assert "iPhone" in page

    stopped = staff.post(reverse("calendars:mine-revoke"))

    assert stopped.status_code == 302
    assert client.get(path).status_code == 404


def test_staff_manage_a_patients_feed_and_another_clinic_cannot(
    client: Client, client_for: Clients, asha: User, bob: User, plan: CoursePlan
) -> None:
    patient: Patient = plan.patient
    page = client_for(asha).get(reverse("calendars:patient", args=[patient.pk]))
    assert reverse("calendars:plan-ics", args=[plan.pk]) in page.content.decode()
    assert (
        client_for(bob).post(reverse("calendars:patient-create", args=[patient.pk])).status_code
        == 404
    )
    assert not CalendarFeed.objects.exists()

    created = client_for(asha).post(reverse("calendars:patient-create", args=[patient.pk]))

    match = FEED_URL.search(created.content.decode())
    assert match is not None
    assert CalendarFeed.objects.get().patient == patient
    assert client.get(match.group(1)).status_code == 200
    assert (
        client_for(bob).post(reverse("calendars:patient-revoke", args=[patient.pk])).status_code
        == 404
    )
    assert client.get(match.group(1)).status_code == 200
    client_for(asha).post(reverse("calendars:patient-revoke", args=[patient.pk]))
    assert client.get(match.group(1)).status_code == 404


def test_staff_who_are_not_practitioners_have_no_feed_of_their_own(
    client_for: Clients, asha: User
) -> None:
    staff = client_for(asha)

    assert "your role has none" in staff.get(reverse("calendars:mine")).content.decode()
    refused = staff.post(reverse("calendars:mine-create"), {"label": ""})

    assert refused.status_code == 400
    assert not CalendarFeed.objects.exists()
