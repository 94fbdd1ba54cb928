"""The outcome evidence page and its CSV: the filters, then for each indication the plot of
mean change by formula beside its table, the other groupings, the adjusted comparison and the
drop-out. The figures come from ``effects.outcome_report``; this module only lays them out."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

import plotly.graph_objects as go
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse

from mesoclinic.catalogue.models import Direction
from mesoclinic.clinics.permissions import Perm, requires
from mesoclinic.evidence.comparison import Contrast
from mesoclinic.evidence.downloads import csv_response
from mesoclinic.evidence.effects import (
    CSV_HEADER,
    Grouping,
    GroupRow,
    IndicationReport,
    csv_rows,
    outcome_report,
)
from mesoclinic.evidence.filters import FilterForm
from mesoclinic.evidence.pages import frame
from mesoclinic.evidence.stats import NOT_ENOUGH_DATA, Estimate


def mean_text(estimate: Estimate | None) -> str:
    if estimate is None:
        return NOT_ENOUGH_DATA
    return f"{estimate.value:+.2f} ({estimate.low:+.2f} to {estimate.high:+.2f})"


def share_text(estimate: Estimate | None) -> str:
    if estimate is None:
        return NOT_ENOUGH_DATA
    return f"{estimate.value:.0%} ({estimate.low:.0%} to {estimate.high:.0%})"


@dataclass(frozen=True)
class Line:
    """A group's row as the page shows it."""

    row: GroupRow
    change: str
    improved: str
    practitioner_gais: str
    patient_gais: str


def line(row: GroupRow, *, has_share: bool) -> Line:
    return Line(
        row=row,
        change=mean_text(row.change),
        improved=share_text(row.improved) if has_share else "Not given: see above",
        practitioner_gais=share_text(row.practitioner_gais),
        patient_gais=share_text(row.patient_gais),
    )


def figure(part: IndicationReport) -> go.Figure | None:
    """Mean change by formula with its 95% interval, horizontal, N in each label; None when no
    formula has enough courses."""
    rows = [row for row in part.by_formula.rows if row.change is not None]
    if not rows:
        return None
    estimates = [row.change for row in rows if row.change is not None]
    scale = part.scale
    unit = f" ({scale.unit})" if scale.unit else ""
    better: dict[str, str] = {
        Direction.LOWER_IS_BETTER: "lower is better",
        Direction.HIGHER_IS_BETTER: "higher is better",
    }
    # plotly.js renders some HTML in labels: formula names are typed by people.
    labels = [escape(f"{row.label} (N={row.counts.complete})") for row in rows]
    fig = go.Figure(
        go.Scatter(
            x=[e.value for e in estimates],
            y=labels,
            mode="markers",
            marker={"size": 10, "color": "#1f5f8b"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [e.high - e.value for e in estimates],
                "arrayminus": [e.value - e.low for e in estimates],
                "thickness": 2,
            },
            customdata=[[e.low, e.high, e.n] for e in estimates],
            hovertemplate=(
                "%{y}<br>mean change %{x:+.2f}<br>95% CI %{customdata[0]:+.2f} to "
                "%{customdata[1]:+.2f}<extra></extra>"
            ),
        )
    )
    fig.add_vline(x=0, line={"color": "#888", "dash": "dot"})
    fig.update_layout(
        height=120 + 48 * len(rows),
        margin={"l": 10, "r": 10, "t": 10, "b": 50},
        xaxis_title=escape(
            f"Mean change from baseline{unit}, "
            f"{better.get(scale.direction, 'no better direction')}; 95% interval"
        ),
        yaxis={"autorange": "reversed", "automargin": True},
        showlegend=False,
    )
    return fig


def plot_html(part: IndicationReport) -> str:
    fig = figure(part)
    if fig is None:
        return ""
    html: str = fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"outcome-plot-{part.indication.code}",
        default_width="100%",
        config={"displaylogo": False, "responsive": True},
    )
    return html


@dataclass(frozen=True)
class Table:
    grouping: Grouping
    lines: list[Line]


@dataclass(frozen=True)
class Section:
    """One indication as the page shows it."""

    part: IndicationReport
    plot: str
    overall: Line
    tables: list[Table]  # by formula first
    contrasts: list[tuple[Contrast, str]]


def section(part: IndicationReport) -> Section:
    return Section(
        part=part,
        plot=plot_html(part),
        overall=line(part.overall, has_share=part.has_share),
        tables=[
            Table(g, [line(row, has_share=part.has_share) for row in g.rows])
            for g in part.groupings
        ],
        contrasts=[(c, mean_text(c.difference)) for c in part.comparison.contrasts],
    )


@requires(Perm.EVIDENCE_VIEW)
def outcomes(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request)
    filters = form.filters()
    # With a bad filter the form shows its errors and no report is drawn.
    report = outcome_report(filters) if filters is not None else None
    query = request.GET.urlencode()
    csv_url = reverse("evidence:outcomes-csv") + (f"?{query}" if query else "")
    return render(
        request,
        "evidence/outcomes.html",
        frame(
            request,
            "evidence:outcomes",
            filter_form=form,
            report=report,
            sections=[section(part) for part in report.indications] if report else [],
            csv_url=csv_url,
        ),
    )


@requires(Perm.EVIDENCE_VIEW)
def outcomes_csv(request: HttpRequest) -> HttpResponse:
    form = FilterForm(request)
    filters = form.filters()
    if filters is None:
        errors = " ".join(str(e) for errors in form.errors.values() for e in errors)
        return HttpResponseBadRequest(
            f"The filters are not valid: {errors}", content_type="text/plain; charset=utf-8"
        )
    return csv_response("outcomes.csv", CSV_HEADER, csv_rows(outcome_report(filters)))
