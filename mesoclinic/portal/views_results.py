"""My results: the patient's own measurements and photos (``results``), and their photos
served one by one. Every read is audited."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mesoclinic.charts import photos
from mesoclinic.charts.models import ChartPhoto
from mesoclinic.portal import results as portal_results
from mesoclinic.portal.access import patient_of, patient_view, seen


@patient_view
@require_GET
def results(request: HttpRequest) -> HttpResponse:
    patient = patient_of(request)
    found = portal_results.results_of(patient)
    seen(
        request,
        "results",
        courses=[course.plan.pk for course in found.courses],
        measurements=found.measurement_ids,
        photos=found.photo_ids,
    )
    return render(
        request, "portal/results/index.html", {"results": found, "portal_section": "results"}
    )


def _own_photo(request: HttpRequest, photo_pk: int) -> ChartPhoto:
    photo = (
        portal_results.own_photos(patient_of(request))
        .select_related("chart")
        .filter(pk=photo_pk)
        .first()
    )
    if photo is None:
        raise Http404("No such photo.")
    return photo


def _served(request: HttpRequest, photo_pk: int, *, thumbnail: bool) -> HttpResponse:
    photo = _own_photo(request, photo_pk)
    try:
        data = photos.thumbnail_bytes(photo) if thumbnail else photos.photo_bytes(photo)
    except FileNotFoundError:
        raise Http404("The photo's file is missing.") from None
    seen(request, "photo", photo, chart_id=photo.chart_id, thumbnail=thumbnail)
    response = HttpResponse(data, content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="photo-{photo.pk}.jpg"'
    # The patient's own photo: never kept by a shared cache or the browser's disk cache.
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@patient_view
@require_GET
def photo(request: HttpRequest, photo_pk: int) -> HttpResponse:
    return _served(request, photo_pk, thumbnail=False)


@patient_view
@require_GET
def photo_thumb(request: HttpRequest, photo_pk: int) -> HttpResponse:
    return _served(request, photo_pk, thumbnail=True)
