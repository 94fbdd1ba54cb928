"""What "My results" shows a patient: per course, their own outcome measurements scale by
scale (a table and a small line chart per series), and the before/after photos of their signed
sessions, area by area, the baseline beside the latest.

Only the patient's own record of their own clinic is read. Retracted measurements are left
out, as the course result leaves them out. Photos come from signed charts only: a draft's
photos may still be removed, and the patient sees the record as signed. Nothing is judged
here: no change is computed or called better, beyond saying which direction of each scale
is better.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import formats, timezone
from django.utils.functional import Promise
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from mesoclinic.catalogue.models import Direction, OutcomeScale, ScaleKind, ScaleLevel
from mesoclinic.charts import photos as chart_photos
from mesoclinic.charts.models import ChartPhoto, PhotoMoment, PhotoView
from mesoclinic.courses.models import AppointmentKind, CoursePlan
from mesoclinic.outcomes.models import Measurement, Rater, TimePoint
from mesoclinic.outcomes.services import number_text
from mesoclinic.patients.models import Patient
from mesoclinic.portal import sparkline

TIME_POINTS: dict[str, Promise] = {
    TimePoint.BASELINE: gettext_lazy("Before the course (baseline)"),
    TimePoint.SESSION: gettext_lazy("During the course"),
    TimePoint.END: gettext_lazy("End of the course"),
    TimePoint.MONTH_3: gettext_lazy("3 months after the course"),
    TimePoint.MONTH_6: gettext_lazy("6 months after the course"),
    TimePoint.MONTH_12: gettext_lazy("12 months after the course"),
    TimePoint.UNSCHEDULED: gettext_lazy("Between the usual check-ups"),
}
DIRECTIONS: dict[str, Promise] = {
    Direction.LOWER_IS_BETTER: gettext_lazy("Lower is better on this scale."),
    Direction.HIGHER_IS_BETTER: gettext_lazy("Higher is better on this scale."),
    Direction.NEITHER: gettext_lazy(
        "Neither higher nor lower is better: this measure helps to read the others."
    ),
}
VIEWS: dict[str, Promise] = {
    PhotoView.FRONT: gettext_lazy("front"),
    PhotoView.LEFT_OBLIQUE: gettext_lazy("left at 45°"),
    PhotoView.RIGHT_OBLIQUE: gettext_lazy("right at 45°"),
    PhotoView.LEFT: gettext_lazy("left profile"),
    PhotoView.RIGHT: gettext_lazy("right profile"),
    PhotoView.BACK: gettext_lazy("back"),
    PhotoView.TOP: gettext_lazy("from above"),
}
CHART_DATE = "j M Y"
TABLE_DATE = "j F Y"


# --- numbers and words ------------------------------------------------------------------------


def number(value: Decimal) -> str:
    """12, 0.5 (0,5 in French): a decimal as people write it in their language."""
    return formats.number_format(Decimal(number_text(value)))


def with_unit(value: Decimal, scale: OutcomeScale) -> str:
    return f"{number(value)} {scale.unit}" if scale.unit else number(value)


def time_point_label(measurement: Measurement) -> str:
    """ "After session 2" during the course, else the time point in plain words."""
    if measurement.time_point == TimePoint.SESSION and measurement.session_number:
        return _("After session %(number)s") % {"number": measurement.session_number}
    return str(TIME_POINTS.get(measurement.time_point, measurement.get_time_point_display()))


def rater_label(measurement: Measurement) -> str:
    """Who rated: "You" for the patient's own rating, else the person and their role."""
    if measurement.rater == Rater.PATIENT:
        return _("You")
    person = measurement.rated_by
    name = person.get_full_name() or person.username
    if measurement.rater == Rater.PRACTITIONER:
        return _("%(name)s (practitioner)") % {"name": name}
    return _("%(name)s (clinic staff)") % {"name": name}


def value_range(scale: OutcomeScale, values: list[Decimal]) -> tuple[Decimal, Decimal]:
    """The range a chart of ``scale`` shows, as the clinic's course plot chooses it: the whole
    scale when it is short, else the values with room around them, never less than 50 steps,
    so that half a centimetre does not fill the chart and look like a large change."""
    if scale.kind == ScaleKind.ORDINAL or scale.max_value - scale.min_value <= 50 or not values:
        return scale.min_value, scale.max_value
    low, high = min(values), max(values)
    half = max((high - low) * Decimal("0.6"), 25 * scale.step)
    middle = (low + high) / 2
    return max(middle - half, scale.min_value), min(middle + half, scale.max_value)


# --- measurements -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One measurement as the patient reads it."""

    measurement: Measurement
    time_point: str
    at: datetime  # in the clinic's zone
    value: str  # with the unit, and the grade's name when it has one
    rated_by: str


@dataclass(frozen=True)
class Series:
    """The values of one scale at one site (a landmark, a wrinkle), oldest first."""

    scale: OutcomeScale
    site: str
    rows: list[Row]
    summary: str
    chart: SafeString
    anchor: str  # an id for the page, unique on it


@dataclass(frozen=True)
class ScaleResults:
    scale: OutcomeScale
    direction: str
    series: list[Series]


def _summary(scale: OutcomeScale, site: str, rows: list[Row]) -> str:
    """The chart in one sentence, for those who cannot see it."""
    name = f"{scale.label}, {site}" if site else scale.label
    first, last = rows[0], rows[-1]
    values = {
        "scale": name,
        "count": len(rows),
        "first_date": formats.date_format(first.at, TABLE_DATE),
        "last_date": formats.date_format(last.at, TABLE_DATE),
        "first": with_unit(first.measurement.value, scale),
        "last": with_unit(last.measurement.value, scale),
    }
    if len(rows) == 1:
        sentence = _("%(scale)s: one measurement, %(first)s on %(first_date)s.") % values
    else:
        sentence = (
            ngettext(
                "%(scale)s: %(count)d measurement from %(first_date)s to %(last_date)s, "
                "first %(first)s, latest %(last)s.",
                "%(scale)s: %(count)d measurements from %(first_date)s to %(last_date)s, "
                "first %(first)s, latest %(last)s.",
                len(rows),
            )
            % values
        )
    return f"{sentence} {DIRECTIONS[scale.direction]}"


def _chart(scale: OutcomeScale, rows: list[Row], summary: str) -> SafeString:
    low, high = value_range(scale, [row.measurement.value for row in rows])
    times = [row.at.timestamp() for row in rows]
    return sparkline.line_chart(
        times,
        [float(row.measurement.value) for row in rows],
        x_axis=sparkline.Axis(
            min(times),
            max(times),
            formats.date_format(rows[0].at, CHART_DATE),
            formats.date_format(rows[-1].at, CHART_DATE) if len(rows) > 1 else "",
        ),
        y_axis=sparkline.Axis(float(low), float(high), number(low), number(high)),
        label=summary,
    )


def _measurements(patient: Patient) -> QuerySet[Measurement]:
    return (
        Measurement.objects.current()
        .filter(patient=patient.pk, clinic=patient.clinic_id, plan__patient=patient.pk)
        .select_related("scale", "rated_by")
        .order_by("plan", "scale", "site", "measured_at", "pk")
    )


def _scales(plan: CoursePlan, measurements: list[Measurement]) -> list[ScaleResults]:
    """``measurements`` of ``plan`` by scale (the course's primary scale first) and site."""
    tz = plan.clinic.tz
    levels = {
        (level.scale_id, level.value): level.label
        for level in ScaleLevel.objects.filter(scale__in={m.scale_id for m in measurements})
    }
    by_scale: dict[int, dict[str, list[Measurement]]] = defaultdict(lambda: defaultdict(list))
    scales: dict[int, OutcomeScale] = {}
    for m in measurements:
        scales[m.scale_id] = m.scale
        by_scale[m.scale_id][m.site].append(m)
    found = []
    for scale_id, sites in by_scale.items():
        scale = scales[scale_id]
        series: list[Series] = []
        for site, items in sites.items():
            rows = []
            for m in items:
                value = with_unit(m.value, scale)
                level = levels.get((scale_id, m.value), "")
                if level and level != number_text(m.value):
                    value = f"{value} ({level})"
                rows.append(
                    Row(
                        m,
                        time_point_label(m),
                        timezone.localtime(m.measured_at, tz),
                        value,
                        rater_label(m),
                    )
                )
            summary = _summary(scale, site, rows)
            anchor = f"series-{plan.pk}-{scale_id}-{len(series) + 1}"
            series.append(Series(scale, site, rows, summary, _chart(scale, rows, summary), anchor))
        found.append(ScaleResults(scale, str(DIRECTIONS[scale.direction]), series))
    primary = plan.indication.primary_scale_id
    return sorted(found, key=lambda one: (one.scale.pk != primary, one.scale.label))


# --- photos -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Photo:
    """One photo as the page shows it: its time point, its day and its thumbnail's size."""

    photo: ChartPhoto
    time_point: str
    day: date
    alt: str
    thumb_width: int
    thumb_height: int


@dataclass(frozen=True)
class PhotoGroup:
    """The photos of one area from one view in a course, oldest first; ``pair`` is the
    baseline (or earliest before photo) and the latest after photo."""

    area: str
    view: str
    photos: list[Photo]
    pair: tuple[Photo, Photo] | None

    @property
    def title(self) -> str:
        return f"{self.area}, {self.view}"


def thumb_size(width: int, height: int, side: int = chart_photos.THUMB_SIDE) -> tuple[int, int]:
    """The size of ``thumbnail_bytes``'s JPEG: the photo scaled to fit ``side``, never up."""
    if max(width, height) <= side:
        return width, height
    if width >= height:
        return side, max(1, round(height * side / width))
    return max(1, round(width * side / height)), side


def photo_time_point(photo: ChartPhoto, end: int) -> str:
    """Where the photo stands in its course, as the clinic's comparison names it: "Baseline
    (session 1, before)", "Session 3, after", "End of course (session 8, after)"."""
    chart = photo.chart
    number, before = chart.session_number, photo.moment == PhotoMoment.BEFORE
    if chart.appointment.kind == AppointmentKind.MAINTENANCE:
        return _("Maintenance session, before") if before else _("Maintenance session, after")
    if number is None:
        return _("Session, before") if before else _("Session, after")
    if number == chart_photos.BASELINE_SESSION and before:
        return _("Baseline (session %(number)s, before)") % {"number": number}
    if number == end and not before:
        return _("End of course (session %(number)s, after)") % {"number": number}
    if before:
        return _("Session %(number)s, before") % {"number": number}
    return _("Session %(number)s, after") % {"number": number}


def own_photos(patient: Patient) -> QuerySet[ChartPhoto]:
    """The patient's photos the portal may show: of their signed charts at their clinic."""
    return ChartPhoto.objects.filter(
        chart__patient=patient.pk,
        chart__clinic=patient.clinic_id,
        chart__signed_at__isnull=False,
    )


def _photo_groups(plan: CoursePlan, photos: list[ChartPhoto]) -> list[PhotoGroup]:
    end = chart_photos.end_session(plan)
    tz = plan.clinic.tz
    groups = []
    for choice in chart_photos.photo_choices(photos):
        view = str(VIEWS.get(choice.view, choice.view_label))
        shown = []
        options = []
        chosen = [p for p in photos if p.body_area_id == choice.area.pk and p.view == choice.view]
        # Session by session, each session's before photos first.
        chosen.sort(
            key=lambda p: (
                p.chart.appointment.starts_at,
                p.chart_id,
                p.moment != PhotoMoment.BEFORE,
                p.taken_at,
                p.pk,
            )
        )
        for photo in chosen:
            point = photo_time_point(photo, end)
            day = timezone.localdate(photo.chart.appointment.starts_at, tz)
            alt = _("%(area)s, %(view)s: %(time_point)s, %(date)s") % {
                "area": choice.area.label,
                "view": view,
                "time_point": point,
                "date": formats.date_format(day, TABLE_DATE),
            }
            item = Photo(photo, point, day, alt, *thumb_size(photo.width, photo.height))
            shown.append(item)
            options.append(chart_photos.PairPhoto(photo, point, alt))
        by_photo = {item.photo.pk: item for item in shown}
        pair = chart_photos.choose_pair(options)
        groups.append(
            PhotoGroup(
                choice.area.label,
                view,
                shown,
                (by_photo[pair[0].photo.pk], by_photo[pair[1].photo.pk]) if pair else None,
            )
        )
    return groups


# --- the page ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseResults:
    plan: CoursePlan
    started_on: date
    scales: list[ScaleResults]
    photos: list[PhotoGroup]


@dataclass(frozen=True)
class Results:
    courses: list[CourseResults]

    @property
    def measurement_ids(self) -> list[int]:
        return [
            row.measurement.pk
            for course in self.courses
            for scale in course.scales
            for series in scale.series
            for row in series.rows
        ]

    @property
    def photo_ids(self) -> list[int]:
        return [item.photo.pk for c in self.courses for g in c.photos for item in g.photos]


def results_of(patient: Patient) -> Results:
    """Every course of ``patient`` with a measurement or a signed photo, the latest first."""
    measurements: dict[int, list[Measurement]] = defaultdict(list)
    for m in _measurements(patient):
        measurements[m.plan_id].append(m)
    photos: dict[int, list[ChartPhoto]] = defaultdict(list)
    for photo in own_photos(patient).select_related(
        "body_area", "chart__appointment", "chart__clinic"
    ):
        if photo.chart.plan_id is not None:
            photos[photo.chart.plan_id].append(photo)
    plans = (
        CoursePlan.objects.filter(
            patient=patient.pk, clinic=patient.clinic_id, pk__in={*measurements, *photos}
        )
        .select_related("indication", "clinic")
        .order_by("-created_at", "-pk")
    )
    courses = []
    for plan in plans:
        courses.append(
            CourseResults(
                plan,
                timezone.localdate(plan.created_at, plan.clinic.tz),
                _scales(plan, measurements.get(plan.pk, [])),
                _photo_groups(plan, photos.get(plan.pk, [])),
            )
        )
    return Results(courses)
