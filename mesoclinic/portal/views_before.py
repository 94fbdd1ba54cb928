"""Before the session: the check-in questions from home, and consent (read, sign with a
typed name and an emailed code, download, withdraw). Thin views over ``portal.before`` and
the screening and consent services."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mesoclinic.clinics.permissions import signed_in_user
from mesoclinic.consent import printing
from mesoclinic.consent import services as consent
from mesoclinic.consent.models import ConsentDocument, ConsentStatus
from mesoclinic.portal import before
from mesoclinic.portal.access import patient_of, patient_view, seen

# --- check-in -------------------------------------------------------------------------------


@patient_view
@require_http_methods(["GET", "POST"])
def check_in(request: HttpRequest, appointment_pk: int) -> HttpResponse:
    patient = patient_of(request)
    appointment = before.own_appointment(patient, appointment_pk)
    now = timezone.now()
    window_days = appointment.clinic.nsaid_window_days()
    refused = before.refusal(appointment, now)
    last = before.latest_check_in(appointment)
    status = 200
    if request.method == "POST":
        form = before.CheckInForm(request.POST, window_days=window_days)
        if refused is not None:
            form.add_error(None, refused)
        elif form.is_valid():
            try:
                before.submit_check_in(
                    appointment, form.answers(), signed_in_user(request), now=now, request=request
                )
            except ValidationError as error:
                before.errors_into(form, error)
            else:
                messages.success(request, _("Your answers have been sent."))
                return redirect("portal:check-in", appointment_pk=appointment.pk)
        status = 400
    else:
        form = before.CheckInForm(initial=before.initial_from(last), window_days=window_days)
    seen(request, "check-in", appointment, answered=last is not None)
    window = before.check_in_window(appointment)
    return render(
        request,
        "portal/before/check_in.html",
        {
            "portal_section": "course",
            "appointment": appointment,
            "opens_at": window.opens_at,
            "refused": refused,
            "last": last,
            "nsaid_warning": last is not None and before.nsaid_in_window(last, appointment),
            "form": form,
            "window_days": window_days,
        },
        status=status,
    )


# --- consent --------------------------------------------------------------------------------


@patient_view
@require_GET
def consents(request: HttpRequest) -> HttpResponse:
    patient = patient_of(request)
    rows = before.own_documents(patient)
    seen(request, "consents", documents=[row.document.pk for row in rows])
    return render(
        request,
        "portal/before/consents.html",
        {
            "portal_section": "course",
            "rows": rows,
            "to_sign": [row for row in rows if row.status == ConsentStatus.DRAFT],
        },
    )


def _document_page(
    request: HttpRequest,
    document: ConsentDocument,
    *,
    form: before.SignForm | None = None,
    code_error: str = "",
    status: int = 200,
) -> HttpResponse:
    state = consent.status_of(document)
    consent.record_read(document, request=request, what="text")
    seen(request, "consent", document, version=document.version)
    context: dict[str, Any] = {
        "portal_section": "course",
        "document": document,
        "content": document.content,
        "status": state,
        "status_words": before.STATUS_WORDS[state],
        "can_sign": state == ConsentStatus.DRAFT,
        "can_withdraw": state == ConsentStatus.SIGNED,
        "withdrawal": consent.withdrawal_of(document),
        "signature_statement": printing.signature_statement(document),
        "code": before.pending_code(document, timezone.now()),
        "form": form or before.SignForm(),
        "code_error": code_error,
    }
    return render(request, "portal/before/consent.html", context, status=status)


@patient_view
@require_http_methods(["GET", "POST"])
def consent_document(request: HttpRequest, document_pk: int) -> HttpResponse:
    """The document to read; while it waits for a signature, the form that signs it."""
    document = before.own_document(patient_of(request), document_pk)
    if request.method != "POST":
        return _document_page(request, document)
    form = before.SignForm(request.POST)
    if form.is_valid():
        try:
            # No actor: the patient signs for themselves (the audit names the signed-in
            # account); ``actor`` is for staff relaying a code.
            consent.sign_typed(
                document,
                form.cleaned_data["typed_name"],
                form.cleaned_data["code"],
                request=request,
            )
        except ValidationError as error:
            before.errors_into(form, error)
        else:
            messages.success(
                request,
                _("Thank you: you have signed. A copy is below, and you can download it."),
            )
            return redirect("portal:consent", document_pk=document.pk)
    return _document_page(request, document, form=form, status=400)


@patient_view
@require_POST
def consent_code(request: HttpRequest, document_pk: int) -> HttpResponse:
    document = before.own_document(patient_of(request), document_pk)
    try:
        sent = consent.send_code(document, request=request)
    except ValidationError as error:
        return _document_page(request, document, code_error=" ".join(error.messages), status=400)
    expires = timezone.localtime(sent.expires_at)
    messages.success(
        request,
        _("We have emailed a code to %(address)s. It works until %(time)s.")
        % {"address": sent.sent_to, "time": expires.strftime("%H:%M")},
    )
    return redirect(reverse("portal:consent", kwargs={"document_pk": document.pk}) + "#sign")


@patient_view
@require_GET
def consent_pdf(request: HttpRequest, document_pk: int) -> HttpResponse:
    document = before.own_document(patient_of(request), document_pk)
    data = consent.pdf_of(document, request=request)
    kind = "signed" if document.signed_at else "draft"
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="consent-v{document.version}-{kind}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


@patient_view
@require_http_methods(["GET", "POST"])
def consent_withdraw(request: HttpRequest, document_pk: int) -> HttpResponse:
    """What withdrawing means, then the confirmation that records it."""
    document = before.own_document(patient_of(request), document_pk)
    state = consent.status_of(document)
    status = 200
    if request.method == "POST":
        form = before.WithdrawForm(request.POST)
        if form.is_valid():
            try:
                before.withdraw_online(
                    document,
                    form.cleaned_data["reason"],
                    signed_in_user(request),
                    request=request,
                )
            except ValidationError as error:
                before.errors_into(form, error)
            else:
                messages.success(
                    request,
                    _(
                        "Your consent is withdrawn. No further session will take place on it. "
                        "The clinic will contact you."
                    ),
                )
                return redirect("portal:consent", document_pk=document.pk)
        status = 400
    else:
        form = before.WithdrawForm()
    seen(request, "consent withdrawal", document, version=document.version)
    return render(
        request,
        "portal/before/withdraw.html",
        {
            "portal_section": "course",
            "document": document,
            "can_withdraw": state == ConsentStatus.SIGNED,
            "status_words": before.STATUS_WORDS[state],
            "form": form,
        },
        status=status,
    )
