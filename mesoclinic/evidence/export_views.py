"""The research export's page (what the export holds: its dictionary) and its download."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mesoclinic.clinics.permissions import Perm, requires
from mesoclinic.evidence import research_export, scope
from mesoclinic.evidence.pages import frame


@requires(Perm.RESEARCH_VIEW)
def export_page(request: HttpRequest) -> HttpResponse:
    context = frame(
        request,
        "evidence:export",
        tables=research_export.dictionary(),
        clinics=len(scope.clinic_ids(request)),
        k=research_export.K_ANONYMITY,
        shift_days=research_export.SHIFT_DAYS,
    )
    return render(request, "evidence/export.html", context)


@requires(Perm.RESEARCH_VIEW)
@require_POST
def export_download(request: HttpRequest) -> HttpResponse:
    export = research_export.record_export(request, scope.clinic_ids(request))
    response = HttpResponse(export.content, content_type="application/zip")
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="mesoclinic-research-{day}.zip"'
    response["Cache-Control"] = "private, no-store"
    return response
