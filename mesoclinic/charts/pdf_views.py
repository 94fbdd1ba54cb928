"""The chart's PDFs: a session's one-page treatment summary and the course's history, for
the clinic's staff; every read is audited, as consent's PDF is."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from mesoclinic.charts import printing
from mesoclinic.charts.models import Chart
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, requires
from mesoclinic.clinics.tenancy import get_scoped_or_404
from mesoclinic.courses.models import CoursePlan


def _pdf_response(data: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    # A patient's record: kept by no shared cache, nor by the browser once closed.
    response["Cache-Control"] = "private, no-store"
    return response


@requires(Perm.CHART_VIEW)
def pdf(request: HttpRequest, pk: int) -> HttpResponse:
    chart = get_scoped_or_404(request, Chart, pk=pk)
    data = printing.session_summary_pdf(chart)
    audit.record(
        AuditAction.VIEW,
        request=request,
        obj=chart,
        patient_id=chart.patient_id,
        what="pdf",
        signed=chart.signed_at is not None,
        content_sha256=chart.content_sha256,
    )
    day = timezone.localdate(chart.appointment.starts_at, chart.clinic.tz).isoformat()
    return _pdf_response(data, f"treatment-summary-{day}.pdf")


@requires(Perm.CHART_VIEW)
def course_pdf(request: HttpRequest, plan_pk: int) -> HttpResponse:
    plan = get_scoped_or_404(request, CoursePlan, pk=plan_pk)
    data = printing.course_history_pdf(plan)
    charts = list(
        Chart.objects.filter(plan=plan)
        .order_by("appointment__starts_at", "pk")
        .values_list("pk", flat=True)
    )
    audit.record(
        AuditAction.VIEW,
        request=request,
        obj=plan,
        patient_id=plan.patient_id,
        what="course pdf",
        charts=charts,
    )
    return _pdf_response(data, f"course-history-{plan.pk}.pdf")
