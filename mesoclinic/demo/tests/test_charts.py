"""The demo's treatment charts: every attended session of a course is charted and signed by its
practitioner, with volumes that add up, points on their areas, lots usable that day, photos
and amendments; the same seed gives the same charts; a session the gate refuses is still
recorded as attended."""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from PIL import Image

from mesoclinic.charts import bodymap, services
from mesoclinic.charts.models import (
    AreaTreatment,
    Chart,
    ChartAmendment,
    ChartPhoto,
    Device,
    InjectionPoint,
    PhotoMoment,
    SyringeLot,
    Technique,
)
from mesoclinic.charts.photos import photo_bytes
from mesoclinic.courses.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CoursePlan,
    CourseStatus,
)
from mesoclinic.demo import charts as demo_charts
from mesoclinic.demo.generator import DEFAULT_PATIENTS, DEFAULT_SEED, DemoSummary, build_demo
from mesoclinic.demo.tests.test_generator import TODAY
from mesoclinic.formulas.models import LotStatus

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def session_day(chart: Chart) -> Any:
    return timezone.localdate(chart.appointment.starts_at, chart.clinic.tz)


def attended_sessions() -> Any:
    return Appointment.objects.filter(
        status=AppointmentStatus.ATTENDED, kind=AppointmentKind.SESSION
    ).select_related("plan")


def check_chart(chart: Chart) -> None:
    """What any signed demo chart must be: complete, adding up, and plausible."""
    appointment = chart.appointment
    assert chart.signed_at is not None, chart
    assert chart.signed_by_id == chart.practitioner_id == appointment.practitioner_id, chart
    assert chart.content_sha256 == services.content_hash(chart)
    spec = services.spec_of(chart)
    assert services.problems(spec) == [], chart
    assert spec.syringes and spec.areas

    # Within the appointment's time, 20 to 35 minutes long.
    assert chart.started_at is not None and chart.ended_at is not None
    assert appointment.starts_at <= chart.started_at < chart.ended_at <= appointment.ends_at
    assert timedelta(minutes=20) <= chart.ended_at - chart.started_at <= timedelta(minutes=35)
    assert chart.pain_score is not None and 1 <= chart.pain_score <= 5
    assert chart.aftercare_given
    assert bool(chart.anaesthetic_product) == bool(chart.anaesthetic_minutes)

    # Syringe volume == its lots == its areas, which services.problems checked; and each lot
    # was in date, received, not recalled, and left stock once through the chart.
    day = session_day(chart)
    for line in SyringeLot.objects.filter(chart=chart).select_related("lot", "lot_use", "syringe"):
        lot = line.lot
        assert lot.product.clinic_id == chart.clinic_id
        assert lot.received_on <= day <= lot.expiry_date, (chart, lot)
        assert lot.status != LotStatus.RECALLED
        assert line.lot_use is not None
        assert line.lot_use.volume_ml == line.volume_ml
        assert line.lot_use.patient_id == chart.patient_id
    for syringe in chart.syringes.all():
        if syringe.device == Device.INJECTOR:
            assert syringe.injector_id
        else:
            assert not syringe.injector_id
        assert syringe.needle_gauge in (30, 31, 32)
        assert syringe.needle_length_mm == Decimal(4)

    plan_areas = set(chart.plan.areas.values_list("code", flat=True)) if chart.plan else set()
    body = chart.plan is not None and chart.plan.indication.code in demo_charts.BODY_INDICATIONS
    for area in AreaTreatment.objects.filter(chart=chart).select_related("body_area"):
        code = area.body_area.code
        assert code in plan_areas
        assert Decimal("0.02") <= area.volume_per_point_ml <= Decimal("0.1")
        assert Decimal(1) <= area.depth_mm <= Decimal(4)
        if body:
            assert area.technique in (Technique.POINT, Technique.LINEAR, Technique.INJECTOR)
        else:
            assert area.technique in (Technique.NAPPAGE, Technique.PAPULE)
            if code not in demo_charts.SCALP_AREAS:
                assert area.depth_mm <= 2  # the face is treated more superficially
        points = list(area.points.all())
        assert 1 <= len(points) <= area.point_count
        for point in points:
            assert point_in_area(point, area), (chart, code, point.view, point.x, point.y)


def point_in_area(point: InjectionPoint, area: AreaTreatment) -> bool:
    region = bodymap.region_at(point.view, point.x, point.y)
    if region is None:
        return False
    code = area.body_area.code
    own = region.area == code or bodymap.PARENTS.get(region.area) == code
    sided = area.side in ("", "both") or region.side == area.side
    return own and sided


@pytest.fixture
def summary(catalogue: None) -> DemoSummary:
    return build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)


def test_every_attended_session_has_a_signed_chart_that_adds_up(summary: DemoSummary) -> None:
    charts = Chart.objects.select_related("appointment", "clinic", "plan__indication")
    # The history's charts too: bulk-written, they must look like the others.
    assert summary.charts + summary.history.sessions == charts.count()
    assert summary.charts >= 30
    assert {c.clinic.slug for c in charts} == {"demo", "demo-london"}
    for chart in charts:
        check_chart(chart)

    # Every session attended is charted, but those the gate refused (none, with this seed's
    # patients; the summary counts them).
    without = [a for a in attended_sessions() if not Chart.objects.filter(appointment=a)]
    assert len(without) == summary.sessions_without_chart == 0
    assert not Chart.objects.exclude(appointment__status=AppointmentStatus.ATTENDED)
    assert not Chart.objects.filter(signed_at__isnull=True)

    # Signing the last session completed the course, once: the course plan has its recalls.
    for plan in CoursePlan.objects.filter(status=CourseStatus.COMPLETED):
        assert services.signed_sessions(plan) == plan.sessions_planned
        assert plan.maintenance.count() == plan.maintenance_per_year

    # Each course holds its habits (technique, device) from one session to the next.
    for plan in CoursePlan.objects.filter(charts__isnull=False).distinct():
        techniques = set(
            AreaTreatment.objects.filter(chart__plan=plan).values_list("body_area", "technique")
        )
        assert len(techniques) == plan.areas.count(), plan
    devices = Counter(AreaTreatment.objects.values_list("syringe__device", flat=True).order_by())
    assert devices[Device.SYRINGE] and devices[Device.INJECTOR]
    assert Chart.objects.exclude(anaesthetic_product="").exists()
    assert Chart.objects.filter(anaesthetic_product="").exists()
    assert Chart.objects.exclude(immediate_reactions="").exists()

    assert (
        f"{summary.charts} signed treatment charts with {summary.photos} photos and "
        f"{summary.amendments} amendments"
    ) in str(summary)


def test_some_charts_have_photos_before_and_after_and_some_amendments(
    summary: DemoSummary,
) -> None:
    photos = ChartPhoto.objects.select_related("chart__appointment", "chart__clinic", "body_area")
    assert summary.photos == photos.count() > 0
    photographed = Chart.objects.filter(photos__isnull=False).distinct().count()
    assert 0 < photographed < summary.charts
    for chart in Chart.objects.filter(photos__isnull=False).distinct():
        areas = set(chart.areas.values_list("body_area", flat=True))
        pairs = Counter(chart.photos.values_list("body_area", "view", "moment"))
        # Each area from one standard view, once before and once after.
        assert {area for area, _, _ in pairs} == areas
        assert all(count == 1 for count in pairs.values())
        assert len(pairs) == 2 * len(areas)
    for photo in photos:
        chart = photo.chart
        assert photo.uploaded_by_id == chart.practitioner_id
        assert chart.signed_at is not None and photo.uploaded_at < chart.signed_at
        assert chart.started_at is not None and chart.ended_at is not None
        if photo.moment == PhotoMoment.BEFORE:
            assert photo.taken_at <= chart.started_at + timedelta(minutes=5)
        else:
            assert photo.taken_at >= chart.ended_at - timedelta(minutes=5)
        data = photo_bytes(photo)
        assert hashlib.sha256(data).hexdigest() == photo.sha256
        with Image.open(io.BytesIO(data)) as image:
            assert image.format == "JPEG" and image.size == (photo.width, photo.height)
            assert max(image.size) <= 640

    amendments = ChartAmendment.objects.select_related("chart")
    assert summary.amendments == amendments.count() >= 2
    assert {a.field for a in amendments} >= {"notes", "pain_score"}
    for amendment in amendments:
        assert amendment.chart.signed_at is not None
        assert amendment.author_id == amendment.chart.practitioner_id
        assert amendment.reason and amendment.value != amendment.original
    # The course's past sessions are in both clinics' amendments and photos.
    assert amendments.values("chart__clinic").distinct().count() == 2
    assert photos.values("chart__clinic").distinct().count() == 2


def chart_fingerprint() -> str:
    """The charts' content without database keys: what two builds must share."""
    rows = []
    for chart in Chart.objects.order_by("appointment__starts_at", "pk").select_related(
        "patient", "appointment", "practitioner"
    ):
        document = services.document(chart)
        for key in ("chart", "patient", "appointment", "practitioner", "formula_version"):
            del document[key]
        lots = dict(SyringeLot.objects.filter(chart=chart).values_list("lot_id", "lot__lot_number"))
        for syringe in document["syringes"]:
            for line in syringe["lots"]:
                line["lot_id"] = lots[line["lot_id"]]
        rows.append(
            (
                str(chart.patient),
                chart.appointment.starts_at.isoformat(),
                chart.practitioner.username,
                repr(document),
                sorted(chart.photos.values_list("moment", "view", "sha256", "taken_at")),
                list(chart.amendments.values_list("field", "original", "value", "reason")),
            )
        )
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def built_fingerprint(seed: int, patients: int) -> tuple[str, DemoSummary]:
    with transaction.atomic():
        summary = build_demo(seed=seed, patients=patients, today=TODAY)
        fingerprint = chart_fingerprint()
        transaction.set_rollback(True)
    return fingerprint, summary


def test_the_same_seed_gives_the_same_charts(catalogue: None) -> None:
    first, summary = built_fingerprint(seed=11, patients=40)
    assert summary.charts and not Chart.objects.exists()
    second, again = built_fingerprint(seed=11, patients=40)
    assert second == first
    assert (again.charts, again.photos, again.amendments) == (
        summary.charts,
        summary.photos,
        summary.amendments,
    )


def test_a_session_the_gate_refuses_is_recorded_as_attended_without_a_chart(
    catalogue: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    start_chart = services.start_chart
    calls = Counter[str]()

    def refuse_every_third(appointment: Appointment, *args: Any, **kwargs: Any) -> Chart:
        calls["start"] += 1
        if calls["start"] % 3 == 0:
            raise ValidationError("Blocked by “NSAID in the stop window” (for this test).")
        return start_chart(appointment, *args, **kwargs)

    monkeypatch.setattr(services, "start_chart", refuse_every_third)
    summary = build_demo(seed=5, patients=17, today=TODAY)

    without = [a for a in attended_sessions() if not Chart.objects.filter(appointment=a)]
    assert len(without) == summary.sessions_without_chart == calls["start"] // 3 > 0
    assert summary.charts == calls["start"] - len(without)
    assert Chart.objects.count() == summary.charts + summary.history.sessions
    # A completed course whose last session was not charted is still completed, by the
    # courses' own call, and only once.
    for plan in CoursePlan.objects.filter(status=CourseStatus.COMPLETED):
        assert not plan.appointments.filter(status=AppointmentStatus.BOOKED)
        assert plan.maintenance.count() == plan.maintenance_per_year
    assert "past sessions attended without a chart" in str(summary)
