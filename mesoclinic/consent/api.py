"""Consent documents over the API, at /api/v1/consents/.

Reading a plan's documents, a document and its PDF needs ``consent.view``; preparing,
sending the one-time code, signing with the typed name and code, and recording a withdrawal
need ``consent.manage``. Every document and plan is fetched through the tenancy helpers:
another clinic's is 404 in the path or the query, 422 in a body. A request the consent rules
refuse (a plan changed since the document was prepared, a wrong or expired code, a name that
is not the patient's...) is 422 with the sentence that says why, and changes nothing (a
wrong code uses up one of its attempts).

The drawn signature is taken on the clinic's tablet page, where the signed-in staff member
is the witness; the typed signature is for the patient portal, which calls the same service.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status

from mesoclinic.clinics import audit
from mesoclinic.clinics.api_errors import invalid
from mesoclinic.clinics.models import AuditAction, Clinic
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.consent import services
from mesoclinic.consent.models import (
    ConsentDocument,
    ConsentStatus,
    ConsentWithdrawal,
    SignatureMethod,
    WithdrawalHow,
)
from mesoclinic.courses.models import CoursePlan

router = Router(tags=["consent"])

# PostgreSQL text cannot hold NUL; refused with the other input rules, not as a 500.
NO_NUL = r"^[^\x00]*$"
Language = Literal["en", "fr"]
PDF_RESPONSE = {
    "200": {
        "description": "The PDF: for a signed document the one stored when it was signed, byte "
        "for byte (its SHA-256 is the document's pdf_sha256); for a draft a reading copy marked "
        "as a draft on every page.",
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
    }
}


def _clinic(request: HttpRequest) -> Clinic:
    clinic = signed_in_user(request).clinic
    assert clinic is not None  # staff, as every permission here requires
    return clinic


def _local(value: datetime | None, context: dict[str, Any]) -> datetime | None:
    if value is None:
        return None
    return timezone.localtime(value, _clinic(context["request"]).tz)


# --- schemas ------------------------------------------------------------------------------


class Item(Schema):
    lead: str = Field(description="A short label in bold (a side effect's name), or empty.")
    text: str


class Block(Schema):
    kind: Literal["paragraph", "quote", "list"] = Field(
        description="A paragraph; a quote of the catalogue (the evidence note); a bulleted list."
    )
    text: str = ""
    items: list[Item] = []


class Section(Schema):
    code: str
    heading: str
    blocks: list[Block]


class Fact(Schema):
    label: str
    value: str


class PatientNamed(Schema):
    name: str
    date_of_birth: str
    born: str = Field(description="The date of birth as the document writes it.")


class Content(Schema):
    """The text of a document, as the patient reads it; its canonical JSON is what
    content_sha256 hashes."""

    format: int
    data_version: int = Field(description="Version of the consent wording it was made from.")
    language: str
    requested_language: str = Field(
        description="The language asked for: differs from language when the text does not "
        "exist in it yet (the document says so in its notes)."
    )
    title: str
    patient: PatientNamed
    notes: list[str]
    facts: list[Fact] = Field(description="The plan: patient, clinic, indication, formula...")
    sections: list[Section]


class WithdrawalOut(Schema):
    withdrawn_at: datetime
    reason: str
    how: WithdrawalHow
    recorded_by_id: int | None
    recorded_at: datetime

    @staticmethod
    def resolve_withdrawn_at(obj: ConsentWithdrawal, context: dict[str, Any]) -> datetime | None:
        return _local(obj.withdrawn_at, context)

    @staticmethod
    def resolve_recorded_at(obj: ConsentWithdrawal, context: dict[str, Any]) -> datetime | None:
        return _local(obj.recorded_at, context)


class ConsentOut(Schema):
    id: int
    plan_id: int
    patient_id: int
    version: int = Field(description="Numbered within the plan.")
    language: str
    status: ConsentStatus = Field(
        description="outdated: the plan changed (indication, areas, formula, sessions or "
        "interval) after the document was prepared."
    )
    content_sha256: str
    created_by_id: int
    created_at: datetime
    signed_at: datetime | None
    method: SignatureMethod | None
    typed_name: str | None = Field(description="For a typed signature: the name typed.")
    witness_id: int | None = Field(description="For a drawn signature: the staff witness.")
    pdf_sha256: str | None = Field(description="SHA-256 of the signed PDF.")
    withdrawal: WithdrawalOut | None

    @staticmethod
    def resolve_status(obj: ConsentDocument) -> ConsentStatus:
        return services.status_of(obj)

    @staticmethod
    def resolve_created_at(obj: ConsentDocument, context: dict[str, Any]) -> datetime | None:
        return _local(obj.created_at, context)

    @staticmethod
    def resolve_signed_at(obj: ConsentDocument, context: dict[str, Any]) -> datetime | None:
        return _local(obj.signed_at, context)

    @staticmethod
    def resolve_method(obj: ConsentDocument) -> str | None:
        return obj.method or None

    @staticmethod
    def resolve_typed_name(obj: ConsentDocument) -> str | None:
        return obj.typed_name or None

    @staticmethod
    def resolve_pdf_sha256(obj: ConsentDocument) -> str | None:
        return obj.pdf_sha256 or None

    @staticmethod
    def resolve_withdrawal(obj: ConsentDocument) -> ConsentWithdrawal | None:
        return services.withdrawal_of(obj)


class ConsentDetailOut(ConsentOut):
    content: Content


class PrepareIn(Schema):
    plan_id: int
    language: Language | None = Field(
        None, description="The patient's preferred language by default."
    )


class CodeSentOut(Schema):
    sent_to: str = Field(description="The patient's email address, masked.")
    expires_at: datetime


class SignTypedIn(Schema):
    typed_name: Annotated[str, Field(min_length=1, max_length=200, pattern=NO_NUL)] = Field(
        description="The patient's given and family names, as they type them (case and "
        "accents do not matter)."
    )
    one_time_code: Annotated[str, Field(min_length=1, max_length=20, pattern=NO_NUL)] = Field(
        description="The code emailed to the patient by send-code."
    )


class WithdrawIn(Schema):
    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=NO_NUL)]
    how: WithdrawalHow = WithdrawalHow.IN_PERSON
    withdrawn_at: datetime | None = Field(
        None,
        description="When the patient withdrew, with its UTC offset; now by default. Not "
        "before the signature, not in the future.",
    )


# --- helpers ------------------------------------------------------------------------------


def _document(request: HttpRequest, document_id: int) -> ConsentDocument:
    return get_scoped_or_404(request, ConsentDocument, pk=document_id)


def _read(request: HttpRequest, document: ConsentDocument) -> ConsentDocument:
    """The document as returned with its text, the read recorded."""
    fresh = _document(request, document.pk)
    services.record_read(fresh, request=request)
    return fresh


# --- operations ---------------------------------------------------------------------------


@router.get(
    "/",
    response=list[ConsentOut],
    summary="A course plan's consent documents",
    description="Newest version first, without their text. The read is audited.",
    openapi_extra={"responses": {"404": {"description": "No course plan of the clinic has it."}}},
)
@api_requires(Perm.CONSENT_VIEW)
def list_consents(request: HttpRequest, plan_id: int) -> list[ConsentDocument]:
    plan = get_scoped_or_404(request, CoursePlan, pk=plan_id)
    documents = list(services.documents_of(plan))
    audit.record(AuditAction.VIEW, request=request, obj=plan, what="consent documents")
    return documents


@router.post(
    "/",
    response={201: ConsentDetailOut},
    summary="Prepare a consent document",
    description="Generated from the plan as it is now, in the patient's language where the "
    "text exists in it. Replaces the plan's unsigned draft if it has one (same version "
    "number); otherwise a new version. Signed versions are never changed.",
)
@api_requires(Perm.CONSENT_MANAGE)
def prepare(request: HttpRequest, payload: PrepareIn) -> Status[ConsentDocument]:
    plan = scoped(request, CoursePlan).filter(pk=payload.plan_id).first()
    if plan is None:
        raise HttpError(422, f"No course plan of this clinic has the id {payload.plan_id}.")
    try:
        document = services.prepare(
            plan, signed_in_user(request), language=payload.language, request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, _document(request, document.pk))


@router.get(
    "/{document_id}",
    response=ConsentDetailOut,
    summary="A consent document",
    description="With its text, status and hashes. The read is audited.",
)
@api_requires(Perm.CONSENT_VIEW)
def get_consent(request: HttpRequest, document_id: int) -> ConsentDocument:
    return _read(request, _document(request, document_id))


@router.get(
    "/{document_id}/pdf",
    summary="A consent document's PDF",
    openapi_extra={"responses": PDF_RESPONSE},
)
@api_requires(Perm.CONSENT_VIEW)
def consent_pdf(request: HttpRequest, document_id: int) -> HttpResponse:
    document = _document(request, document_id)
    data = services.pdf_of(document, request=request)
    response = HttpResponse(data, content_type="application/pdf")
    kind = "signed" if document.signed_at else "draft"
    response["Content-Disposition"] = (
        f'attachment; filename="consent-{document.plan_id}-v{document.version}-{kind}.pdf"'
    )
    return response


@router.post(
    "/{document_id}/send-code",
    response=CodeSentOut,
    summary="Email the patient a one-time code",
    description=f"For signing by typed name. The code is valid for {services.CODE_MINUTES} "
    f"minutes and {services.CODE_ATTEMPTS} attempts, replaces any earlier one, and is stored "
    f"only as a keyed hash; at most {services.CODES_PER_HOUR} codes an hour per document.",
)
@api_requires(Perm.CONSENT_MANAGE)
def send_code(request: HttpRequest, document_id: int) -> CodeSentOut:
    document = _document(request, document_id)
    try:
        sent = services.send_code(document, actor=signed_in_user(request), request=request)
    except ValidationError as error:
        raise invalid(error) from None
    return CodeSentOut(
        sent_to=sent.sent_to, expires_at=timezone.localtime(sent.expires_at, _clinic(request).tz)
    )


@router.post(
    "/{document_id}/sign-typed",
    response=ConsentDetailOut,
    summary="Sign with the typed name and the one-time code",
    description="The name must be the patient's (case and accents aside) and the code the "
    "newest one sent for this text. Stores the signed PDF and its SHA-256; the document "
    "never changes again.",
)
@api_requires(Perm.CONSENT_MANAGE)
def sign_typed(request: HttpRequest, document_id: int, payload: SignTypedIn) -> ConsentDocument:
    document = _document(request, document_id)
    try:
        services.sign_typed(
            document,
            payload.typed_name,
            payload.one_time_code,
            actor=signed_in_user(request),
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None
    return _read(request, document)


@router.post(
    "/{document_id}/withdraw",
    response={201: WithdrawalOut},
    summary="Record a withdrawal of consent",
    description="The signed document is not changed: from withdrawn_at on it no longer "
    "allows a session.",
)
@api_requires(Perm.CONSENT_MANAGE)
def withdraw(
    request: HttpRequest, document_id: int, payload: WithdrawIn
) -> Status[ConsentWithdrawal]:
    document = _document(request, document_id)
    if payload.withdrawn_at is not None and timezone.is_naive(payload.withdrawn_at):
        raise HttpError(422, "withdrawn_at has no UTC offset, so it names no instant.")
    try:
        withdrawal = services.withdraw(
            document,
            payload.reason,
            signed_in_user(request),
            how=payload.how,
            withdrawn_at=payload.withdrawn_at,
            request=request,
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, withdrawal)
