"""After the session: aftercare advice and the patient's sessions, the 24-hour follow-up,
reporting a side effect (with a photo) and its confirmation, and the patient's own side-effect
photos. Thin views over ``portal.after`` and the follow-up services."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from mesoclinic.clinics.permissions import signed_in_user
from mesoclinic.followup.models import FollowUp
from mesoclinic.followup.photos import event_photo_bytes
from mesoclinic.portal import after
from mesoclinic.portal.access import patient_of, patient_view, seen
from mesoclinic.portal.before import errors_into


@patient_view
@require_GET
def aftercare(request: HttpRequest) -> HttpResponse:
    patient = patient_of(request)
    recent, older = after.sessions(patient, timezone.now())
    reports = after.own_reports(patient)
    seen(
        request,
        "aftercare",
        charts=[row.chart.pk for row in (*recent, *older)],
        events=[event.pk for event in reports],
    )
    return render(
        request,
        "portal/after/aftercare.html",
        {
            "portal_section": "aftercare",
            "recent": recent,
            "older": older,
            "reports": [(event, after.event_words(event)) for event in reports],
        },
    )


@patient_view
@require_http_methods(["GET", "POST"])
def follow_up(request: HttpRequest, chart_pk: int) -> HttpResponse:
    chart = after.own_chart(patient_of(request), chart_pk)
    now = timezone.now()
    status = 200
    if request.method == "POST":
        form = after.FollowUpForm(request.POST)
        refused = after.follow_up_refusal(chart, now)
        if refused is not None:
            form.add_error(None, refused)
        elif form.is_valid():
            try:
                after.submit_follow_up(
                    chart,
                    form.answers(),
                    signed_in_user(request),
                    day_off_work=form.cleaned_data["day_off_work"] == "yes",
                    notes=form.cleaned_data["notes"],
                    now=now,
                    request=request,
                )
            except ValidationError as error:
                errors_into(form, error)
            else:
                return redirect("portal:follow-up", chart_pk=chart.pk)
        status = 400
    else:
        form = after.FollowUpForm()
    answered = FollowUp.objects.filter(chart=chart).first()
    seen(request, "follow-up", chart, answered=answered is not None)
    return render(
        request,
        "portal/after/follow_up.html",
        {
            "portal_section": "aftercare",
            "chart": chart,
            "answered": answered,
            "answers": after.answer_rows(answered) if answered else [],
            "clinic_told": answered is not None and after.clinic_told(answered),
            "refused": None if answered else after.follow_up_refusal(chart, now),
            "form": form,
        },
        status=status,
    )


@patient_view
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, chart_pk: int) -> HttpResponse:
    chart = after.own_chart(patient_of(request), chart_pk)
    status = 200
    if request.method == "POST":
        form = after.ReportForm(request.POST, request.FILES, chart=chart)
        if form.is_valid():
            try:
                event = after.submit_report(
                    chart,
                    form.spec(),
                    form.cleaned_data["photo"],
                    signed_in_user(request),
                    request=request,
                )
            except ValidationError as error:
                errors_into(form, error)
            else:
                return redirect("portal:report-sent", event_pk=event.pk)
        status = 400
    else:
        form = after.ReportForm(chart=chart)
    seen(request, "report a side effect", chart)
    return render(
        request,
        "portal/after/report.html",
        {"portal_section": "aftercare", "chart": chart, "form": form},
        status=status,
    )


@patient_view
@require_GET
def report_sent(request: HttpRequest, event_pk: int) -> HttpResponse:
    event = after.own_event(patient_of(request), event_pk)
    photos = list(event.photos.all())
    seen(request, "side effect", event, photos=[photo.pk for photo in photos])
    return render(
        request,
        "portal/after/report_sent.html",
        {
            "portal_section": "aftercare",
            "event": event,
            "what": after.event_words(event),
            "amount": after.AMOUNT_WORDS.get(event.grade, event.grade),
            "photos": photos,
            "clinic_told": event.flags.exists(),
        },
    )


@patient_view
@require_GET
def event_photo(request: HttpRequest, event_photo_pk: int) -> HttpResponse:
    photo = after.own_event_photo(patient_of(request), event_photo_pk)
    try:
        data = event_photo_bytes(photo)
    except FileNotFoundError:
        raise Http404("The photo's file is missing.") from None
    seen(request, "side effect photo", photo, event_id=photo.event_id)
    response = HttpResponse(data, content_type="image/jpeg")
    response["Content-Disposition"] = f'inline; filename="side-effect-photo-{photo.pk}.jpg"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
