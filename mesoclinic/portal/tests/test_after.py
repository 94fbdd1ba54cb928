"""After the session in the portal: the aftercare page (urgent advice first, the sessions and
their follow-up), the 24-hour questions answered once, and a side effect reported at any time
with a photo, which the clinic sees at once as a flag. Another patient reaches none of it."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from mesoclinic.charts import services as charts
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.courses.models import CoursePlan
from mesoclinic.followup import services
from mesoclinic.followup.models import (
    AdverseEvent,
    EventPhoto,
    Flag,
    FlagKind,
    FollowUp,
    FollowUpChannel,
    Reporter,
)
from mesoclinic.followup.photos import event_photo_bytes
from mesoclinic.followup.testing import hours_ago, signed_chart
from mesoclinic.followup.tests.test_photos import exif_jpeg
from mesoclinic.formulas.models import Lot

ClientFor = Callable[[User], Client]


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def follow_up_url(chart: Chart) -> str:
    return f"/portal/aftercare/sessions/{chart.pk}/follow-up/"


def report_url(chart: Chart) -> str:
    return f"/portal/aftercare/sessions/{chart.pk}/report/"


def follow_up_form(**present: int) -> dict[str, str]:
    return {code: str(present.get(code, 0)) for code, _ in services.FOLLOW_UP_QUESTIONS} | {
        "day_off_work": "no",
        "notes": "",
    }


def report_form(chart: Chart, **changes: Any) -> dict[str, Any]:
    return {
        "side_effect": "redness",
        "other_description": "",
        "body_area": "forehead",
        "onset_on": chart.clinic.today().isoformat(),
        "grade": "2",
        "notes": "Warm to the touch.",
    } | changes


def photo(data: bytes | None = None, name: str = "IMG_0042 Camille.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data if data is not None else exif_jpeg(), "image/jpeg")


def records() -> dict[str, int]:
    return {
        "follow_ups": FollowUp.objects.count(),
        "events": AdverseEvent.objects.count(),
        "flags": Flag.objects.count(),
        "photos": EventPhoto.objects.count(),
    }


# --- the aftercare page ---------------------------------------------------------------------


def test_aftercare_puts_the_urgent_advice_first_then_each_session_and_its_follow_up(
    portal: Client,
    chart: Chart,
    day_old_chart: Chart,
    old_chart: Chart,
    face_plan: CoursePlan,
    asha: User,
    lot: Lot,
) -> None:
    services.record_follow_up(
        old_chart, {c: 0 for c, _ in services.FOLLOW_UP_QUESTIONS}, asha, FollowUpChannel.PHONE
    )
    # The lot was received a month ago: a session 40 days ago needs it received earlier.
    Lot.objects.filter(pk=lot.pk).update(received_on=lot.received_on - timedelta(days=30))
    lot.refresh_from_db()
    earlier = signed_chart(face_plan, asha, lot, ended_at=hours_ago(24 * 40), session_number=4)

    response = portal.get("/portal/aftercare/")

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<h1") == 1
    urgent = html.index("When to get help now")
    assert urgent < html.index("What is expected") < html.index("Your recent sessions")
    assert "signs of infection" in html
    assert "trouble breathing" in html
    assert "usually settle within about a day" in html
    # Session 1 (5 minutes ago): not yet; session 2 (30 hours): due; session 3: answered.
    assert "A few questions open on" in html
    assert f'href="{follow_up_url(day_old_chart)}"' in html
    assert "Waiting for your answers" in html
    assert "Questions answered" in html
    for each in (chart, day_old_chart, old_chart, earlier):
        assert f'href="{report_url(each)}"' in html
    assert html.index("Earlier sessions") < html.index(report_url(earlier))
    assert AuditEvent.objects.filter(action=AuditAction.VIEW, detail__portal="aftercare").exists()


# --- the 24-hour follow-up ------------------------------------------------------------------


def test_the_follow_up_is_answered_once_and_then_shows_the_answers(
    portal: Client, day_old_chart: Chart, patient_user: User
) -> None:
    html = portal.get(follow_up_url(day_old_chart)).content.decode()
    assert "Any swelling?" in html
    assert "A little: I notice it" in html
    assert "<legend>" in html

    response = portal.post(follow_up_url(day_old_chart), follow_up_form())

    assert response.status_code == 302
    follow_up = FollowUp.objects.get(chart=day_old_chart)
    assert (follow_up.channel, follow_up.answered_by) == (FollowUpChannel.PORTAL, patient_user)
    assert not AdverseEvent.objects.exists()
    html = portal.get(follow_up_url(day_old_chart)).content.decode()
    assert "Your answers" in html
    assert "your answers are with the clinic" in html
    assert "The clinic has been told" not in html
    assert "Send my answers" not in html

    before = records()
    response = portal.post(follow_up_url(day_old_chart), follow_up_form(swelling=3))
    assert response.status_code == 400
    assert "already answered" in response.content.decode()
    assert records() == before


def test_a_side_effect_still_there_becomes_an_event_and_the_clinic_is_told(
    portal: Client, day_old_chart: Chart, client_for: ClientFor, pat: User
) -> None:
    response = portal.post(follow_up_url(day_old_chart), follow_up_form(swelling=2))

    assert response.status_code == 302
    event = AdverseEvent.objects.get()
    assert event.side_effect is not None
    assert (event.side_effect.code, event.grade, event.reporter) == (
        "swelling",
        2,
        Reporter.PATIENT,
    )
    kinds = set(Flag.objects.filter(adverse_event=event).values_list("kind", flat=True))
    assert {FlagKind.PATIENT_REPORT, FlagKind.PERSISTING} <= kinds
    html = portal.get(follow_up_url(day_old_chart)).content.decode()
    assert "The clinic has been told and will contact you." in html
    assert "When to get help now" in html
    assert "Moderate" in html
    assert (
        "Swelling reported by the patient." in client_for(pat).get("/follow-up/").content.decode()
    )


def test_the_follow_up_opens_a_day_after_the_session(portal: Client, chart: Chart) -> None:
    html = portal.get(follow_up_url(chart)).content.decode()
    assert "These questions open on" in html
    assert portal.post(follow_up_url(chart), follow_up_form()).status_code == 400
    assert not FollowUp.objects.exists()


def test_an_incomplete_follow_up_is_shown_again_and_records_nothing(
    portal: Client, day_old_chart: Chart
) -> None:
    form = follow_up_form(swelling=2)
    del form["pain"]
    form["redness"] = "5"
    response = portal.post(follow_up_url(day_old_chart), form)
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please choose an answer." in html
    assert 'aria-invalid="true"' in html
    assert records() == {"follow_ups": 0, "events": 0, "flags": 0, "photos": 0}


# --- reporting a side effect ----------------------------------------------------------------


def test_a_report_with_a_photo_flags_it_for_the_clinic_at_once_and_keeps_a_clean_photo(
    portal: Client, chart: Chart, patient_user: User, client_for: ClientFor, pat: User
) -> None:
    html = portal.get(report_url(chart)).content.decode()
    assert "Redness" in html
    assert "Something else" in html
    assert 'enctype="multipart/form-data"' in html

    response = portal.post(report_url(chart), report_form(chart, photo=photo()))

    assert response.status_code == 302
    event = AdverseEvent.objects.get()
    assert response["Location"] == f"/portal/aftercare/reports/{event.pk}/"
    assert (event.reporter, event.reported_by) == (Reporter.PATIENT, patient_user)
    assert event.side_effect is not None and event.body_area is not None
    assert (event.side_effect.code, event.body_area.code, event.grade) == ("redness", "forehead", 2)
    assert event.notes == "Warm to the touch."
    flag = Flag.objects.get(adverse_event=event, kind=FlagKind.PATIENT_REPORT)
    assert flag.is_open and flag.assigned_to == chart.practitioner
    stored = EventPhoto.objects.get(event=event)
    data = event_photo_bytes(stored)
    assert len(Image.open(io.BytesIO(data)).getexif()) == 0
    assert b"PhoneMaker" not in data and b"Camille" not in data
    assert stored.uploaded_by == patient_user

    dashboard = client_for(pat).get("/follow-up/").content.decode()
    assert "Reported by the patient" in dashboard
    assert "Redness reported by the patient." in dashboard

    confirmation = portal.get(response["Location"]).content.decode()
    assert "The clinic has been told and will contact you." in confirmation
    assert f"/portal/aftercare/photos/{stored.pk}/" in confirmation
    served = portal.get(f"/portal/aftercare/photos/{stored.pk}/")
    assert served.status_code == 200
    assert served["Content-Type"] == "image/jpeg"
    assert served.content == data


def test_something_else_is_described_and_may_come_weeks_later(
    portal: Client, old_chart: Chart
) -> None:
    response = portal.post(
        report_url(old_chart),
        report_form(old_chart, side_effect="other", other_description="A hard lump", body_area=""),
    )
    assert response.status_code == 302
    event = AdverseEvent.objects.get()
    assert (event.side_effect, event.other_description, event.body_area) == (
        None,
        "A hard lump",
        None,
    )
    assert not EventPhoto.objects.exists()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"photo": photo(b"this is not a photo", "notes.jpg")},
            "This file is not a JPEG, PNG or WebP",
        ),
        (
            {"photo": photo(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64, "IMG_1.HEIC")},
            "format (HEIC)",
        ),
        ({"side_effect": "other", "other_description": ""}, "Please say what you have noticed."),
        ({"grade": "4"}, "Select a valid choice."),
        ({"body_area": "thighs"}, "Select a valid choice."),
        ({"onset_on": "2001-01-01"}, "It cannot have started before your session"),
    ],
)
def test_a_report_that_cannot_be_kept_is_shown_again_and_leaves_nothing(
    portal: Client, chart: Chart, media: Path, changes: dict[str, Any], message: str
) -> None:
    response = portal.post(report_url(chart), report_form(chart, **changes))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert records() == {"follow_ups": 0, "events": 0, "flags": 0, "photos": 0}
    assert stored_files(media) == []


# --- another patient --------------------------------------------------------------------


def test_another_patient_reaches_none_of_it(
    other_portal: Client, portal: Client, chart: Chart, day_old_chart: Chart
) -> None:
    portal.post(report_url(chart), report_form(chart, photo=photo()))
    event = AdverseEvent.objects.get()
    stored = EventPhoto.objects.get()
    before = records()

    for url in (
        follow_up_url(day_old_chart),
        report_url(chart),
        f"/portal/aftercare/reports/{event.pk}/",
        f"/portal/aftercare/photos/{stored.pk}/",
    ):
        assert other_portal.get(url).status_code == 404, url
    assert other_portal.post(follow_up_url(day_old_chart), follow_up_form()).status_code == 404
    assert (
        other_portal.post(report_url(chart), report_form(chart, photo=photo())).status_code == 404
    )
    assert records() == before

    html = other_portal.get("/portal/aftercare/").content.decode()
    assert report_url(chart) not in html
    assert "You have had no session in the last 30 days." in html


def test_a_session_whose_chart_is_not_signed_is_not_found(
    portal: Client, face_plan: CoursePlan, bookable_pat: User, asha: User
) -> None:
    draft = charts.start_chart(ready_session(face_plan, asha, session_number=5), bookable_pat)
    assert portal.get(report_url(draft)).status_code == 404
    assert portal.get(follow_up_url(draft)).status_code == 404
