"""The outbreak alert pages: the clinic's alerts with a plot of their infections by week, one
alert with its test in words and its exposed patients to contact, and the actions on it (scan
now, record a contact, quarantine the lot, close). Thin views over ``outbreaks``; staff only,
as an alert names patients, and reading one is audited."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import plotly.graph_objects as go
from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Clinic, User
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.evidence import outbreaks
from mesoclinic.evidence.downloads import csv_response
from mesoclinic.evidence.models import AlertContact, AlertStatus, ExposureKind, OutbreakAlert
from mesoclinic.evidence.pages import frame
from mesoclinic.formulas.forms import ContactForm
from mesoclinic.formulas.models import LotStatus
from mesoclinic.formulas.services import quarantine_lot, update_contact

PLOT_CONFIG = {"displaylogo": False, "responsive": True}
WEEKS_HEADER = ("alert", "exposure", "week_starting", "infections")


class CloseForm(forms.Form):
    note = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        label="Why it is closed, and what was done",
    )


def _staff(request: HttpRequest) -> tuple[User, Clinic]:
    user = signed_in_user(request)
    assert user.clinic is not None  # staff, as ALERT_VIEW requires
    return user, user.clinic


# --- the list ---------------------------------------------------------------------------------


def _week_rows(alerts: list[OutbreakAlert]) -> list[tuple[OutbreakAlert, date, int]]:
    by_pk = {alert.pk: alert for alert in alerts}
    return [(by_pk[pk], week, n) for pk, week, n in outbreaks.infections_by_week(alerts)]


def weeks_figure(rows: list[tuple[OutbreakAlert, date, int]]) -> go.Figure | None:
    """Infected patients by week of onset, one bar series per open alert."""
    if not rows:
        return None
    figure = go.Figure()
    for alert in dict.fromkeys(alert for alert, _, _ in rows):
        mine = [(week, n) for a, week, n in rows if a == alert]
        figure.add_trace(
            go.Bar(
                x=[week for week, _ in mine],
                y=[n for _, n in mine],
                # plotly.js renders some HTML in names: a product's name is escaped.
                name=escape(f"{alert.pk}: {alert.label}"),
            )
        )
    figure.update_layout(
        template="plotly_white",
        # Room for the legend above the plot, one line per alert on a phone.
        height=260 + 20 * len(figure.data),
        margin={"l": 50, "r": 20, "t": 20, "b": 50},
        font={"family": "system-ui, sans-serif", "size": 13},
        barmode="group",
        xaxis={"title": "Week of onset (starting Monday)", "type": "date"},
        yaxis={"title": "Infected patients", "dtick": 1, "rangemode": "tozero"},
        # Above the plot: below it, a legend of several alerts covered the axis title.
        legend={"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
    )
    return figure


@requires(Perm.ALERT_VIEW)
def alert_list(request: HttpRequest) -> HttpResponse:
    _, clinic = _staff(request)
    clusters = outbreaks.open_clusters(clinic)
    open_alerts = [alert for cluster in clusters for alert in (cluster.alert, *cluster.explains)]
    rows = _week_rows(open_alerts)
    figure = weeks_figure(rows)
    plot = ""
    if figure is not None:
        html = figure.to_html(
            full_html=False, include_plotlyjs=False, div_id="alerts-plot", config=PLOT_CONFIG
        )
        plot = mark_safe(html)  # noqa: S308 - plotly's own markup; the names are escaped
    context = frame(
        request,
        "evidence:alerts",
        clusters=clusters,
        closed_alerts=list(
            scoped(request, OutbreakAlert)
            .filter(status=AlertStatus.CLOSED)
            .select_related("closed_by")
        ),
        week_rows=rows,
        plot=plot,
    )
    return render(request, "evidence/alerts.html", context)


def _csv_rows(rows: list[tuple[OutbreakAlert, date, int]]) -> Iterator[list[object]]:
    for alert, week, infections in rows:
        yield [alert.pk, alert.label, week.isoformat(), infections]


@requires(Perm.ALERT_VIEW)
def alerts_csv(request: HttpRequest) -> HttpResponse:
    open_alerts = list(scoped(request, OutbreakAlert).filter(status=AlertStatus.OPEN))
    return csv_response(
        "outbreak-infections-by-week.csv", WEEKS_HEADER, _csv_rows(_week_rows(open_alerts))
    )


@requires(Perm.ALERT_VIEW)
@require_POST
def alerts_scan(request: HttpRequest) -> HttpResponse:
    _, clinic = _staff(request)
    before = set(
        scoped(request, OutbreakAlert).filter(status=AlertStatus.OPEN).values_list("pk", flat=True)
    )
    found = outbreaks.scan(clinic)
    new = [alert for alert in found if alert.pk not in before]
    audit.record(
        AuditAction.UPDATE, request=request, scan="outbreaks", new_alerts=[a.pk for a in new]
    )
    if new:
        messages.warning(request, f"Scanned: {len(new)} new alert{'s' if len(new) > 1 else ''}.")
    else:
        messages.success(request, f"Scanned: no new alert; {len(found)} open.")
    return redirect("evidence:alerts")


# --- one alert --------------------------------------------------------------------------------


@requires(Perm.ALERT_VIEW)
def alert_detail(
    request: HttpRequest,
    pk: int,
    contact_forms: dict[int, ContactForm] | None = None,
    close_form: CloseForm | None = None,
) -> HttpResponse:
    alert = get_scoped_or_404(request, OutbreakAlert, pk=pk)
    contacts = list(alert.contacts.select_related("patient", "updated_by"))
    # It names patients: one audited read per opening, with every patient listed.
    audit.record(
        AuditAction.VIEW,
        request=request,
        obj=alert,
        listed_patient_ids=[contact.patient_id for contact in contacts],
    )
    bound = contact_forms or {}
    lot = alert.lot
    cluster = outbreaks.cluster_of(alert)
    in_cluster = cluster.pks if cluster is not None else set()
    context = frame(
        request,
        "evidence:alerts",
        alert=alert,
        explanation=outbreaks.explanation(alert),
        cluster=cluster,
        # The cluster's alerts are listed with it; these share only some infected patients.
        shared=[other for other in outbreaks.shared_alerts(alert) if other.pk not in in_cluster],
        contacts=[(c, bound.get(c.pk) or ContactForm(prefix=f"contact-{c.pk}")) for c in contacts],
        to_contact=sum(1 for c in contacts if c.status == "to_contact"),
        close_form=close_form or CloseForm(),
        can_close=alert.is_open and has_perm(request.user, Perm.FLAG_CLOSE, request),
        can_quarantine=(
            alert.kind == ExposureKind.LOT
            and lot is not None
            and lot.status == LotStatus.ACTIVE
            and has_perm(request.user, Perm.LOT_STATUS, request)
        ),
        p_value=outbreaks.format_p(alert.p_value),
        threshold=outbreaks.format_p(alert.threshold),
    )
    refused = bool(contact_forms) or close_form is not None
    return render(request, "evidence/alert.html", context, status=400 if refused else 200)


@requires(Perm.ALERT_VIEW)
@require_POST
def alert_contact(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    contact = get_scoped_or_404(request, AlertContact, pk=pk)
    form = ContactForm(request.POST, prefix=f"contact-{contact.pk}")
    if form.is_valid():
        try:
            update_contact(
                contact,
                **form.cleaned_data,
                actor=user,
                request=request,
                alert_id=contact.alert_id,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"The contact with {contact.patient} was recorded.")
            return redirect("evidence:alert", pk=contact.alert_id)
    return alert_detail(request, contact.alert_id, contact_forms={contact.pk: form})


@requires(Perm.LOT_STATUS)
@require_POST
def alert_quarantine(request: HttpRequest, pk: int) -> HttpResponse:
    """One click: quarantine the alert's lot, the alert named as the reason."""
    user, _ = _staff(request)
    alert = get_scoped_or_404(request, OutbreakAlert, pk=pk)
    lot = alert.lot
    if alert.kind != ExposureKind.LOT or lot is None:
        messages.error(
            request,
            f"This alert is about a {ExposureKind(alert.kind).label.lower()}, not a lot: "
            "nothing was quarantined. Quarantine a lot from its own page.",
        )
    elif lot.status != LotStatus.ACTIVE:
        messages.error(
            request,
            f"Lot {lot.lot_number} is already {lot.get_status_display().lower()}: nothing changed.",
        )
    else:
        try:
            quarantine_lot(lot, outbreaks.quarantine_reason(alert), user, request=request)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request, f"Lot {lot.lot_number} is quarantined: it can no longer be charted."
            )
    return redirect("evidence:alert", pk=alert.pk)


@requires(Perm.FLAG_CLOSE)
@require_POST
def alert_close(request: HttpRequest, pk: int) -> HttpResponse:
    user, _ = _staff(request)
    alert = get_scoped_or_404(request, OutbreakAlert, pk=pk)
    form = CloseForm(request.POST)
    if form.is_valid():
        try:
            outbreaks.close_alert(alert, form.cleaned_data["note"], user, request=request)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Alert {alert.pk} is closed.")
            return redirect("evidence:alerts")
    return alert_detail(request, alert.pk, close_form=form)
