"""The chart's photos: stored as a clean JPEG (upright, no EXIF, no GPS, no XMP, no ICC, no
comment), refused with a clear message when not an accepted image (and then nothing stored),
frozen with a signed chart, served only to the chart's clinic (audited), compared across a
course's sessions by time point, and asked for at the course's baseline and end."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image, ImageCms

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.charts import photos, services
from mesoclinic.charts.models import Chart, ChartPhoto, PhotoMoment, PhotoView
from mesoclinic.charts.testing import ready_session, simple_draft
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.clinics.testing import PASSWORD, sign_in
from mesoclinic.courses.booking import stop_plan
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.formulas.models import FormulaVersion, Lot
from mesoclinic.screening.tests.conftest import make_plan

GPS_IFD = 0x8825
ORIENTATION = 0x0112
RED = (220, 20, 20)
BLUE = (20, 20, 220)


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def stored_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def photo_jpeg(
    size: tuple[int, int] = (64, 32), *, orientation: int | None = None, gps: bool = True
) -> bytes:
    """Red on the left half, blue on the right, with GPS, a camera name, an ICC profile, XMP
    and a comment naming the patient: everything the stored photo must not keep."""
    image = Image.new("RGB", size, RED)
    image.paste(BLUE, (size[0] // 2, 0, size[0], size[1]))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0110] = "Tablet 9"
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if gps:
        ifd = exif.get_ifd(GPS_IFD)
        ifd[1] = "N"
        ifd[2] = (48.0, 51.0, 0.0)
        ifd[3] = "E"
        ifd[4] = (2.0, 21.0, 0.0)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    image.save(
        out,
        "JPEG",
        quality=95,
        exif=exif,
        icc_profile=icc,
        comment=b"Jane Doe",
        xmp=b'<x:xmpmeta xmlns:x="adobe:ns:meta/">exif:GPSLatitude 48,51N</x:xmpmeta>',
    )
    return out.getvalue()


def noisy_jpeg(size: tuple[int, int] = (400, 300)) -> bytes:
    image = Image.effect_noise(size, 60).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def upload(data: bytes, name: str = "IMG_0001 Jane Doe.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="image/jpeg")


def forehead() -> BodyArea:
    return BodyArea.objects.get(code="forehead")


def add(
    chart: Chart,
    actor: User,
    data: bytes | None = None,
    *,
    moment: str = PhotoMoment.BEFORE,
    view: str = PhotoView.FRONT,
    area: str = "forehead",
) -> ChartPhoto:
    return photos.add_photo(
        chart,
        upload=upload(data if data is not None else photo_jpeg()),
        moment=moment,
        body_area=BodyArea.objects.get(code=area),
        view=view,
        actor=actor,
    )


def sign(chart: Chart, lot: Lot, pat: User) -> Chart:
    services.save_draft(chart, simple_draft(chart, lot), pat)
    return services.sign(chart, pat, PASSWORD)


def is_red(pixel: tuple[int, ...]) -> bool:
    return pixel[0] > 150 and pixel[2] < 100


def is_blue(pixel: tuple[int, ...]) -> bool:
    return pixel[2] > 150 and pixel[0] < 100


# --- what is stored ---------------------------------------------------------------------


def test_the_stored_photo_keeps_no_location_and_no_metadata_at_all(
    chart: Chart, asha: User, media: Path
) -> None:
    original = photo_jpeg()
    before = Image.open(io.BytesIO(original))
    assert before.getexif().get_ifd(GPS_IFD)[2] == (48.0, 51.0, 0.0)  # the GPS is there
    assert {"exif", "icc_profile", "comment", "xmp"} <= set(before.info)

    photo = add(chart, asha, original)

    data = photos.photo_bytes(photo)
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG"
    assert stored.mode == "RGB"
    assert len(stored.getexif()) == 0
    assert stored.getexif().get_ifd(GPS_IFD) == {}
    assert not {"exif", "icc_profile", "comment", "xmp"} & set(stored.info)
    for trace in (b"Exif\x00\x00", b"PhoneMaker", b"Jane Doe", b"GPSLatitude", b"xmpmeta"):
        assert trace not in data
    assert (photo.width, photo.height) == stored.size == (64, 32)
    assert photo.sha256 == hashlib.sha256(data).hexdigest()
    # Named by the chart, not by the upload (which carried the patient's name).
    name = photo.image.name or ""
    assert name.startswith(f"charts/{chart.clinic_id}/{chart.pk}/")
    assert "Jane" not in name
    assert [path.name for path in stored_files(media)] == [Path(name).name]
    assert photo.uploaded_by == asha
    assert abs(photo.taken_at - timezone.now()) < timedelta(minutes=1)
    assert AuditEvent.objects.filter(
        action=AuditAction.CREATE,
        object_type="charts.ChartPhoto",
        object_id=str(photo.pk),
        patient_id=chart.patient_id,
    ).exists()


def test_the_exif_orientation_is_applied_before_the_metadata_goes(chart: Chart, asha: User) -> None:
    # Orientation 6: stored landscape, shown turned a quarter clockwise (portrait).
    photo = add(chart, asha, photo_jpeg((64, 32), orientation=6))

    stored = Image.open(io.BytesIO(photos.photo_bytes(photo))).convert("RGB")
    assert stored.size == (32, 64)
    assert (photo.width, photo.height) == (32, 64)
    # The left half (red) is now on top, the right half (blue) below.
    assert is_red(stored.getpixel((16, 8)))  # type: ignore[arg-type]
    assert is_blue(stored.getpixel((16, 56)))  # type: ignore[arg-type]
    assert ORIENTATION not in stored.getexif()


def test_a_large_photo_is_scaled_down_to_2400_on_its_longest_side(chart: Chart, asha: User) -> None:
    photo = add(chart, asha, photo_jpeg((3000, 1500), gps=False))

    assert (photo.width, photo.height) == (2400, 1200)
    assert Image.open(io.BytesIO(photos.photo_bytes(photo))).size == (2400, 1200)


def test_a_png_with_transparency_is_stored_as_an_rgb_jpeg(chart: Chart, asha: User) -> None:
    image = Image.new("RGBA", (40, 40), (0, 0, 0, 0))
    image.paste((20, 20, 220, 255), (0, 0, 20, 40))

    photo = add(chart, asha, png(image))

    stored = Image.open(io.BytesIO(photos.photo_bytes(photo)))
    assert (stored.format, stored.mode) == ("JPEG", "RGB")
    assert is_blue(stored.getpixel((5, 20)))  # type: ignore[arg-type]
    assert min(stored.getpixel((35, 20))) > 240  # type: ignore[arg-type]  # transparent -> white


# --- what is refused --------------------------------------------------------------------


def assert_nothing_stored(chart: Chart, media: Path) -> None:
    assert not ChartPhoto.objects.filter(chart=chart).exists()
    assert stored_files(media) == []
    assert not AuditEvent.objects.filter(object_type="charts.ChartPhoto").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"%PDF-1.7 not a photo at all", "not a JPEG, PNG or WebP photo"),
        (b"", "empty"),
        (b"GIF89a" + b"\x00" * 40, "not a JPEG, PNG or WebP photo"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "HEIC photos"),
    ],
    ids=["not-an-image", "empty", "gif", "heic"],
)
def test_a_file_that_is_not_an_accepted_image_is_refused(
    chart: Chart, asha: User, media: Path, data: bytes, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        add(chart, asha, data)
    assert_nothing_stored(chart, media)


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_a_truncated_file_is_refused(chart: Chart, asha: User, media: Path, kind: str) -> None:
    whole = noisy_jpeg() if kind == "jpeg" else png(Image.effect_noise((300, 200), 60))
    with pytest.raises(ValidationError, match="damaged or incomplete"):
        add(chart, asha, whole[: len(whole) // 2])
    assert_nothing_stored(chart, media)


def test_a_file_over_15_mb_is_refused(chart: Chart, asha: User, media: Path) -> None:
    big = noisy_jpeg((50, 50)) + b"\x00" * (15 * 1024 * 1024)
    with pytest.raises(ValidationError, match="the most a photo may be is 15 MB"):
        add(chart, asha, big)
    assert_nothing_stored(chart, media)


def test_more_than_40_megapixels_is_refused_before_decoding(
    chart: Chart, asha: User, media: Path
) -> None:
    bomb = png(Image.new("1", (8000, 6000)))  # 48 megapixels in a few kilobytes
    assert len(bomb) < 100_000
    with pytest.raises(ValidationError, match=r"too many pixels .*40 megapixels"):
        add(chart, asha, bomb)
    assert_nothing_stored(chart, media)


def test_unknown_moment_view_or_retired_area_is_refused(
    chart: Chart, asha: User, media: Path
) -> None:
    with pytest.raises(ValidationError, match="Unknown moment"):
        add(chart, asha, moment="during")
    with pytest.raises(ValidationError, match="Unknown view"):
        add(chart, asha, view="under")
    BodyArea.objects.filter(code="forehead").update(retired=True)
    with pytest.raises(ValidationError, match="body area of the catalogue that is in use"):
        add(chart, asha)
    assert_nothing_stored(chart, media)


def test_taken_at_must_be_the_session_day_and_not_the_future(chart: Chart, asha: User) -> None:
    def at(moment: object) -> ChartPhoto:
        return photos.add_photo(
            chart,
            upload=upload(photo_jpeg()),
            moment=PhotoMoment.AFTER,
            body_area=forehead(),
            view=PhotoView.FRONT,
            taken_at=moment,  # type: ignore[arg-type]
            actor=asha,
        )

    with pytest.raises(ValidationError, match="future"):
        at(timezone.now() + timedelta(hours=1))
    with pytest.raises(ValidationError, match="day of the session"):
        at(chart.appointment.starts_at - timedelta(days=3))
    with pytest.raises(ValidationError, match="time zone"):
        at(timezone.now().replace(tzinfo=None))
    when = chart.appointment.starts_at + timedelta(minutes=1)
    assert at(when).taken_at == when


# --- a signed chart ---------------------------------------------------------------------


def test_a_signed_chart_takes_no_photo_and_loses_none(
    chart: Chart, asha: User, bookable_pat: User, lot: Lot, media: Path
) -> None:
    photo = add(chart, asha)
    sign(chart, lot, bookable_pat)
    chart.refresh_from_db()

    with pytest.raises(ValidationError, match="A signed chart takes no new photos"):
        add(chart, asha)
    with pytest.raises(ValidationError, match="A signed chart keeps its photos"):
        photos.remove_photo(photo, bookable_pat)

    assert list(ChartPhoto.objects.filter(chart=chart)) == [photo]
    assert len(stored_files(media)) == 1


def test_a_chart_signed_meanwhile_is_seen_under_the_lock(
    chart: Chart, asha: User, bookable_pat: User, lot: Lot, media: Path
) -> None:
    stale = Chart.objects.get(pk=chart.pk)
    sign(chart, lot, bookable_pat)
    assert stale.signed_at is None  # the caller's copy is out of date

    with pytest.raises(ValidationError, match="A signed chart takes no new photos"):
        add(stale, asha)
    assert_nothing_stored(chart, media)


def test_a_draft_photo_is_removed_with_its_file(
    chart: Chart, asha: User, media: Path, django_capture_on_commit_callbacks: object
) -> None:
    photo = add(chart, asha)
    pk = photo.pk
    assert len(stored_files(media)) == 1

    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        photos.remove_photo(photo, asha)

    assert not ChartPhoto.objects.exists()
    assert stored_files(media) == []
    assert AuditEvent.objects.filter(
        action=AuditAction.DELETE, object_type="charts.ChartPhoto", object_id=str(pk)
    ).exists()


# --- the views --------------------------------------------------------------------------


def post_photo(client: Client, chart: Chart, data: bytes, *, htmx: bool = False) -> Any:
    return client.post(
        reverse("charts:photo-add", args=[chart.pk]),
        {
            "image": upload(data),
            "moment": PhotoMoment.BEFORE,
            "body_area": "forehead",
            "view": PhotoView.FRONT,
        },
        headers={"HX-Request": "true"} if htmx else None,
    )


def test_the_assistant_adds_a_photo_from_the_tablet(
    client: Client, chart: Chart, asha: User
) -> None:
    sign_in(client, asha)
    response = post_photo(client, chart, photo_jpeg())

    assert response.status_code == 302
    assert response["Location"] == reverse("charts:chart", args=[chart.pk])
    photo = ChartPhoto.objects.get(chart=chart)
    assert (photo.moment, photo.body_area.code, photo.view) == ("before", "forehead", "front")
    assert photo.uploaded_by == asha


def test_with_htmx_the_panel_comes_back_with_the_photo(
    client: Client, chart: Chart, asha: User
) -> None:
    sign_in(client, asha)
    response = post_photo(client, chart, photo_jpeg(), htmx=True)

    assert response.status_code == 200
    html = response.content.decode()
    photo = ChartPhoto.objects.get(chart=chart)
    assert 'id="chart-photos"' in html
    assert reverse("charts:photo-thumb", args=[photo.pk]) in html
    assert reverse("charts:photo-remove", args=[photo.pk]) in html
    assert (
        reverse("charts:photos-compare", args=[chart.patient_id])
        + f"?course={chart.plan_id}&amp;area=forehead&amp;view=front"
    ) in html
    assert 'capture="environment"' in html
    assert 'accept="image/*"' in html


def test_a_refused_upload_says_why_and_stores_nothing(
    client: Client, chart: Chart, asha: User, media: Path
) -> None:
    sign_in(client, asha)
    response = post_photo(client, chart, b"not an image")
    assert response.status_code == 302
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert shown == [photos.NOT_AN_IMAGE]

    response = post_photo(client, chart, b"not an image", htmx=True)
    assert response.status_code == 200
    assert photos.NOT_AN_IMAGE in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert_nothing_stored(chart, media)


def test_the_views_refuse_to_change_a_signed_chart(
    client: Client, chart: Chart, asha: User, bookable_pat: User, lot: Lot
) -> None:
    photo = add(chart, asha)
    sign(chart, lot, bookable_pat)
    sign_in(client, bookable_pat)

    response = post_photo(client, chart, photo_jpeg())
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("A signed chart takes no new photos" in m for m in shown)

    response = client.post(reverse("charts:photo-remove", args=[photo.pk]))
    shown = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("A signed chart keeps its photos" in m for m in shown)
    assert list(ChartPhoto.objects.filter(chart=chart)) == [photo]

    # The signed chart's panel shows the photo, without a form or a remove button.
    response = client.post(reverse("charts:photo-remove", args=[photo.pk]), HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert "A signed chart keeps its photos" in html
    assert reverse("charts:photo-thumb", args=[photo.pk]) in html
    assert reverse("charts:photo-remove", args=[photo.pk]) not in html
    assert 'type="file"' not in html


def test_removing_a_draft_photo_through_the_view(
    client: Client, chart: Chart, asha: User, media: Path
) -> None:
    photo = add(chart, asha)
    sign_in(client, asha)
    response = client.post(reverse("charts:photo-remove", args=[photo.pk]))
    assert response.status_code == 302
    assert not ChartPhoto.objects.exists()


def test_the_photo_is_served_privately_and_audited(
    client: Client, chart: Chart, asha: User
) -> None:
    photo = add(chart, asha)
    sign_in(client, asha)

    response = client.get(reverse("charts:photo", args=[photo.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert f"chart-{chart.pk}-photo-{photo.pk}.jpg" in response["Content-Disposition"]
    assert response.content == photos.photo_bytes(photo)
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW,
        actor=asha,
        object_type="charts.ChartPhoto",
        object_id=str(photo.pk),
        patient_id=chart.patient_id,
    ).exists()

    thumb = client.get(reverse("charts:photo-thumb", args=[photo.pk]))
    assert thumb.status_code == 200
    assert thumb["Cache-Control"] == "private, no-store"
    assert Image.open(io.BytesIO(thumb.content)).format == "JPEG"


def test_another_clinic_never_reaches_a_photo(
    client: Client, chart: Chart, asha: User, bob: User, media: Path
) -> None:
    photo = add(chart, asha)
    sign_in(client, bob)

    for name in ("charts:photo", "charts:photo-thumb"):
        assert client.get(reverse(name, args=[photo.pk])).status_code == 404
    assert client.post(reverse("charts:photo-remove", args=[photo.pk])).status_code == 404
    assert post_photo(client, chart, photo_jpeg()).status_code == 404
    compare = reverse("charts:photos-compare", args=[chart.patient_id])
    assert client.get(compare).status_code == 404

    assert list(ChartPhoto.objects.all()) == [photo]
    assert len(stored_files(media)) == 1
    assert not AuditEvent.objects.filter(actor=bob, action=AuditAction.VIEW).exists()


def test_a_role_without_chart_access_is_refused(
    client: Client, chart: Chart, asha: User, rhea: User
) -> None:
    photo = add(chart, asha)
    sign_in(client, rhea)

    assert client.get(reverse("charts:photo", args=[photo.pk])).status_code == 403
    assert client.get(reverse("charts:photo-thumb", args=[photo.pk])).status_code == 403
    assert client.post(reverse("charts:photo-remove", args=[photo.pk])).status_code == 403
    assert post_photo(client, chart, photo_jpeg()).status_code == 403
    compare = reverse("charts:photos-compare", args=[chart.patient_id])
    assert client.get(compare).status_code == 403
    assert ChartPhoto.objects.count() == 1


def test_signed_out_is_sent_to_sign_in_or_refused(client: Client, chart: Chart, asha: User) -> None:
    photo = add(chart, asha)
    response = client.get(reverse("charts:photo", args=[photo.pk]))
    assert response.status_code in (302, 403)
    assert response.get("Content-Type") != "image/jpeg"


def test_methods_are_checked(client: Client, chart: Chart, asha: User) -> None:
    photo = add(chart, asha)
    sign_in(client, asha)
    assert client.get(reverse("charts:photo-add", args=[chart.pk])).status_code == 405
    assert client.get(reverse("charts:photo-remove", args=[photo.pk])).status_code == 405
    assert client.post(reverse("charts:photo", args=[photo.pk])).status_code == 405


# --- comparing sessions -----------------------------------------------------------------


def test_time_points_are_named_relative_to_the_course() -> None:
    before, after = PhotoMoment.BEFORE, PhotoMoment.AFTER
    assert photos.time_point(1, 8) == "Baseline (session 1, before)"
    assert photos.time_point(1, 8, moment=before) == "Baseline (session 1, before)"
    assert photos.time_point(1, 8, moment=after) == "Session 1, after"
    assert photos.time_point(3, 8) == "Session 3"
    assert photos.time_point(3, 8, moment=after) == "Session 3, after"
    assert photos.time_point(8, 8) == "End of course (session 8, after)"
    assert photos.time_point(8, 8, moment=after) == "End of course (session 8, after)"
    assert photos.time_point(8, 8, moment=before) == "Session 8, before"
    assert photos.time_point(None, 8, maintenance=True) == "Maintenance session"
    # A course of one session: its before photos are the baseline, its after ones the end.
    assert photos.time_point(1, 1, moment=before) == "Baseline (session 1, before)"
    assert photos.time_point(1, 1, moment=after) == "End of course (session 1, after)"


def test_a_course_stopped_early_ends_at_its_last_charted_session(
    chart: Chart, face_plan: CoursePlan, bookable_pat: User
) -> None:
    assert photos.end_session(face_plan) == face_plan.sessions_planned > 1
    stop_plan(face_plan, "Moved abroad.", bookable_pat)
    face_plan.refresh_from_db()
    assert photos.end_session(face_plan) == 1


@pytest.fixture
def two_sessions(
    face_plan: CoursePlan, asha: User, bookable_pat: User, lot: Lot, chart: Chart
) -> tuple[Chart, Chart, list[ChartPhoto]]:
    """Session 1 (signed, two weeks ago) and session 2 (a draft, today), each with a
    forehead front photo before and after; session 1 also a left profile."""
    first = chart
    made = [
        add(first, asha, moment=PhotoMoment.BEFORE),
        add(first, asha, moment=PhotoMoment.AFTER),
        add(first, asha, view=PhotoView.LEFT),
    ]
    sign(first, lot, bookable_pat)
    Appointment.objects.filter(pk=first.appointment_id).update(
        starts_at=first.appointment.starts_at - timedelta(days=14),
        ends_at=first.appointment.ends_at - timedelta(days=14),
    )
    second = services.start_chart(ready_session(face_plan, asha, session_number=2), bookable_pat)
    made += [
        add(second, asha, moment=PhotoMoment.BEFORE),
        add(second, asha, moment=PhotoMoment.AFTER),
    ]
    first.refresh_from_db()
    return first, second, made


def test_comparison_labels_the_sessions_by_time_point_oldest_first(
    two_sessions: tuple[Chart, Chart, list[ChartPhoto]],
) -> None:
    first, second, made = two_sessions

    shown = photos.comparison(first.patient, area="forehead", view="front")

    assert shown.course is not None and shown.course.plan == first.plan
    rows = shown.sessions
    assert [row.chart for row in rows] == [first, second]
    assert [(row.before, row.after) for row in rows] == [
        ([made[0]], [made[1]]),
        ([made[3]], [made[4]]),
    ]
    assert [row.signed for row in rows] == [True, False]
    assert [row.label for row in rows] == ["Baseline (session 1, before)", "Session 2"]
    assert [row.days_from_baseline for row in rows] == [0, 14]
    assert [(o.photo, o.time_point) for o in shown.options] == [
        (made[0], "Baseline (session 1, before)"),
        (made[1], "Session 1, after"),
        (made[3], "Session 2, before"),
        (made[4], "Session 2, after"),
    ]
    day = rows[0].session_date
    assert shown.options[0].caption == f"Baseline (session 1, before) · {day:%Y-%m-%d}"
    left = photos.comparison(first.patient, area="forehead", view="left")
    assert [row.chart for row in left.sessions] == [first]
    assert [(c.area.code, c.view, c.sessions) for c in shown.choices] == [
        ("forehead", "front", 2),
        ("forehead", "left", 1),
    ]


def test_the_default_pair_is_the_baseline_against_the_latest_after_photo(
    two_sessions: tuple[Chart, Chart, list[ChartPhoto]],
) -> None:
    first, _second, made = two_sessions
    patient = first.patient

    pair = photos.comparison(patient, area="forehead", view="front").pair
    assert pair is not None
    assert (pair[0].photo, pair[1].photo) == (made[0], made[4])

    # Two chosen; an id not among this area's photos falls back to the default.
    chosen = photos.comparison(
        patient, area="forehead", view="front", first=str(made[1].pk), second=str(made[3].pk)
    ).pair
    assert chosen is not None and (chosen[0].photo, chosen[1].photo) == (made[1], made[3])
    stray = photos.comparison(
        patient, area="forehead", view="front", first=str(made[2].pk), second="x"
    ).pair
    assert stray is not None and (stray[0].photo, stray[1].photo) == (made[0], made[4])

    # One photo makes no pair.
    assert photos.comparison(patient, area="forehead", view="left").pair is None
    # The end of the course is its last session's after photo.
    options = photos.comparison(patient, area="forehead", view="front").options
    end = options[-1].photo.chart.plan.sessions_planned  # type: ignore[union-attr]
    assert photos.time_point(end, end, moment=PhotoMoment.AFTER) == (
        f"End of course (session {end}, after)"
    )


def test_the_compare_page_shows_the_pair_and_the_sessions(
    client: Client, two_sessions: tuple[Chart, Chart, list[ChartPhoto]], asha: User
) -> None:
    first, second, made = two_sessions
    sign_in(client, asha)
    url = reverse("charts:photos-compare", args=[first.patient_id])

    response = client.get(url, {"area": "forehead", "view": "front"})

    assert response.status_code == 200
    html = response.content.decode()
    for photo in (made[0], made[1], made[3], made[4]):
        assert reverse("charts:photo-thumb", args=[photo.pk]) in html
    assert reverse("charts:photo", args=[made[2].pk]) not in html  # the left profile
    assert html.index("Baseline (session 1, before)") < html.index("Session 2")
    assert "14 days after baseline" in html
    assert "Signed" in html and "Draft" in html
    for chart in (first, second):
        day = timezone.localdate(chart.appointment.starts_at, chart.clinic.tz)
        assert day.isoformat() in html
    assert f"?course={first.plan_id}&amp;area=forehead&amp;view=left" in html
    # The pair: side by side as served, the slider's range ready for compare.js.
    assert f'<img class="pair-photo" data-slot="first" src="/charts/photos/{made[0].pk}/"' in html
    assert f'<img class="pair-photo" data-slot="second" src="/charts/photos/{made[4].pk}/"' in html
    assert 'type="range" id="pair-split"' in html
    assert '<div class="pair-control" hidden>' in html
    assert re.search(r'<script src="[^"]*/charts/compare\.[^"]*js" defer>', html)
    assert f'<option value="{made[0].pk}"' in html
    event = AuditEvent.objects.filter(
        action=AuditAction.VIEW, actor=asha, object_type="patients.Patient"
    ).first()
    assert event is not None and event.patient_id == first.patient_id
    assert event.detail["photos"] == [p.pk for p in (made[0], made[1], made[3], made[4])]
    assert event.detail["pair"] == [made[0].pk, made[4].pk]
    assert event.detail["course"] == first.plan_id

    response = client.get(
        url,
        {"area": "forehead", "view": "front", "first": str(made[3].pk), "second": str(made[1].pk)},
    )
    html = response.content.decode()
    assert f'data-slot="first" src="/charts/photos/{made[3].pk}/"' in html
    assert f'data-slot="second" src="/charts/photos/{made[1].pk}/"' in html

    # Without a choice, the first area and view; an unknown one shows none, and says so.
    assert "Session 2" in client.get(url).content.decode()
    response = client.get(url, {"area": "cheeks", "view": "top"})
    assert response.status_code == 200
    assert "no photos of this patient for that area and view" in response.content.decode()


def test_photos_of_another_course_are_kept_apart(
    client: Client,
    two_sessions: tuple[Chart, Chart, list[ChartPhoto]],
    asha: User,
    bookable_pat: User,
    face_version: FormulaVersion,
) -> None:
    first, second, made = two_sessions
    later_plan = make_plan(
        first.patient, bookable_pat, "wrinkles-and-lines", ["forehead"], face_version
    )
    other = services.start_chart(ready_session(later_plan, asha), bookable_pat)
    other_photo = add(other, asha, moment=PhotoMoment.BEFORE)

    # The latest course shows by default; the other is one link away.
    shown = photos.comparison(first.patient, area="forehead", view="front")
    assert [c.plan for c in shown.courses] == [later_plan, first.plan]
    assert shown.course is not None and shown.course.plan == later_plan
    assert [p for row in shown.sessions for p in row.before] == [other_photo]
    assert shown.sessions[0].label == "Baseline (session 1, before)"
    assert shown.pair is None
    earlier = photos.comparison(
        first.patient, course=str(first.plan_id), area="forehead", view="front"
    )
    assert [row.chart for row in earlier.sessions] == [first, second]

    sign_in(client, asha)
    url = reverse("charts:photos-compare", args=[first.patient_id])
    html = client.get(url, {"course": str(first.plan_id)}).content.decode()
    assert f'?course={later_plan.pk}"' in html
    assert reverse("charts:photo-thumb", args=[made[0].pk]) in html
    assert reverse("charts:photo-thumb", args=[other_photo.pk]) not in html
    html = client.get(url, {"course": "0"}).content.decode()
    assert "no photos of this patient in that course" in html


def test_another_clinic_cannot_compare_the_patient_photos(
    client: Client, two_sessions: tuple[Chart, Chart, list[ChartPhoto]], bob: User
) -> None:
    first, _second, _made = two_sessions
    sign_in(client, bob)
    url = reverse("charts:photos-compare", args=[first.patient_id])
    for query in ({}, {"course": str(first.plan_id), "area": "forehead", "view": "front"}):
        assert client.get(url, query).status_code == 404
    assert client.get(reverse("courses:plan", args=[first.plan_id])).status_code == 404
    assert not AuditEvent.objects.filter(actor=bob, action=AuditAction.VIEW).exists()


# --- the photo sets a course asks for ---------------------------------------------------


def codes(areas: list[BodyArea]) -> list[str]:
    return [area.code for area in areas]


def test_the_baseline_and_end_photo_sets_are_checked_area_by_area(
    face_plan: CoursePlan, chart: Chart, asha: User
) -> None:
    baseline, end = photos.photo_sets(face_plan)
    assert (baseline.name, baseline.session_number, baseline.moment) == ("Baseline", 1, "before")
    assert (end.name, end.session_number, end.moment) == (
        "End-of-course",
        face_plan.sessions_planned,
        "after",
    )
    assert baseline.chart == chart and end.chart is None
    assert (codes(baseline.taken), codes(baseline.missing)) == ([], ["cheeks", "forehead"])
    assert codes(end.missing) == ["cheeks", "forehead"]

    # An after photo, or a photo of an area not planned, is no baseline photo.
    add(chart, asha, moment=PhotoMoment.AFTER, area="cheeks")
    add(chart, asha, area="forehead", view=PhotoView.LEFT)
    add(chart, asha, area="neck")
    baseline, end = photos.photo_sets(face_plan)
    assert (codes(baseline.taken), codes(baseline.missing)) == (["forehead"], ["cheeks"])
    assert baseline.missing_labels == "Cheeks"
    assert photos.requested_sets(chart) == [baseline]

    add(chart, asha, area="cheeks")
    baseline, _end = photos.photo_sets(face_plan)
    assert baseline.missing == []
    assert photos.requested_sets(chart) == []


def test_the_course_page_lists_what_photos_are_missing(
    client: Client, face_plan: CoursePlan, chart: Chart, asha: User, rhea: User
) -> None:
    add(chart, asha, area="forehead")
    sign_in(client, asha)
    url = reverse("courses:plan", args=[face_plan.pk])

    html = client.get(url).content.decode()

    assert "Baseline photos: missing for Cheeks" in html
    assert f'href="{reverse("charts:chart", args=[chart.pk])}#chart-photos"' in html
    assert "End-of-course photos: missing for Cheeks, Forehead" in html
    assert f"session {face_plan.sessions_planned} not charted yet" in html
    compare = reverse("charts:photos-compare", args=[face_plan.patient_id])
    assert f'href="{compare}?course={face_plan.pk}"' in html

    add(chart, asha, area="cheeks")
    html = client.get(url).content.decode()
    assert "Baseline photos: taken for every area" in html


def test_the_first_and_last_session_charts_ask_for_their_photo_set(
    client: Client, face_plan: CoursePlan, chart: Chart, asha: User, bookable_pat: User
) -> None:
    sign_in(client, asha)
    html = client.get(reverse("charts:chart", args=[chart.pk])).content.decode()
    assert (
        "<strong>Baseline photo set requested:</strong> take before photos of Cheeks, Forehead."
        in html
    )

    last = services.start_chart(
        ready_session(face_plan, asha, session_number=face_plan.sessions_planned), bookable_pat
    )
    add(last, asha, moment=PhotoMoment.AFTER, area="cheeks")
    html = client.get(reverse("charts:chart", args=[last.pk])).content.decode()
    assert "Baseline photo set requested" not in html
    assert (
        "<strong>End-of-course photo set requested:</strong> take after photos of Forehead." in html
    )

    # The prompt goes once the set is complete (htmx brings the panel back without it).
    response = post_photo(client, chart, photo_jpeg(), htmx=True)  # forehead, before
    assert "take before photos of Cheeks." in response.content.decode()
    add(chart, asha, area="cheeks")
    html = client.get(reverse("charts:chart", args=[chart.pk])).content.decode()
    assert "photo set requested" not in html

    middle = services.start_chart(ready_session(face_plan, asha, session_number=2), bookable_pat)
    html = client.get(reverse("charts:chart", args=[middle.pk])).content.decode()
    assert "photo set requested" not in html
