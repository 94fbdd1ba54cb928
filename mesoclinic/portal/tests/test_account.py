"""The account page (who the patient is to the clinic, changing the password) and "who opened
my record": clinic staff's reads and writes of this patient's record, in plain words and the
clinic's time, never the patient's own reads or another patient's events; read audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.clinics.testing import PASSWORD
from mesoclinic.patients.models import Patient
from mesoclinic.portal.views_access import LOG_PAGE_SIZE, describe, staff_accesses

ACCOUNT = reverse("portal:account")
LOG = reverse("portal:access-log")
NEW_PASSWORD = "lantern orchard pebble 42"


@pytest.fixture(autouse=True)
def fast_hashes(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# --- the account page -------------------------------------------------------------------------


def test_the_account_page_shows_who_the_patient_is(portal: Client, patient: Patient) -> None:
    page = portal.get(ACCOUNT)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Camille Rousseau" in html and "camille.rousseau@example.org" in html
    assert "English" in html
    assert f'href="{LOG}"' in html
    assert html.count("<h1") == 1
    for name in ("old_password", "new_password1", "new_password2"):
        assert f'name="{name}"' in html and f'for="id_{name}"' in html
    read = AuditEvent.objects.get(action=AuditAction.VIEW, detail__portal="account")
    assert read.patient_id == patient.pk


def test_the_patient_changes_their_password(
    portal: Client, patient: Patient, patient_user: User
) -> None:
    response = portal.post(
        ACCOUNT,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response["Location"] == ACCOUNT
    # This session stays signed in; the new password is the one that works.
    assert portal.get(ACCOUNT).status_code == 200
    patient_user.refresh_from_db()
    assert patient_user.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, actor=patient_user, detail__password_changed=True
    ).exists()


def test_another_session_ends_when_the_password_changes(
    portal: Client, patient: Patient, patient_user: User
) -> None:
    elsewhere = Client()
    elsewhere.force_login(patient_user)
    portal.post(
        ACCOUNT,
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert elsewhere.get(ACCOUNT).status_code == 302


@pytest.mark.parametrize(
    ("old", "new1", "new2", "error_on"),
    [
        ("wrong password", NEW_PASSWORD, NEW_PASSWORD, "old_password"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "new_password2"),
        (PASSWORD, "12345678", "12345678", "new_password2"),
    ],
)
def test_a_refused_password_change_changes_nothing(
    portal: Client, patient_user: User, old: str, new1: str, new2: str, error_on: str
) -> None:
    response = portal.post(
        ACCOUNT, {"old_password": old, "new_password1": new1, "new_password2": new2}
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert f'aria-describedby="id_{error_on}_error"' in html or (
        f'id="id_{error_on}_error"' in html
    )
    patient_user.refresh_from_db()
    assert patient_user.check_password(PASSWORD)
    assert not AuditEvent.objects.filter(detail__password_changed=True).exists()


# --- who opened my record ---------------------------------------------------------------------


def test_the_log_lists_staff_reads_of_the_record(
    client_for: Any, asha: User, portal: Client, patient: Patient
) -> None:
    client_for(asha).get(reverse("patients:detail", kwargs={"pk": patient.pk}))

    page = portal.get(LOG)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Asha Assistant" in html and "assistant" in html
    assert "Opened your record" in " ".join(html.split())


def test_the_patients_own_reads_and_other_patients_events_are_not_listed(
    client_for: Any,
    pat: User,
    patient: Patient,
    patient_user: User,
    other_patient: Patient,
    portal: Client,
) -> None:
    portal.get(ACCOUNT)
    portal.get(LOG)
    client_for(pat).get(reverse("patients:detail", kwargs={"pk": other_patient.pk}))
    listed = list(staff_accesses(patient))
    assert listed
    assert all(event.patient_id == patient.pk for event in listed)
    assert all(event.actor_id != patient_user.pk for event in listed)
    assert "Pat Practitioner" not in portal.get(LOG).content.decode()


def test_the_log_says_what_was_opened_in_plain_words(asha: User, patient: Patient) -> None:
    kinds = {
        "charts.Chart": "your chart",
        "consent.ConsentDocument": "your consent form",
        "charts.ChartPhoto": "a photo of you",
        "followup.AdverseEvent": "a side-effect report",
        "patients.Patient": "your record",
        "something.Unknown": "your record",
    }
    for object_type, words in kinds.items():
        event = AuditEvent.objects.create(
            actor=asha,
            clinic_id=patient.clinic_id,
            action=AuditAction.VIEW,
            object_type=object_type,
            patient_id=patient.pk,
        )
        access = describe(event)
        assert (access.did, access.what) == ("Opened", words), object_type
        assert (access.who, access.role) == ("Asha Assistant", "assistant")
    updated = AuditEvent.objects.create(
        actor=asha, action=AuditAction.UPDATE, object_type="charts.Chart", patient_id=patient.pk
    )
    assert describe(updated).did == "Changed"


def test_the_log_shows_the_clinics_time_newest_first(
    portal: Client, asha: User, pat: User, patient: Patient
) -> None:
    older = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)  # 13:00 in Paris
    newer = datetime(2025, 7, 15, 12, 0, tzinfo=UTC)  # 14:00 in Paris (summer time)
    for at, actor, kind in ((older, asha, "charts.Chart"), (newer, pat, "courses.CoursePlan")):
        AuditEvent.objects.create(
            at=at,
            actor=actor,
            clinic_id=patient.clinic_id,
            action=AuditAction.VIEW,
            object_type=kind,
            patient_id=patient.pk,
        )
    html = " ".join(portal.get(LOG).content.decode().split())
    assert "Jan. 15, 2025, 1 p.m." in html and "July 15, 2025, 2 p.m." in html
    assert html.index("July 15, 2025") < html.index("Jan. 15, 2025")
    assert html.index("your course plan") < html.index("your chart")


def test_the_log_is_paginated(portal: Client, asha: User, patient: Patient) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    AuditEvent.objects.bulk_create(
        AuditEvent(
            at=start + timedelta(hours=n),
            actor=asha,
            clinic_id=patient.clinic_id,
            action=AuditAction.VIEW,
            object_type="charts.Chart",
            patient_id=patient.pk,
        )
        for n in range(LOG_PAGE_SIZE + 5)
    )
    total = staff_accesses(patient).count()
    first = portal.get(LOG)
    assert first.context["page"].paginator.num_pages == 2
    assert len(first.context["accesses"]) == LOG_PAGE_SIZE
    assert 'href="?page=2"' in first.content.decode()
    second = portal.get(LOG, {"page": 2})
    assert len(second.context["accesses"]) == total - LOG_PAGE_SIZE
    assert second.status_code == 200
    assert portal.get(LOG, {"page": "many"}).status_code == 200


def test_reading_the_log_is_audited(portal: Client, patient: Patient, patient_user: User) -> None:
    portal.get(LOG)
    read = AuditEvent.objects.get(action=AuditAction.VIEW, detail__portal="access-log")
    assert read.actor == patient_user and read.patient_id == patient.pk


def test_another_patient_sees_only_their_own_log(
    client_for: Any, asha: User, patient: Patient, other_patient: Patient, other_portal: Client
) -> None:
    client_for(asha).get(reverse("patients:detail", kwargs={"pk": patient.pk}))
    before = len(other_portal.get(LOG).context["accesses"])
    client_for(asha).get(reverse("patients:detail", kwargs={"pk": patient.pk}))
    assert len(other_portal.get(LOG).context["accesses"]) == before


def test_staff_cannot_open_the_patients_pages(
    client_for: Any, asha: User, patient_user: User
) -> None:
    client = client_for(asha)
    assert client.get(ACCOUNT).status_code == 403
    assert client.get(LOG).status_code == 403


def test_signing_in_is_needed(client: Client, db: None) -> None:
    for url in (ACCOUNT, LOG):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('portal:login')}?next={url}"
