"""The chart pages: start a chart from the check-in page, fill in the draft on a tablet (every
change saved at once), sign it, and correct a signed chart by an amendment."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.charts import bodymap, editor, photos, services
from mesoclinic.charts.models import AmendableField, Chart, Device, Side, Technique
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404
from mesoclinic.courses.models import Appointment
from mesoclinic.formulas.models import Lot, LotStatus


def _fail(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


@require_POST
@requires(Perm.CHART_EDIT)
def start(request: HttpRequest, appointment_pk: int) -> HttpResponse:
    appointment = get_scoped_or_404(request, Appointment, pk=appointment_pk)
    copy_from = None
    if request.POST.get("copy_from"):
        copy_from = get_scoped_or_404(
            request, Chart, pk=request.POST["copy_from"], patient=appointment.patient_id
        )
    try:
        chart = services.start_chart(
            appointment, signed_in_user(request), copy_from=copy_from, request=request
        )
    except ValidationError as error:
        _fail(request, error)
        return redirect("screening:appointment", appointment.pk)
    return redirect("charts:chart", chart.pk)


def usable_lots(chart: Chart, spec: services.DraftSpec) -> list[Lot]:
    """Lots the chart may draw from on the session's day, and any it already names."""
    day = timezone.localdate(chart.appointment.starts_at, chart.clinic.tz)
    named = {line.lot_id for syringe in spec.syringes for line in syringe.lots}
    return list(
        Lot.objects.filter(product__clinic=chart.clinic_id)
        .filter(
            Q(
                status=LotStatus.ACTIVE,
                expiry_date__gte=day,
                received_on__lte=day,
            )
            & (Q(remaining_units__gt=0) | Q(product__multi_dose=True, opened_on__isnull=False))
            | Q(pk__in=named)
        )
        .select_related("product")
        .order_by("product__name", "expiry_date", "lot_number")
    )


def _editor_context(
    request: HttpRequest,
    chart: Chart,
    spec: services.DraftSpec,
    errors: list[str] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    tz = chart.clinic.tz
    lots = usable_lots(chart, spec)
    labels = bodymap.area_labels()
    return {
        "chart": chart,
        "spec": spec,
        "errors": list(errors),
        "started_input": editor.local_input(spec.started_at, tz),
        "ended_input": editor.local_input(spec.ended_at, tz),
        "minutes": (
            round((spec.ended_at - spec.started_at).total_seconds() / 60)
            if spec.started_at and spec.ended_at
            else None
        ),
        "area_rows": [
            {
                "index": k,
                "spec": area,
                "points": editor.encode_points(area.points),
                "volume": services.area_volume(area),
                "label": labels.get(area.area, area.area),
            }
            for k, area in enumerate(spec.areas)
        ],
        "lots": lots,
        "body_areas": BodyArea.objects.filter(retired=False).order_by("label"),
        "sides": Side.choices,
        "techniques": Technique.choices,
        "devices": Device.choices,
        "pain_scale": range(11),
        "totals": {t.number: t for t in services.totals(spec)},
        "problems": services.problems(spec),
        "bodymap_views": bodymap.svg_views(
            editor.map_points(spec),
            editor.treated(spec),
            interactive=True,
            labels=labels,
        ),
        "bodymap_form_id": "chart-form",
        "can_sign": has_perm(request.user, Perm.CHART_SIGN, request)
        and request.user.pk == chart.practitioner_id,
    }


def _summary_context(request: HttpRequest, chart: Chart) -> dict[str, Any]:
    spec = services.spec_of(chart)
    labels = bodymap.area_labels()
    lots = {
        lot.pk: lot
        for lot in Lot.objects.filter(
            pk__in={line.lot_id for s in spec.syringes for line in s.lots}
        ).select_related("product")
    }
    amendments = list(chart.amendments.select_related("author"))
    amended = {amendment.field for amendment in amendments}
    effective = services.effective(chart)
    return {
        "chart": chart,
        "spec": spec,
        "amendments": amendments,
        "amendable": AmendableField.choices,
        "can_amend": chart.signed_at is not None
        and has_perm(request.user, Perm.CHART_AMEND, request),
        "session_rows": [
            {
                "label": label,
                "value": effective[name],
                "is_time": name in (AmendableField.STARTED_AT, AmendableField.ENDED_AT),
                "amended": name in amended,
            }
            for name, label in AmendableField.choices
        ],
        "area_rows": [
            {
                "spec": area,
                "volume": services.area_volume(area),
                "label": labels[area.area],
                "side": Side(area.side).label if area.side else "",
                "technique": Technique(area.technique).label,
            }
            for area in spec.areas
        ],
        "syringe_rows": [
            {
                "spec": syringe,
                "lines": [{"line": line, "lot": lots[line.lot_id]} for line in syringe.lots],
            }
            for syringe in spec.syringes
        ],
        "bodymap_views": bodymap.svg_views(
            editor.map_points(spec), editor.treated(spec), interactive=False, labels=labels
        ),
    }


@requires(Perm.CHART_VIEW)
def chart(request: HttpRequest, pk: int) -> HttpResponse:
    chart = get_scoped_or_404(request, Chart, pk=pk)
    audit.record(AuditAction.VIEW, request=request, obj=chart, patient_id=chart.patient_id)
    editable = chart.signed_at is None and has_perm(request.user, Perm.CHART_EDIT, request)
    if editable:
        context = _editor_context(request, chart, services.spec_of(chart))
    else:
        context = _summary_context(request, chart)
    context |= {
        "editable": editable,
        "progress": services.progress(chart.plan) if chart.plan else None,
        "photos_panel": photos.panel(chart, request, editable=editable),
    }
    return render(request, "charts/chart.html", context)


@require_POST
@requires(Perm.CHART_EDIT)
def save(request: HttpRequest, pk: int) -> HttpResponse:
    """Autosave (no action: answers with the checks) and the page's buttons (answers with
    the whole editor). Refused input changes nothing; the checks say why, and the fields keep
    what was typed."""
    chart = get_scoped_or_404(request, Chart, pk=pk)
    # htmx adds the form's last-pressed button to a later autosave of the form: an autosave
    # (aimed at the checks) must not repeat that button's action.
    autosave = request.htmx and request.htmx.target == "chart-checks"  # type: ignore[attr-defined]
    action = "" if autosave else request.POST.get("action", "")
    try:
        spec = editor.read(request.POST, chart.clinic.tz)
        lots = usable_lots(chart, spec)
        spec = editor.apply(
            action,
            spec,
            request.POST,
            default_lot=lots[0] if lots else None,
            default_volume=chart.formula_version.total_volume_ml,
            now=timezone.now().replace(second=0, microsecond=0),
        )
        services.save_draft(chart, spec, signed_in_user(request), request=request)
    except ValidationError as error:
        if not request.htmx:  # type: ignore[attr-defined]
            _fail(request, error)
            return redirect("charts:chart", chart.pk)
        saved = services.spec_of(chart)
        response = render(
            request,
            "charts/_checks.html",
            _editor_context(request, chart, saved, error.messages) | {"unsaved": True},
        )
        response["HX-Retarget"] = "#chart-checks"
        response["HX-Reswap"] = "outerHTML"
        return response
    if not request.htmx:  # type: ignore[attr-defined]
        return redirect("charts:chart", chart.pk)
    template = "charts/_checks.html" if not action else "charts/_editor.html"
    return render(request, template, _editor_context(request, chart, spec))


@require_POST
@requires(Perm.CHART_SIGN)
def sign(request: HttpRequest, pk: int) -> HttpResponse:
    chart = get_scoped_or_404(request, Chart, pk=pk)
    try:
        services.sign(
            chart, signed_in_user(request), request.POST.get("password", ""), request=request
        )
    except ValidationError as error:
        _fail(request, error)
    else:
        messages.success(request, "Chart signed. The lots used have left stock.")
    return redirect("charts:chart", chart.pk)


@require_POST
@requires(Perm.CHART_AMEND)
def amend(request: HttpRequest, pk: int) -> HttpResponse:
    chart = get_scoped_or_404(request, Chart, pk=pk)
    field = request.POST.get("field", "")
    value = request.POST.get("value", "")
    if field in (AmendableField.STARTED_AT, AmendableField.ENDED_AT) and value:
        value = value.replace("T", " ")
    try:
        services.amend(
            chart,
            field,
            value,
            request.POST.get("reason", ""),
            signed_in_user(request),
            request=request,
        )
    except ValidationError as error:
        _fail(request, error)
    else:
        messages.success(request, "Amendment recorded; the original stays on the chart.")
    return redirect("charts:chart", chart.pk)
