"""Photos of a side effect: stored clean (no EXIF, no GPS), by the event's clinic or its own
patient only, never for a retracted event; served to the event's clinic only, audited."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from mesoclinic.charts.models import Chart
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.followup import services
from mesoclinic.followup.models import AdverseEvent, EventPhoto, Reporter
from mesoclinic.followup.photos import add_event_photo, event_photo_bytes
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient
from mesoclinic.portal.testing import portal_user

GPS_IFD = 0x8825


def exif_jpeg(size: tuple[int, int] = (64, 48)) -> bytes:
    """A photo as a phone writes it: a camera name and a GPS position in its EXIF, and a
    comment naming the patient."""
    image = Image.new("RGB", size, (200, 60, 60))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (48.0, 51.0, 0.0)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90, exif=exif, comment=b"Jane Doe")
    return out.getvalue()


def upload(data: bytes, name: str = "IMG_0001.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


@pytest.fixture
def event(chart: Chart, asha: User) -> AdverseEvent:
    return services.report_event(
        chart,
        services.EventSpec(onset_on=services.session_day(chart), grade=1, side_effect="redness"),
        asha,
        Reporter.STAFF,
    )


def test_a_photo_is_stored_without_its_metadata_and_the_upload_is_audited(
    event: AdverseEvent, asha: User
) -> None:
    original = exif_jpeg()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(GPS_IFD)  # the GPS is there

    photo = add_event_photo(event, upload(original), asha)

    data = event_photo_bytes(photo)
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG"
    assert (photo.width, photo.height) == stored.size == (64, 48)
    assert len(stored.getexif()) == 0
    for trace in (b"Exif\x00\x00", b"PhoneMaker", b"Jane Doe"):
        assert trace not in data
    assert "IMG_0001" not in (photo.image.name or "")
    created = AuditEvent.objects.get(action=AuditAction.CREATE, object_type="followup.EventPhoto")
    assert created.actor == asha
    assert created.patient_id == event.patient_id
    assert created.detail["event_id"] == event.pk
    assert created.detail["sha256"] == photo.sha256


def test_the_patient_adds_a_photo_to_their_own_event_and_no_one_elses(
    event: AdverseEvent, patient: Patient, asha: User
) -> None:
    own = portal_user(patient)
    assert add_event_photo(event, upload(exif_jpeg()), own).uploaded_by == own
    stranger = portal_user(make_patient(asha, given_name="Noor", email="noor@example.org"))
    with pytest.raises(ValidationError):
        add_event_photo(event, upload(exif_jpeg()), stranger)
    assert EventPhoto.objects.count() == 1


def test_what_is_not_a_photo_is_refused_and_nothing_is_stored(
    event: AdverseEvent, asha: User, media: Path
) -> None:
    for data in (b"not an image at all", b"", exif_jpeg()[:200]):
        with pytest.raises(ValidationError):
            add_event_photo(event, upload(data), asha)
    assert not EventPhoto.objects.exists()
    assert stored_files(media) == []


def test_a_retracted_event_takes_no_photo(event: AdverseEvent, pat: User) -> None:
    services.retract_event(event, "Recorded on the wrong patient.", pat)
    event.refresh_from_db()
    with pytest.raises(ValidationError, match="retracted"):
        add_event_photo(event, upload(exif_jpeg()), pat)
    assert not EventPhoto.objects.exists()


def test_the_event_page_shows_its_photos_and_serves_them_to_its_clinic_only(
    client_for: Callable[[User], Client], event: AdverseEvent, asha: User, pat: User, bob: User
) -> None:
    photo = add_event_photo(event, upload(exif_jpeg()), asha)
    url = f"/follow-up/event-photos/{photo.pk}/"

    page = client_for(pat).get(f"/follow-up/events/{event.pk}/").content.decode()
    assert f'src="{url}"' in page
    response = client_for(pat).get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response.content == event_photo_bytes(photo)
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, object_type="followup.EventPhoto", actor=pat
    ).exists()

    assert client_for(bob).get(url).status_code == 404
    assert not AuditEvent.objects.filter(actor=bob, object_type="followup.EventPhoto").exists()
    assert client_for(pat).post(url).status_code == 405
