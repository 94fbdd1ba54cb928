"""Read-only pages of the catalogue (signing in is required by the global middleware)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from mesoclinic.catalogue.models import DataFile
from mesoclinic.catalogue.sections import SECTIONS, SECTIONS_BY_SLUG


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    sections = [(section, section.entries().count()) for section in SECTIONS]
    return render(
        request,
        "catalogue/index.html",
        {"sections": sections, "data_files": DataFile.objects.all()},
    )


@require_GET
def section(request: HttpRequest, slug: str) -> HttpResponse:
    found = SECTIONS_BY_SLUG.get(slug)
    if found is None:
        raise Http404("No such catalogue section.")
    return render(request, found.template, {"section": found, "entries": found.entries()})
