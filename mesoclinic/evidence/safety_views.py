"""The side-effect rates page, its plots and its CSV downloads: thin views over
``safety.safety_report``; the figures and tables are drawn from the report's aggregated rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

import plotly.graph_objects as go
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from mesoclinic.clinics.permissions import Perm, requires
from mesoclinic.evidence.downloads import csv_response
from mesoclinic.evidence.filters import FilterForm
from mesoclinic.evidence.pages import frame
from mesoclinic.evidence.safety import (
    CHECK_FROM,
    CHECK_UNTIL,
    MonthRate,
    Rate,
    SafetyReport,
    safety_report,
)
from mesoclinic.evidence.stats import NOT_ENOUGH_DATA, Estimate

PLOT_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["lasso2d", "select2d"],
}
ACCENT = "#1f5f8b"
LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 360,
    "margin": {"l": 60, "r": 20, "t": 20, "b": 50},
    "font": {"family": "system-ui, sans-serif", "size": 13},
    "showlegend": False,
}


# --- plots -----------------------------------------------------------------------------------


def _error_bars(estimates: Sequence[Estimate | None]) -> dict[str, Any]:
    """Wilson intervals as plotly's asymmetric error bars, in percentage points; None (a gap)
    has no bar."""
    return {
        "type": "data",
        "symmetric": False,
        "array": [None if e is None else 100 * e.high - 100 * e.value for e in estimates],
        "arrayminus": [None if e is None else 100 * e.value - 100 * e.low for e in estimates],
        "color": "#52606d",
        "thickness": 1.5,
    }


def _html(figure: go.Figure, div_id: str) -> str:
    html: str = figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        default_width="100%",
        config=PLOT_CONFIG,
    )
    return html


def _months(first: date, last: date) -> list[date]:
    """The first day of every month from ``first``'s to ``last``'s."""
    months = [first]
    while months[-1] < last:
        day = months[-1]
        months.append(date(day.year + day.month // 12, day.month % 12 + 1, 1))
    return months


def month_figure(by_month: Sequence[MonthRate]) -> go.Figure | None:
    """The share of sessions followed by any side effect, per month, with Wilson 95% error
    bars; a month with too few sessions (the table beside lists it) or none is a gap in the
    line, so that the line never suggests data where there is none."""
    estimates = {m.month: (m.rate, m.rate.estimate) for m in by_month if m.rate.enough}
    if not estimates:
        return None
    months = _months(min(estimates), max(estimates))
    points = [estimates.get(month) for month in months]
    figure = go.Figure(
        go.Scatter(
            x=months,
            y=[None if p is None else p[0].percent for p in points],
            mode="lines+markers",
            line={"color": ACCENT, "width": 2},
            marker={"size": 8},
            error_y=_error_bars([None if p is None else p[1] for p in points]),
            customdata=[
                None
                if p is None
                else [p[0].events, p[0].units, p[0].low_percent, p[0].high_percent]
                for p in points
            ],
            hovertemplate=(
                "%{x|%B %Y}<br>%{y:.1f}% (95% CI %{customdata[2]:.1f}-%{customdata[3]:.1f}%)"
                "<br>%{customdata[0]} of %{customdata[1]} sessions<extra></extra>"
            ),
        )
    )
    figure.update_layout(**LAYOUT)
    # A point is a month, so ticks are months; a tick for each of many months crowds a phone.
    step = 1 if len(months) <= 6 else 3 if len(months) <= 18 else 6
    figure.update_xaxes(
        type="date", tickformat="%b %Y", dtick=f"M{step}", title={"text": "Month of the session"}
    )
    figure.update_yaxes(title={"text": "Sessions with a side effect (%)"}, rangemode="tozero")
    return figure


def side_effect_figure(report: SafetyReport) -> go.Figure | None:
    """The share of sessions followed by each side effect, with Wilson 95% error bars."""
    shown = [
        (row, row.per_session.estimate)
        for row in report.by_side_effect
        if row.per_session.estimate is not None
    ]
    if not shown:
        return None
    shown.reverse()  # plotly draws the first bar at the bottom: the most frequent on top
    rows = [row for row, _ in shown]
    rates = [row.per_session for row in rows]
    figure = go.Figure(
        go.Bar(
            x=[r.percent for r in rates],
            # plotly.js renders some HTML in labels: catalogue text, escaped all the same.
            y=[escape(row.label) for row in rows],
            orientation="h",
            marker={"color": ACCENT},
            error_x=_error_bars([e for _, e in shown]),
            customdata=[[r.events, r.units, r.low_percent, r.high_percent] for r in rates],
            hovertemplate=(
                "%{y}: %{x:.1f}% (95% CI %{customdata[2]:.1f}-%{customdata[3]:.1f}%)"
                "<br>%{customdata[0]} of %{customdata[1]} sessions<extra></extra>"
            ),
        )
    )
    figure.update_layout(**(LAYOUT | {"height": max(260, 40 + 26 * len(rows))}))
    figure.update_layout(margin={"l": 150, "r": 20, "t": 20, "b": 50})
    # On two lines: centred under the bars, one line runs off a phone's plot.
    figure.update_xaxes(title={"text": "Sessions with<br>the side effect (%)"}, rangemode="tozero")
    return figure


def _plot(figure: go.Figure | None, div_id: str) -> str:
    # plotly's own markup: a div and the script that draws into it, from our numbers.
    return mark_safe(_html(figure, div_id)) if figure is not None else ""  # noqa: S308


# --- CSV tables ------------------------------------------------------------------------------


def _proportion(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _rate_row(grouping: str, label: str, unit: str, r: Rate) -> list[object]:
    e = r.estimate
    return [
        grouping,
        label,
        unit,
        r.events,
        r.units,
        _proportion(e.value if e else None),
        _proportion(e.low if e else None),
        _proportion(e.high if e else None),
        "" if e else NOT_ENOUGH_DATA,
    ]


RATE_HEADER = [
    "grouping",
    "label",
    "unit",
    "with a side effect",
    "of",
    "rate",
    "95% low (Wilson)",
    "95% high (Wilson)",
    "note",
]


def rate_rows(report: SafetyReport, only: str | None = None) -> Iterator[list[object]]:
    """Every rate of the report, one line each; ``only`` keeps one grouping."""
    rows: list[list[object]] = [
        _rate_row("all", "Any side effect", "session", report.any_per_session),
        _rate_row("all", "Any side effect", "course", report.any_per_course),
    ]
    for m in report.by_month:
        rows.append(_rate_row("month", f"{m.month:%Y-%m}", "session", m.rate))
    for s in report.by_side_effect:
        rows.append(_rate_row("side-effect", s.label, "session", s.per_session))
        rows.append(_rate_row("side-effect", s.label, "course", s.per_course))
    for grouping in report.groupings:
        for r in grouping.rows:
            rows.append(_rate_row(grouping.key, r.label, "session", r))
    return (row for row in rows if only is None or row[0] == only)


def resolution_rows(report: SafetyReport) -> Iterator[list[object]]:
    for r in report.resolution:
        q = r.quantiles
        yield [
            r.label,
            r.resolved,
            *(
                [
                    q.median,
                    q.q1,
                    q.q3,
                    q.median_low if q.median_low is not None else "",
                    q.median_high if q.median_high is not None else "",
                    "",
                ]
                if q
                else ["", "", "", "", "", NOT_ENOUGH_DATA]
            ),
            r.resolved_undated,
            r.unresolved,
        ]


RESOLUTION_HEADER = [
    "side effect",
    "resolved with a date (N)",
    "median days",
    "lower quartile days",
    "upper quartile days",
    "median 95% low",
    "median 95% high",
    "note",
    "resolved, date not recorded",
    "not resolved or unknown",
]


def claim_rows(report: SafetyReport) -> Iterator[list[object]]:
    for w in report.within_a_day:
        yield [
            "resolved by the next day (dates)",
            *_rate_row("", w.label, "event", w.share)[1:],
            w.later,
            w.resolved_undated,
            w.unresolved,
        ]
    for c in report.next_day_check:
        yield [
            "still present at the next-day follow-up",
            *_rate_row("", c.label, "session", c.still_present)[1:],
            "",
            "",
            "",
        ]


CLAIM_HEADER = [
    "measure",
    "side effect",
    "unit",
    "count",
    "of",
    "share",
    "95% low (Wilson)",
    "95% high (Wilson)",
    "note",
    "resolved later",
    "resolved, date not recorded",
    "not resolved or unknown",
]

GROUPINGS = (
    "all",
    "month",
    "side-effect",
    "formula",
    "product",
    "lot",
    "device",
    "injector",
    "practitioner",
)
TABLES = ("rates", *GROUPINGS, "resolution", "24-hours")


# --- views -----------------------------------------------------------------------------------


@requires(Perm.EVIDENCE_VIEW)
@require_GET
def safety(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request)
    filters = form.filters()
    report = safety_report(filters) if filters is not None else None
    context = frame(
        request,
        "evidence:safety",
        filter_form=form,
        report=report,
        query=request.GET.urlencode(),
        not_enough_data=NOT_ENOUGH_DATA,
        check_from_hours=int(CHECK_FROM.total_seconds() // 3600),
        check_until_hours=int(CHECK_UNTIL.total_seconds() // 3600),
    )
    if report is not None:
        context["month_plot"] = _plot(month_figure(report.by_month), "safety-month-plot")
        context["side_effect_plot"] = _plot(side_effect_figure(report), "safety-side-effect-plot")
    return render(request, "evidence/safety.html", context)


@requires(Perm.EVIDENCE_VIEW)
@require_GET
def safety_csv(request: HttpRequest) -> HttpResponse:
    table = request.GET.get("table", "rates")
    if table not in TABLES:
        return HttpResponseBadRequest(
            f"There is no table {table!r}; choose one of {', '.join(TABLES)}.",
            content_type="text/plain; charset=utf-8",
        )
    form = FilterForm(request)
    filters = form.filters()
    if filters is None:
        problems = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return HttpResponseBadRequest(
            f"The filters are not valid: {problems}", content_type="text/plain; charset=utf-8"
        )
    report = safety_report(filters)
    if table == "resolution":
        return csv_response(
            "side-effect-resolution.csv", RESOLUTION_HEADER, resolution_rows(report)
        )
    if table == "24-hours":
        return csv_response("bruising-swelling-24-hours.csv", CLAIM_HEADER, claim_rows(report))
    if table == "rates":
        return csv_response("side-effect-rates.csv", RATE_HEADER, rate_rows(report))
    return csv_response(f"side-effect-rates-{table}.csv", RATE_HEADER, rate_rows(report, table))
