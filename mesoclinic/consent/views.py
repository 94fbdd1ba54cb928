"""Consent pages: a course plan's consent documents, preparing one, signing it on the clinic's
tablet, its PDF, and recording a withdrawal. Thin views over ``services``, scoped to the
signed-in person's clinic by ``tenancy``."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, has_perm, requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404
from mesoclinic.consent import content, printing, services, signature
from mesoclinic.consent.forms import PrepareForm, SignForm, WithdrawForm
from mesoclinic.consent.models import ConsentDocument, ConsentStatus
from mesoclinic.courses.models import CoursePlan


def _can_manage(request: HttpRequest) -> bool:
    return has_perm(request.user, Perm.CONSENT_MANAGE, request)


def _plan_page(
    request: HttpRequest, plan: CoursePlan, *, prepare_form: PrepareForm | None = None
) -> HttpResponse:
    fingerprint = content.plan_fingerprint(plan)
    documents = [
        (document, services.status_of(document, fingerprint))
        for document in services.documents_of(plan)
    ]
    audit.record(AuditAction.VIEW, request=request, obj=plan, what="consent documents")
    has_draft = any(status == ConsentStatus.DRAFT for _, status in documents)
    context = {
        "plan": plan,
        "documents": documents,
        "valid": services.valid_consent(plan, timezone.now()),
        "has_draft": has_draft,
        "has_outdated": any(status == ConsentStatus.OUTDATED for _, status in documents),
        "is_open": plan.status in services.OPEN_STATUSES,
        "prepare_form": prepare_form
        or PrepareForm(
            initial={"language": content.choose_language(plan.patient.preferred_language)}
        ),
        "can_manage": _can_manage(request),
    }
    status = 400 if prepare_form is not None else 200
    return render(request, "consent/plan.html", context, status=status)


@requires(Perm.CONSENT_VIEW)
def plan_consents(request: HttpRequest, plan_pk: int) -> HttpResponse:
    return _plan_page(request, get_scoped_or_404(request, CoursePlan, pk=plan_pk))


@requires(Perm.CONSENT_MANAGE)
@require_POST
def prepare(request: HttpRequest, plan_pk: int) -> HttpResponse:
    plan = get_scoped_or_404(request, CoursePlan, pk=plan_pk)
    form = PrepareForm(request.POST)
    if form.is_valid():
        try:
            document = services.prepare(
                plan,
                signed_in_user(request),
                language=form.cleaned_data["language"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"Version {document.version} is ready to read and sign.")
            return redirect("consent:document", pk=document.pk)
    return _plan_page(request, plan, prepare_form=form)


def _document_page(
    request: HttpRequest,
    document: ConsentDocument,
    *,
    withdraw_form: WithdrawForm | None = None,
) -> HttpResponse:
    status = services.status_of(document)
    services.record_read(document, request=request)
    context = {
        "document": document,
        "plan": document.plan,
        "status": status,
        "content": document.content,
        "withdrawal": services.withdrawal_of(document),
        "signature_statement": printing.signature_statement(document),
        "withdraw_form": withdraw_form or WithdrawForm(),
        "can_manage": _can_manage(request),
    }
    status_code = 400 if withdraw_form is not None else 200
    return render(request, "consent/document.html", context, status=status_code)


@requires(Perm.CONSENT_VIEW)
def document_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _document_page(request, get_scoped_or_404(request, ConsentDocument, pk=pk))


def _sign_page(
    request: HttpRequest, document: ConsentDocument, form: SignForm, *, status: int = 200
) -> HttpResponse:
    services.record_read(document, request=request, what="text for signing")
    witness = signed_in_user(request)
    names = {"patient": document.content["patient"]["name"], "witness": str(witness)}
    context = {
        "document": document,
        "plan": document.plan,
        "content": document.content,
        "form": form,
        "witness": witness,
        "tablet": {
            key: str(value).format_map(names)
            for key, value in content.texts(document.language)["tablet"].items()
        },
        "status": services.status_of(document),
    }
    return render(request, "consent/sign.html", context, status=status)


@requires(Perm.CONSENT_MANAGE)
def sign(request: HttpRequest, pk: int) -> HttpResponse:
    """The tablet: the document in large type, a signature pad and the box to tick. The
    staff member signed in is the witness."""
    document = get_scoped_or_404(request, ConsentDocument, pk=pk)
    if request.method != "POST":
        form = SignForm(
            initial={"content_sha256": document.content_sha256}, language=document.language
        )
        return _sign_page(request, document, form)
    form = SignForm(request.POST, language=document.language)
    if form.is_valid():
        try:
            png = signature.png_from_data_url(form.cleaned_data["signature"])
            services.sign_drawn(
                document,
                png,
                signed_in_user(request),
                shown_sha256=form.cleaned_data["content_sha256"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, f"Version {document.version} is signed; its PDF is stored with the record."
            )
            return redirect("consent:document", pk=document.pk)
    return _sign_page(request, document, form, status=400)


@requires(Perm.CONSENT_VIEW)
def document_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_scoped_or_404(request, ConsentDocument, pk=pk)
    data = services.pdf_of(document, request=request)
    kind = "signed" if document.signed_at else "draft"
    response = HttpResponse(data, content_type="application/pdf")
    response["Content-Disposition"] = (
        f'inline; filename="consent-{document.plan_id}-v{document.version}-{kind}.pdf"'
    )
    return response


@requires(Perm.CONSENT_MANAGE)
@require_POST
def withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    document = get_scoped_or_404(request, ConsentDocument, pk=pk)
    form = WithdrawForm(request.POST)
    if form.is_valid():
        try:
            services.withdraw(
                document,
                form.cleaned_data["reason"],
                signed_in_user(request),
                how=form.cleaned_data["how"],
                withdrawn_at=form.cleaned_data["withdrawn_at"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"The withdrawal of version {document.version} is recorded: no session may rely "
                "on it from then on.",
            )
            return redirect("consent:document", pk=document.pk)
    return _document_page(request, document, withdraw_form=form)
