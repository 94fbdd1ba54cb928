"""A course's result: its primary scale over time against the baseline, the global ratings,
and the side effects of its sessions on the same timeline.

Nothing is imputed: a baseline or end-of-course value that was not measured is listed in
``missing``, and a change from baseline is given only where both values exist. Retracted
measurements and retracted adverse events are left out. Where a scale is measured at several
sites (two landmarks of circumference), each site is its own series with its own baseline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from html import escape

import plotly.graph_objects as go
from django.utils import timezone
from plotly.subplots import make_subplots

from mesoclinic.catalogue.models import Direction, OutcomeScale, ScaleKind, ScaleLevel
from mesoclinic.courses.models import CoursePlan
from mesoclinic.followup.models import AdverseEvent
from mesoclinic.outcomes import timepoints
from mesoclinic.outcomes.models import Measurement, Rater, TimePoint
from mesoclinic.outcomes.services import number_text

NO_BASELINE = "No baseline measurement"
NO_END = "No end-of-course measurement"

DIRECTION_SENTENCES = {
    Direction.LOWER_IS_BETTER: "Lower values are better on this scale.",
    Direction.HIGHER_IS_BETTER: "Higher values are better on this scale.",
    Direction.NEITHER: "Neither direction is better: this measure helps read the others.",
}
# Grade 1 to 5 of an adverse event, from pale to dark.
GRADE_COLOURS = ["#f2c14e", "#f08a4b", "#d1495b", "#8f2d56", "#3d1f33"]
SERIES_COLOURS = ["#1f6f8b", "#6a4c93", "#2a9d8f", "#e76f51", "#264653"]


@dataclass(frozen=True)
class Point:
    measurement: Measurement
    at: datetime  # in the clinic's zone
    value: Decimal
    change: Decimal | None  # from the series' baseline


@dataclass(frozen=True)
class Series:
    site: str
    points: list[Point]
    baseline: Point | None
    end: Point | None

    @property
    def change_at_end(self) -> Decimal | None:
        if self.baseline is None or self.end is None:
            return None
        return self.end.value - self.baseline.value


@dataclass(frozen=True)
class Rating:
    label: str
    measurement: Measurement | None
    level: str  # the label of the value on its scale, if it has one


@dataclass(frozen=True)
class SideEffectMark:
    event: AdverseEvent
    label: str
    onset_on: date
    grade: int
    session_number: int | None


@dataclass(frozen=True)
class CourseResult:
    plan: CoursePlan
    scale: OutcomeScale
    series: list[Series]
    missing: list[str]
    ratings: list[Rating]
    side_effects: list[SideEffectMark]
    sessions: list[timepoints.HeldSession]
    over: bool

    @property
    def direction(self) -> str:
        return DIRECTION_SENTENCES[Direction(self.scale.direction)]

    @property
    def axis_title(self) -> str:
        return f"{self.scale.label} ({self.scale.unit})" if self.scale.unit else self.scale.label

    @property
    def evidence_note(self) -> str:
        return self.plan.indication.evidence_note

    @property
    def has_values(self) -> bool:
        return any(series.points for series in self.series)


def _latest(points: list[Point], point: TimePoint) -> Point | None:
    found = [p for p in points if p.measurement.time_point == point]
    return found[-1] if found else None


def _series(plan: CoursePlan, scale: OutcomeScale) -> list[Series]:
    tz = plan.clinic.tz
    by_site: dict[str, list[Measurement]] = {}
    for measurement in Measurement.objects.current().filter(plan=plan, scale=scale):
        by_site.setdefault(measurement.site, []).append(measurement)
    found = []
    for site, measurements in by_site.items():
        measurements.sort(key=lambda m: (m.measured_at, m.pk))
        # The last value before treatment is the one the course is compared with.
        baseline_m = next(
            (m for m in reversed(measurements) if m.time_point == TimePoint.BASELINE), None
        )
        base = baseline_m.value if baseline_m is not None else None
        points = [
            Point(
                m,
                timezone.localtime(m.measured_at, tz),
                m.value,
                m.value - base if base is not None else None,
            )
            for m in measurements
        ]
        found.append(
            Series(
                site, points, _latest(points, TimePoint.BASELINE), _latest(points, TimePoint.END)
            )
        )
    return found


def _missing(series: list[Series], over: bool) -> list[str]:
    pending = "" if over else " yet: the course is not over"
    if not series:
        return [NO_BASELINE, f"{NO_END}{pending}"]
    missing = []
    for one in series:
        at = f" at {one.site}" if one.site else ""
        if one.baseline is None:
            missing.append(f"{NO_BASELINE}{at}")
        if one.end is None:
            missing.append(f"{NO_END}{at}{pending}")
    return missing


def _rating(plan: CoursePlan, label: str, codes: list[str], rater: str | None) -> Rating:
    found = Measurement.objects.current().filter(plan=plan, scale__code__in=codes)
    if rater is not None:
        found = found.filter(rater=rater)
    latest = found.select_related("scale").order_by("-measured_at", "-pk").first()
    level = ""
    if latest is not None:
        named = ScaleLevel.objects.filter(scale=latest.scale, value=latest.value).first()
        level = named.label if named is not None else ""
    return Rating(label, latest, level)


def _side_effects(plan: CoursePlan) -> list[SideEffectMark]:
    events = (
        AdverseEvent.objects.filter(chart__plan=plan, retracted_at__isnull=True)
        .select_related("side_effect", "chart")
        .order_by("onset_on", "pk")
    )
    return [
        SideEffectMark(event, event.label, event.onset_on, event.grade, event.chart.session_number)
        for event in events
    ]


def course_result(plan: CoursePlan) -> CourseResult:
    scale = plan.indication.primary_scale
    held = timepoints.held_sessions(plan)
    over = timepoints.course_over(plan, held)
    series = _series(plan, scale)
    return CourseResult(
        plan=plan,
        scale=scale,
        series=series,
        missing=_missing(series, over),
        ratings=[
            _rating(
                plan,
                "Global improvement, practitioner",
                ["gais", "gais-reversed"],
                Rater.PRACTITIONER,
            ),
            _rating(plan, "Global improvement, patient", ["gais", "gais-reversed"], Rater.PATIENT),
            _rating(plan, "Patient satisfaction", ["satisfaction"], None),
        ],
        side_effects=_side_effects(plan),
        sessions=held,
        over=over,
    )


# --- the plot ------------------------------------------------------------------------------


def _naive(moment: datetime) -> datetime:
    # plotly draws an aware time in UTC; the clinic reads its own wall clock.
    return moment.replace(tzinfo=None)


def figure(result: CourseResult) -> go.Figure:
    """The primary scale over time (one line per site), the baselines marked, the sessions as
    dotted lines, and below on the same time axis the side effects by grade."""
    scale, tz = result.scale, result.plan.clinic.tz
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.78, 0.22], vertical_spacing=0.05
    )
    unit = f" {scale.unit}" if scale.unit else ""
    for k, series in enumerate(result.series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=[_naive(p.at) for p in series.points],
                y=[float(p.value) for p in series.points],
                mode="lines+markers",
                # plotly.js renders some HTML (links, styles) in names and hover text:
                # what people typed is escaped.
                name=escape(series.site or scale.label),
                line={"color": colour, "width": 2},
                marker={"size": 8},
                customdata=[
                    [
                        time_point_label(p.measurement),
                        change_text(p.change),
                    ]
                    for p in series.points
                ],
                hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{y}"
                + unit
                + "<br>%{customdata[0]}<br>change %{customdata[1]}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        if series.baseline is not None:
            fig.add_trace(
                go.Scatter(
                    x=[_naive(series.baseline.at)],
                    y=[float(series.baseline.value)],
                    mode="markers",
                    name="Baseline",
                    legendgroup="baseline",
                    showlegend=k == 0,
                    marker={
                        "symbol": "diamond-open",
                        "size": 16,
                        "color": colour,
                        "line": {"width": 2},
                    },
                    hoverinfo="skip",
                ),
                row=1,
                col=1,
            )
            fig.add_hline(
                y=float(series.baseline.value),
                line={"dash": "dash", "color": colour, "width": 1},
                row=1,
                col=1,
            )
    for session in result.sessions:
        x = _naive(timezone.localtime(session.starts_at, tz))
        fig.add_vline(x=x, line={"dash": "dot", "color": "#9aa5b1", "width": 1}, row="all", col=1)
        fig.add_annotation(
            x=x,
            y=1.0,
            yref="y domain",
            text=f"S{session.number}",
            showarrow=False,
            yanchor="bottom",
            font={"size": 11, "color": "#52606d"},
        )
    if result.side_effects:
        fig.add_trace(
            go.Scatter(
                x=[mark.onset_on for mark in result.side_effects],
                y=[mark.grade for mark in result.side_effects],
                mode="markers",
                name="Side effect (grade)",
                marker={
                    "symbol": "triangle-up",
                    "size": 12,
                    "color": [GRADE_COLOURS[mark.grade - 1] for mark in result.side_effects],
                    "line": {"width": 1, "color": "#333"},
                },
                text=[escape(mark.label) for mark in result.side_effects],
                hovertemplate="%{x|%Y-%m-%d}<br>%{text}, grade %{y}<extra></extra>",
            ),
            row=2,
            col=1,
        )
    else:
        fig.add_annotation(
            text="No side effects recorded",
            xref="x2 domain",
            yref="y2 domain",
            x=0.5,
            y=0.5,
            showarrow=False,
            font={"color": "#52606d"},
        )
    yaxis: dict[str, object] = {
        "title": {"text": result.axis_title, "standoff": 8},
        "automargin": True,
    }
    if scale.kind == ScaleKind.ORDINAL:
        levels = list(scale.levels.order_by("value"))
        yaxis |= {
            "tickmode": "array",
            "tickvals": [float(level.value) for level in levels],
            "ticktext": [level.label for level in levels],
        }
    values = [float(p.value) for one in result.series for p in one.points]
    if scale.kind == ScaleKind.ORDINAL or scale.max_value - scale.min_value <= 50:
        pad = float(scale.step) / 2
        yaxis["range"] = [float(scale.min_value) - pad, float(scale.max_value) + pad]
    elif values:
        # A wide scale (cm, hairs) is zoomed on the values, but never to less than 50 steps
        # around them: half a centimetre must not fill the plot and look like a large change.
        low, high = min(values), max(values)
        half = max((high - low) * 0.6, 25 * float(scale.step))
        middle = (low + high) / 2
        yaxis["range"] = [
            max(middle - half, float(scale.min_value)),
            min(middle + half, float(scale.max_value)),
        ]
    fig.update_yaxes(row=1, col=1, **yaxis)
    fig.update_yaxes(
        row=2,
        col=1,
        title={"text": "Side effects<br>(grade)"},
        range=[0.5, 5.5],
        tickvals=[1, 3, 5],
    )
    fig.update_xaxes(type="date", row=2, col=1, title={"text": f"Date ({tz.key})"})
    fig.update_layout(
        template="plotly_white",
        height=440,
        margin={"l": 84, "r": 20, "t": 40, "b": 50},
        legend={"orientation": "h", "y": 1.12, "x": 0},
        font={"family": "system-ui, sans-serif", "size": 13},
        hovermode="closest",
    )
    return fig


def plot_html(result: CourseResult) -> str:
    """The figure as a div and the script that draws it; the page loads plotly.min.js."""
    html: str = figure(result).to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id="course-result-plot",
        default_width="100%",
        config={
            "displaylogo": False,
            "responsive": True,
            "modeBarButtonsToRemove": ["lasso2d", "select2d"],
        },
    )
    return html


def time_point_label(measurement: Measurement) -> str:
    """ "After session 2" rather than the bare time point, during the course."""
    if measurement.session_number:
        return f"After session {measurement.session_number}"
    return measurement.get_time_point_display()


def change_text(value: Decimal | None) -> str:
    """+1.5, -2, 0: a change with its sign."""
    if value is None:
        return ""
    text = number_text(abs(value))
    return text if value == 0 else ("+" if value > 0 else "-") + text
