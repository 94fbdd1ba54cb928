"""My results: the patient's own measurements per course and scale (a table and a small SVG
chart per series, retracted values left out, nobody else's values), their own photos of
signed sessions with the baseline beside the latest, each photo served to them only,
privately, and audited; the page stays light however many values there are."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import formats, timezone, translation
from PIL import Image

from mesoclinic.catalogue.models import BodyArea, OutcomeScale
from mesoclinic.charts import photos
from mesoclinic.charts import services as charts
from mesoclinic.charts.models import Chart, ChartPhoto, PhotoMoment, PhotoView
from mesoclinic.charts.testing import ready_session, simple_draft
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.formulas.models import FormulaVersion, Lot
from mesoclinic.outcomes import services as outcomes
from mesoclinic.outcomes.models import Measurement, Rater
from mesoclinic.outcomes.testing import held_session, measure
from mesoclinic.patients.models import Patient
from mesoclinic.portal import results, sparkline
from mesoclinic.screening.tests.conftest import make_plan

RESULTS = reverse("portal:results")


@pytest.fixture(autouse=True)
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def local(plan: CoursePlan, days_ago: int, hour: int = 12) -> datetime:
    day = plan.clinic.today() - timedelta(days=days_ago)
    return datetime.combine(day, datetime.min.time(), tzinfo=plan.clinic.tz).replace(hour=hour)


@pytest.fixture
def other_plan(
    other_patient: Patient, bookable_pat: User, face_version: FormulaVersion
) -> CoursePlan:
    """Noor's own face course."""
    return make_plan(other_patient, bookable_pat, "wrinkles-and-lines", ["forehead"], face_version)


@pytest.fixture
def measured(
    face_plan: CoursePlan,
    other_plan: CoursePlan,
    bookable_pat: User,
    patient_user: User,
) -> dict[str, Measurement]:
    """Camille's course: a baseline, session 1 held, a value after it, her own GAIS rating and
    a retracted value; Noor's course: one value at a site of her own."""
    made = {
        "baseline": measure(face_plan, 3, local(face_plan, 23), bookable_pat, site="glabella"),
    }
    held_session(face_plan, bookable_pat, local(face_plan, 20, 10))
    made["after"] = measure(face_plan, 2, local(face_plan, 13), bookable_pat, site="glabella")
    made["own_rating"] = measure(
        face_plan,
        2,
        local(face_plan, 12),
        bookable_pat,
        scale="gais",
        rater=Rater.PATIENT,
        rated_by=patient_user,
    )
    made["retracted"] = measure(face_plan, 5, local(face_plan, 11), bookable_pat, site="glabella")
    outcomes.retract_measurement(made["retracted"], "Entered on the wrong patient.", bookable_pat)
    made["other"] = measure(other_plan, 4, local(other_plan, 5), bookable_pat, site="temple crease")
    return made


# --- the functions ----------------------------------------------------------------------------


def test_the_results_hold_only_the_patients_current_measurements(
    measured: dict[str, Measurement], patient: Patient, face_plan: CoursePlan
) -> None:
    found = results.results_of(patient)

    (course,) = found.courses
    assert course.plan == face_plan
    # The course's primary scale first.
    assert [s.scale.code for s in course.scales] == ["lemperle", "gais"]
    lemperle, gais = course.scales
    (series,) = lemperle.series
    assert series.site == "glabella"
    assert [row.measurement for row in series.rows] == [measured["baseline"], measured["after"]]
    assert [row.time_point for row in series.rows] == [
        "Before the course (baseline)",
        "After session 1",
    ]
    assert [row.value for row in series.rows] == ["3", "2"]
    assert series.rows[0].rated_by == "Pat Practitioner (practitioner)"
    assert lemperle.direction == "Lower is better on this scale."
    (row,) = gais.series[0].rows
    assert (row.value, row.rated_by) == ("2 (Much improved)", "You")
    assert measured["retracted"].pk not in found.measurement_ids
    assert measured["other"].pk not in found.measurement_ids
    assert series.summary.startswith("Lemperle wrinkle assessment, glabella: 2 measurements from ")
    assert "first 3, latest 2. Lower is better on this scale." in series.summary


def test_a_wide_scale_is_zoomed_but_never_to_less_than_50_steps(catalogue: None) -> None:
    short = OutcomeScale.objects.get(code="lemperle")
    assert results.value_range(short, [Decimal(2), Decimal(3)]) == (0, 5)
    wide = OutcomeScale.objects.get(code="circumference")
    low, high = results.value_range(wide, [Decimal("80.5"), Decimal(81)])
    assert low < Decimal("80.5") and high > 81
    assert high - low >= 50 * wide.step
    assert results.number(Decimal("80.500")) == "80.5"


def test_the_chart_is_an_image_with_a_summary_and_escapes_it() -> None:
    axis = sparkline.Axis(0, 10, "<b>0</b>", "10")
    svg = sparkline.line_chart(
        [0, 5, 10], [1, 4, 2], x_axis=axis, y_axis=axis, label='<script>"x"</script>'
    )

    assert svg.startswith('<svg class="spark" viewBox="0 0 320 140" width="320" height="140"')
    assert 'role="img"' in svg
    assert 'aria-label="&lt;script&gt;&quot;x&quot;&lt;/script&gt;"' in svg
    assert "<title>&lt;script&gt;" in svg and "<script>" not in svg
    assert "&lt;b&gt;0&lt;/b&gt;" in svg
    assert svg.count("<circle") == 3 and "<polyline" in svg
    # The highest value is drawn highest (SVG counts downwards).
    one = sparkline.line_chart([0], [7], x_axis=axis, y_axis=axis, label="one")
    assert one.count("<circle") == 1 and "<polyline" not in one


def test_the_thumbnail_size_fits_its_side() -> None:
    assert results.thumb_size(2400, 1600) == (480, 320)
    assert results.thumb_size(1000, 2000) == (240, 480)
    assert results.thumb_size(300, 200) == (300, 200)


# --- the page ---------------------------------------------------------------------------------


def test_the_page_shows_the_table_and_the_chart_of_each_series(
    measured: dict[str, Measurement], portal: Client, patient: Patient, patient_user: User
) -> None:
    response = portal.get(RESULTS)

    assert response.status_code == 200
    html = response.content.decode()
    assert html.count("<h1") == 1
    assert "Wrinkles and lines" in html
    assert "<caption" in html and "Lemperle wrinkle assessment, glabella</caption>" in html
    assert '<th scope="row">Before the course (baseline)</th>' in html
    assert '<th scope="row">After session 1</th>' in html
    assert "<td>2 (Much improved)</td><td>You</td>" in html
    assert "Pat Practitioner (practitioner)" in html
    assert "Lower is better on this scale." in html
    assert html.count('<svg class="spark"') == 2
    assert 'role="img" aria-label="Lemperle wrinkle assessment, glabella: 2 measurements' in html
    # Said once, plainly.
    assert html.count("A change in a score does not prove that the treatment caused it.") == 1
    # Nobody else's values, and no retracted one.
    assert "temple crease" not in html
    series = response.context["results"].courses[0].scales[0].series[0]
    assert len(series.rows) == 2 and html.count('<th scope="row">') == 3
    assert "plotly" not in html.lower() and "<script" not in html

    event = AuditEvent.objects.get(action=AuditAction.VIEW, detail__portal="results")
    assert (event.actor, event.patient_id) == (patient_user, patient.pk)
    assert sorted(event.detail["measurements"]) == sorted(
        m.pk for key, m in measured.items() if key not in ("retracted", "other")
    )


def test_the_other_patient_sees_only_their_own(
    measured: dict[str, Measurement], other_portal: Client
) -> None:
    html = other_portal.get(RESULTS).content.decode()

    assert "temple crease" in html
    assert "glabella" not in html and "You</td>" not in html


def test_without_results_the_page_says_so(patient: Patient, portal: Client) -> None:
    html = portal.get(RESULTS).content.decode()

    assert "There are no results yet." in html
    assert "<svg" not in html and "does not prove" not in html


def test_in_french_the_catalogues_english_names_say_so(
    measured: dict[str, Measurement], portal: Client
) -> None:
    portal.cookies[settings.LANGUAGE_COOKIE_NAME] = "fr"

    html = portal.get(RESULTS).content.decode()

    assert '<html lang="fr">' in html
    assert '<h3 lang="en">Lemperle wrinkle assessment</h3>' in html
    baseline = measured["baseline"]
    with translation.override("fr"):
        day = formats.date_format(
            timezone.localdate(baseline.measured_at, baseline.clinic.tz), "j F Y"
        )
    assert f'<td class="nowrap">{day}</td>' in html  # the date in French


def test_the_page_stays_light_with_many_measurements(
    face_plan: CoursePlan, bookable_pat: User, portal: Client
) -> None:
    start = datetime.now(face_plan.clinic.tz) - timedelta(days=200)
    for i in range(150):
        site = "glabella" if i % 2 else "crow's feet, left"
        measure(face_plan, i % 6, start + timedelta(hours=30 * i), bookable_pat, site=site)
    for i in range(50):
        measure(
            face_plan, 1 + i % 5, start + timedelta(hours=30 * i + 1), bookable_pat, scale="gais"
        )

    response = portal.get(RESULTS)

    assert response.status_code == 200
    assert len(response.context["results"].measurement_ids) == 200
    assert len(response.content) < 200 * 1024
    assert response.content.decode().count('<svg class="spark"') == 3


# --- photos -----------------------------------------------------------------------------------


def jpeg(size: tuple[int, int] = (600, 400)) -> SimpleUploadedFile:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 90)).save(out, "JPEG")
    return SimpleUploadedFile("photo.jpg", out.getvalue(), content_type="image/jpeg")


def photographed(
    plan: CoursePlan,
    staff: User,
    lot: Lot,
    session_number: int,
    moments: tuple[str, ...] = (PhotoMoment.BEFORE, PhotoMoment.AFTER),
    *,
    sign: bool = True,
) -> tuple[Chart, list[ChartPhoto]]:
    """Session ``session_number`` of ``plan`` charted with a front photo of the forehead at
    each of ``moments``, then signed unless asked not to."""
    chart = charts.start_chart(
        ready_session(plan, staff, session_number=session_number), plan.practitioner
    )
    made = [
        photos.add_photo(
            chart,
            upload=jpeg(),
            moment=moment,
            body_area=BodyArea.objects.get(code="forehead"),
            view=PhotoView.FRONT,
            actor=staff,
        )
        for moment in moments
    ]
    if sign:
        charts.save_draft(chart, simple_draft(chart, lot), plan.practitioner)
        chart = charts.sign_as(chart, plan.practitioner)
    return chart, made


@pytest.fixture
def pictured(
    face_plan: CoursePlan, other_plan: CoursePlan, asha: User, lot: Lot
) -> dict[str, list[ChartPhoto]]:
    """Camille: session 1 (two weeks ago) and session 2, signed, each photographed before and
    after; session 3 a draft with a photo. Noor: a signed session with a photo."""
    first, made_first = photographed(face_plan, asha, lot, 1)
    Appointment.objects.filter(pk=first.appointment_id).update(
        starts_at=first.appointment.starts_at - timedelta(days=14),
        ends_at=first.appointment.ends_at - timedelta(days=14),
    )
    _second, made_second = photographed(face_plan, asha, lot, 2)
    _draft, made_draft = photographed(face_plan, asha, lot, 3, (PhotoMoment.BEFORE,), sign=False)
    _other, made_other = photographed(other_plan, asha, lot, 4, (PhotoMoment.BEFORE,))
    return {
        "signed": made_first + made_second,
        "draft": made_draft,
        "other": made_other,
    }


def test_photos_by_course_and_area_with_the_baseline_beside_the_latest(
    pictured: dict[str, list[ChartPhoto]], patient: Patient, face_plan: CoursePlan
) -> None:
    found = results.results_of(patient)

    (course,) = found.courses
    assert course.plan == face_plan and course.scales == []
    (group,) = course.photos
    assert group.title == "Forehead, front"
    assert [item.photo for item in group.photos] == pictured["signed"]
    assert [item.time_point for item in group.photos] == [
        "Baseline (session 1, before)",
        "Session 1, after",
        "Session 2, before",
        "Session 2, after",
    ]
    assert group.pair is not None
    assert (group.pair[0].photo, group.pair[1].photo) == (
        pictured["signed"][0],
        pictured["signed"][-1],
    )
    # Stored at 600 by 400; the thumbnail is at most 480 on its longest side.
    assert (group.photos[0].thumb_width, group.photos[0].thumb_height) == (480, 320)
    assert sorted(found.photo_ids) == sorted(p.pk for p in pictured["signed"])


def test_the_page_shows_the_pair_and_every_photo_lazily(
    pictured: dict[str, list[ChartPhoto]], portal: Client
) -> None:
    html = portal.get(RESULTS).content.decode()

    first, last = pictured["signed"][0], pictured["signed"][-1]
    pair = html.split('<div class="photo-pair">')[1].split("</div>")[0]
    assert reverse("portal:photo-thumb", kwargs={"photo_pk": first.pk}) in pair
    assert reverse("portal:photo-thumb", kwargs={"photo_pk": last.pk}) in pair
    assert f'href="{reverse("portal:photo", kwargs={"photo_pk": first.pk})}"' in pair
    assert 'width="480" height="320" loading="lazy"' in pair
    assert 'alt="Forehead, front: Baseline (session 1, before), ' in pair
    for photo in pictured["signed"]:
        assert reverse("portal:photo-thumb", kwargs={"photo_pk": photo.pk}) in html
    for photo in pictured["draft"] + pictured["other"]:
        assert reverse("portal:photo-thumb", kwargs={"photo_pk": photo.pk}) not in html
    assert html.count("<img ") == html.count('loading="lazy"') == 2 + 4


@pytest.mark.parametrize("name", ["photo", "photo-thumb"])
def test_a_photo_is_served_to_its_patient_privately_and_audited(
    pictured: dict[str, list[ChartPhoto]],
    portal: Client,
    patient: Patient,
    patient_user: User,
    name: str,
) -> None:
    photo = pictured["signed"][0]

    response = portal.get(reverse(f"portal:{name}", kwargs={"photo_pk": photo.pk}))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    data = response.content
    if name == "photo":
        assert data == photos.photo_bytes(photo)
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == "JPEG"
        # The size the page's width and height attributes promise.
        assert image.size == ((600, 400) if name == "photo" else (480, 320))
    event = AuditEvent.objects.get(action=AuditAction.VIEW, detail__portal="photo")
    assert (event.actor, event.patient_id) == (patient_user, patient.pk)
    assert (event.object_type, event.object_id) == ("charts.ChartPhoto", str(photo.pk))
    assert event.detail["thumbnail"] is (name == "photo-thumb")


@pytest.mark.parametrize("name", ["photo", "photo-thumb"])
def test_another_patients_photo_a_draft_photo_and_no_photo_are_not_found(
    pictured: dict[str, list[ChartPhoto]], portal: Client, other_portal: Client, name: str
) -> None:
    def url(photo_pk: int) -> str:
        return reverse(f"portal:{name}", kwargs={"photo_pk": photo_pk})

    assert portal.get(url(pictured["other"][0].pk)).status_code == 404
    assert other_portal.get(url(pictured["signed"][0].pk)).status_code == 404
    assert portal.get(url(pictured["draft"][0].pk)).status_code == 404
    assert portal.get(url(999_999)).status_code == 404
    assert not AuditEvent.objects.filter(detail__portal="photo").exists()
    # Noor's own photo is hers to see.
    assert other_portal.get(url(pictured["other"][0].pk)).status_code == 200


# --- who may read -----------------------------------------------------------------------------


def urls(photo: ChartPhoto) -> list[str]:
    return [
        RESULTS,
        reverse("portal:photo", kwargs={"photo_pk": photo.pk}),
        reverse("portal:photo-thumb", kwargs={"photo_pk": photo.pk}),
    ]


def test_anonymous_visitors_are_sent_to_the_portal_sign_in(
    pictured: dict[str, list[ChartPhoto]], client: Client
) -> None:
    for url in urls(pictured["signed"][0]):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("portal:login")), url


@pytest.mark.parametrize("name", ["alice", "pat", "asha", "bob"])
def test_staff_are_refused(
    pictured: dict[str, list[ChartPhoto]],
    client_for: Callable[[User], Client],
    request: pytest.FixtureRequest,
    name: str,
) -> None:
    staff = client_for(request.getfixturevalue(name))
    for url in urls(pictured["signed"][0]):
        assert staff.get(url).status_code == 403, url
    assert not AuditEvent.objects.filter(detail__has_key="portal").exists()


def test_only_get_is_answered(pictured: dict[str, list[ChartPhoto]], portal: Client) -> None:
    for url in urls(pictured["signed"][0]):
        assert portal.post(url).status_code == 405, url
