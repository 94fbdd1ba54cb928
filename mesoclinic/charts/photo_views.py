"""The chart's photos: adding one to a draft (from the tablet's camera), removing one, serving
a photo or its thumbnail to the chart's clinic, and the comparison of one area and view
across a course's sessions. Thin views over ``photos``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from mesoclinic.charts import photos
from mesoclinic.charts.models import Chart, ChartPhoto
from mesoclinic.charts.photo_forms import PhotoForm
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404
from mesoclinic.patients.models import Patient


def _is_htmx(request: HttpRequest) -> bool:
    return bool(getattr(request, "htmx", False))


def _panel_response(
    request: HttpRequest,
    chart: Chart,
    *,
    form: PhotoForm | None = None,
    errors: list[str] | None = None,
) -> HttpResponse:
    """The panel again, for htmx: with the form's errors after a refusal (answered 200, as
    htmx swaps only a successful answer)."""
    editable = has_perm(request.user, Perm.CHART_EDIT, request)
    context = {
        "photos_panel": photos.panel(chart, request, editable=editable, form=form, errors=errors)
    }
    return render(request, "charts/_photos.html", context)


def _refused(
    request: HttpRequest, chart: Chart, messages_: list[str], form: PhotoForm | None = None
) -> HttpResponse:
    if _is_htmx(request):
        return _panel_response(request, chart, form=form, errors=messages_)
    for message in messages_:
        messages.error(request, message)
    return redirect("charts:chart", chart.pk)


def _form_messages(form: PhotoForm) -> list[str]:
    return [str(message) for errors in form.errors.values() for message in errors]


@require_POST
@requires(Perm.CHART_EDIT)
def photo_add(request: HttpRequest, pk: int) -> HttpResponse:
    chart = get_scoped_or_404(request, Chart, pk=pk)
    form = PhotoForm(request.POST, request.FILES, chart=chart)
    if not form.is_valid():
        return _refused(request, chart, _form_messages(form), form)
    data = form.cleaned_data
    try:
        photo = photos.add_photo(
            chart,
            upload=data["image"],
            moment=data["moment"],
            body_area=data["body_area"],
            view=data["view"],
            taken_at=data["taken_at"],
            actor=signed_in_user(request),
            request=request,
        )
    except ValidationError as error:
        return _refused(request, chart, error.messages, form)
    if _is_htmx(request):
        return _panel_response(request, chart)
    messages.success(request, f"Photo added: {photo}.")
    return redirect("charts:chart", chart.pk)


@require_POST
@requires(Perm.CHART_EDIT)
def photo_remove(request: HttpRequest, pk: int) -> HttpResponse:
    photo = get_scoped_or_404(request, ChartPhoto, pk=pk)
    chart = photo.chart
    try:
        photos.remove_photo(photo, signed_in_user(request), request=request)
    except ValidationError as error:
        return _refused(request, chart, error.messages)
    if _is_htmx(request):
        return _panel_response(request, chart)
    messages.success(request, f"Photo removed: {photo}.")
    return redirect("charts:chart", chart.pk)


def _jpeg(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _served(request: HttpRequest, pk: int, *, thumbnail: bool) -> HttpResponse:
    photo = get_scoped_or_404(request, ChartPhoto, pk=pk)
    try:
        data = photos.thumbnail_bytes(photo) if thumbnail else photos.photo_bytes(photo)
    except FileNotFoundError:
        raise Http404("The photo's file is missing.") from None
    audit.record(
        AuditAction.VIEW,
        request=request,
        obj=photo,
        clinic_id=photo.chart.clinic_id,
        patient_id=photo.chart.patient_id,
        chart_id=photo.chart_id,
        thumbnail=thumbnail,
    )
    # Named by the record, never by anything the patient or the upload could put there.
    suffix = "-thumb" if thumbnail else ""
    return _jpeg(data, f"chart-{photo.chart_id}-photo-{photo.pk}{suffix}.jpg")


@require_GET
@requires(Perm.CHART_VIEW)
def photo_file(request: HttpRequest, pk: int) -> HttpResponse:
    return _served(request, pk, thumbnail=False)


@require_GET
@requires(Perm.CHART_VIEW)
def photo_thumb(request: HttpRequest, pk: int) -> HttpResponse:
    return _served(request, pk, thumbnail=True)


@require_GET
@requires(Perm.CHART_VIEW)
def compare(request: HttpRequest, patient_pk: int) -> HttpResponse:
    """One area and view of the patient across a course's sessions, labelled by time point,
    with a before/after pair (a slider once compare.js runs, side by side without it)."""
    patient = get_scoped_or_404(request, Patient, pk=patient_pk)
    asked = {key: request.GET.get(key, "") for key in ("course", "area", "view", "first", "second")}
    shown = photos.comparison(patient, **asked)
    audit.record(
        AuditAction.VIEW,
        request=request,
        obj=patient,
        what="photo comparison",
        course=shown.course.plan.pk if shown.course else asked["course"],
        area=shown.chosen.area.code if shown.chosen else asked["area"],
        view=shown.chosen.view if shown.chosen else asked["view"],
        photos=shown.photo_ids,
        pair=[side.photo.pk for side in shown.pair] if shown.pair else [],
    )
    return render(
        request,
        "charts/compare.html",
        {"patient": patient, "c": shown, "asked": asked},
    )
