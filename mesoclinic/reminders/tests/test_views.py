"""The reminders page and API: who sees them, retrying a failed one, and refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.courses import booking
from mesoclinic.patients.models import Patient
from mesoclinic.reminders.models import Reminder, ReminderStatus
from mesoclinic.reminders.testing import failed_reminder
from mesoclinic.reminders.tests.conftest import local, weekday_soon

Clients = Callable[[User], Client]
API = "/api/v1/reminders/"


def test_the_page_lists_failed_and_coming_reminders_in_clinic_time(
    client_for: Clients, bookable_pat: User, patient: Patient, asha: User
) -> None:
    clinic = patient.clinic
    day = weekday_soon(clinic)
    booking.book(
        patient=patient,
        practitioner=bookable_pat,
        starts_at=local(clinic, day, 9, 15),
        minutes=30,
        actor=bookable_pat,
    )
    failed = failed_reminder(bookable_pat)

    response = client_for(asha).get(reverse("reminders:list"))

    assert response.status_code == 200
    page = response.content.decode()
    day_before = (day - timedelta(days=1)).isoformat()
    # 10:00 in Paris, whatever the server's zone; and the session itself at 09:15.
    assert f"{day_before} 10:00" in page
    assert "Your mesotherapy session tomorrow at 09:15" in page
    assert "camille.rousseau@example.org" in page
    assert "Moreau, Inès" in page and "550 5.1.1 No such mailbox" in page
    assert reverse("reminders:retry", args=[failed.pk]) in page
    assert 'href="/reminders/"' in page  # in the menu
    event = AuditEvent.objects.filter(action=AuditAction.VIEW, actor=asha).latest("pk")
    assert set(event.detail["listed_patient_ids"]) == {patient.pk, failed.patient_id}


def test_retrying_from_the_page_sends_it_again_and_is_audited(
    client_for: Clients, pat: User, asha: User
) -> None:
    reminder = failed_reminder(pat)

    response = client_for(asha).post(reverse("reminders:retry", args=[reminder.pk]))

    assert response.status_code == 302
    reminder.refresh_from_db()
    assert (reminder.status, reminder.attempts, reminder.last_error) == ("pending", 0, "")
    assert reminder.next_attempt_at >= reminder.due_at
    event = AuditEvent.objects.filter(action=AuditAction.UPDATE, actor=asha).latest("pk")
    assert event.object_id == str(reminder.pk)
    assert event.detail["previous_error"].startswith("SMTPRecipientsRefused")
    assert event.patient_id == reminder.patient_id


def test_a_retry_the_reminder_cannot_take_says_why(
    client_for: Clients, pat: User, asha: User
) -> None:
    reminder = failed_reminder(pat)
    Reminder.objects.filter(pk=reminder.pk).update(status=ReminderStatus.SENT)

    response = client_for(asha).post(reverse("reminders:retry", args=[reminder.pk]), follow=True)

    assert "Only a failed reminder can be retried; this one is sent." in response.content.decode()


def test_a_reminder_whose_session_has_started_is_not_retried(
    client_for: Clients, pat: User
) -> None:
    reminder = failed_reminder(pat)
    assert reminder.appointment is not None
    started = timezone.now() - timedelta(minutes=5)
    type(reminder.appointment).objects.filter(pk=reminder.appointment.pk).update(
        starts_at=started, ends_at=started + timedelta(minutes=30)
    )

    response = client_for(pat).post(f"{API}{reminder.pk}/retry")

    assert response.status_code == 422
    assert "The session had started" in response.json()["detail"]
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.FAILED


def test_a_researcher_is_refused_the_page_and_the_api(
    client_for: Clients, rhea: User, pat: User
) -> None:
    reminder = failed_reminder(pat)
    client = client_for(rhea)

    assert client.get(reverse("reminders:list")).status_code == 403
    assert client.post(reverse("reminders:retry", args=[reminder.pk])).status_code == 403
    assert client.get(API).status_code == 403
    assert client.post(f"{API}{reminder.pk}/retry").status_code == 403
    reminder.refresh_from_db()
    assert reminder.status == ReminderStatus.FAILED


def test_another_clinic_s_reminder_is_not_found(
    client_for: Clients, bob: User, pat: User, alice: User
) -> None:
    theirs = failed_reminder(bob)
    client = client_for(alice)

    assert client.post(reverse("reminders:retry", args=[theirs.pk])).status_code == 404
    assert client.post(f"{API}{theirs.pk}/retry").status_code == 404
    assert client.get(API).json()["count"] == 0
    assert theirs.patient.family_name not in client.get(reverse("reminders:list")).content.decode()
    theirs.refresh_from_db()
    assert theirs.status == ReminderStatus.FAILED


def test_the_api_lists_by_status_and_retries(client_for: Clients, pat: User) -> None:
    failed = failed_reminder(pat)
    client = client_for(pat)

    listed = client.get(API, {"status": "failed"}).json()
    assert listed["count"] == 1
    (item,) = listed["items"]
    assert item["id"] == failed.pk
    assert item["status"] == "failed" and item["kind"] == "day_before"
    assert item["language"] == "fr"
    assert item["subject"] == "Votre séance de mésothérapie demain à 7 h"
    assert client.get(API, {"status": "sent"}).json()["count"] == 0
    assert client.get(API, {"status": "lost"}).status_code == 422

    retried = client.post(f"{API}{failed.pk}/retry")

    assert retried.status_code == 200
    assert retried.json()["status"] == "pending" and retried.json()["attempts"] == 0
    again = client.post(f"{API}{failed.pk}/retry")
    assert again.status_code == 422
    assert again.json()["detail"] == "Only a failed reminder can be retried; this one is pending."
