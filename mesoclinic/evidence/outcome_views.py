"""The outcome evidence page and its CSV: the filters and a list of the indications, then for
each indication its drop-out, the plot of mean change by formula beside its table, the adjusted
comparison, and the other groupings folded. The figures come from ``effects.outcome_report``;
this module only lays them out."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from html import escape

import plotly.graph_objects as go
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import render
from django.urls import reverse
from django.utils.html import format_html

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

# An estimate's interval is kept on one line, and drops under the estimate in a narrow column.
FIGURE = '{} <span class="muted nowrap">({} to {})</span>'


def mean_text(estimate: Estimate | None) -> str:
    if estimate is None:
        return NOT_ENOUGH_DATA
    return format_html(
        FIGURE, f"{estimate.value:+.2f}", f"{estimate.low:+.2f}", f"{estimate.high:+.2f}"
    )


def share_text(estimate: Estimate | None) -> str:
    if estimate is None:
        return NOT_ENOUGH_DATA
    return format_html(
        FIGURE, f"{estimate.value:.0%}", f"{estimate.low:.0%}", f"{estimate.high:.0%}"
    )


@dataclass(frozen=True)
class Line:
    """A group's row as the page shows it."""

    row: GroupRow
    change: str
    improved: str  # shown only for a scale with a published minimal important difference
    practitioner_gais: str
    patient_gais: str


def line(row: GroupRow) -> Line:
    return Line(
        row=row,
        change=mean_text(row.change),
        improved=share_text(row.improved),
        practitioner_gais=share_text(row.practitioner_gais),
        patient_gais=share_text(row.patient_gais),
    )


# A plot's labels are wrapped at this many characters, so that a long formula name leaves the
# plot room on a phone.
LABEL_WIDTH = 22


def plot_label(text: str) -> str:
    """``text`` for a plotly label: escaped (plotly.js renders some HTML in labels, and formula
    names are typed by people) and wrapped onto lines with <br>."""
    return "<br>".join(escape(piece) for piece in textwrap.wrap(text, LABEL_WIDTH) or [""])


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
    labels = [f"{plot_label(row.label)}<br>N={row.counts.complete}" for row in rows]
    lines = sum(label.count("<br>") + 1 for label in labels)
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
        template="plotly_white",
        font={"family": "system-ui, sans-serif", "size": 13},
        height=110 + 24 * lines + 16 * len(rows),
        margin={"l": 10, "r": 16, "t": 10, "b": 70},
        # Short lines: the title is centred under the plot's area, which a phone's long labels
        # push right; the caption under the plot says the rest.
        xaxis_title=escape(f"Mean change{unit}")
        + "<br>"
        + escape(better.get(scale.direction, "no better direction")),
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
    """One indication as the page shows it: the by-formula table beside the plot, the others
    folded under it."""

    part: IndicationReport
    plot: str
    overall: Line
    by_formula: Table
    folded: list[Table]
    contrasts: list[tuple[Contrast, str]]


def section(part: IndicationReport) -> Section:
    by_formula, *folded = [Table(g, [line(row) for row in g.rows]) for g in part.groupings]
    return Section(
        part=part,
        plot=plot_html(part),
        overall=line(part.overall),
        by_formula=by_formula,
        folded=folded,
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
