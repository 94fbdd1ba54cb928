"""Consent to a course: preparing the document, signing it (drawn on a tablet in the clinic,
or typed with a one-time code for the portal), withdrawing it, and the one question the
chart asks before a session: ``valid_consent(plan, at)``.

Every function refuses bad input with a ``ValidationError`` whose sentence says what to do,
before changing anything (one exception: a one-time code tried uses up an attempt even when
it is wrong; that is what the attempts are for). Every write, and every read of a document's
text or PDF, is recorded in the audit log.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import F, Max, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from mesoclinic.catalogue.models import SideEffect
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, User
from mesoclinic.clinics.permissions import ROLE_PERMISSIONS, Perm
from mesoclinic.consent import content, printing, signature
from mesoclinic.consent.models import (
    ConsentCode,
    ConsentDocument,
    ConsentStatus,
    ConsentWithdrawal,
    SignatureMethod,
    WithdrawalHow,
)
from mesoclinic.courses.models import CoursePlan, CourseStatus

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_MINUTES = 15
CODE_ATTEMPTS = 5
CODES_PER_HOUR = 5
# A withdrawal dated a little ahead of the server's clock is the clocks disagreeing.
CLOCK_SKEW = timedelta(minutes=5)
OPEN_STATUSES = (CourseStatus.PLANNED, CourseStatus.ACTIVE)

PLAN_CHANGED = (
    "The course plan has changed since this document was prepared (indication, areas, formula "
    "or sessions): prepare it again, and have the new version signed."
)


# --- reading ------------------------------------------------------------------------------


def documents_of(plan: CoursePlan) -> QuerySet[ConsentDocument]:
    """The plan's documents, newest version first, with what their status needs."""
    return (
        ConsentDocument.objects.filter(plan=plan)
        .select_related("clinic", "created_by", "witness", "withdrawal__recorded_by")
        .order_by("-version")
    )


def withdrawal_of(document: ConsentDocument) -> ConsentWithdrawal | None:
    try:
        return document.withdrawal
    except ConsentWithdrawal.DoesNotExist:
        return None


def status_of(document: ConsentDocument, fingerprint: str | None = None) -> ConsentStatus:
    """Draft, signed, withdrawn, or outdated: the plan is no longer the one the document was
    prepared for. ``fingerprint``: the plan's current one, when the caller has it already."""
    if fingerprint is None:
        fingerprint = content.plan_fingerprint(document.plan)
    if document.signed_at is not None and withdrawal_of(document) is not None:
        return ConsentStatus.WITHDRAWN
    if document.plan_fingerprint != fingerprint:
        return ConsentStatus.OUTDATED
    return ConsentStatus.SIGNED if document.signed_at is not None else ConsentStatus.DRAFT


def valid_consent(plan: CoursePlan, at: datetime) -> ConsentDocument | None:
    """The signed consent that allows a session of ``plan`` at ``at``, or None.

    Valid means: signed at or before ``at``, not withdrawn at ``at`` (a withdrawal counts from
    its ``withdrawn_at``), and generated for the plan as it is now: if its indication, areas,
    formula (version or composition), number of sessions or interval changed since, the
    document no longer describes the course and a new one must be signed. The newest such
    document when there are several. Reads only the document's status, not its text, so it
    records nothing in the audit log.
    """
    if timezone.is_naive(at):
        raise ValidationError("The time to check consent at needs its time zone.")
    return (
        ConsentDocument.objects.filter(
            plan=plan,
            signed_at__isnull=False,
            signed_at__lte=at,
            plan_fingerprint=content.plan_fingerprint(plan),
        )
        .exclude(withdrawal__withdrawn_at__lte=at)
        .order_by("-version")
        .first()
    )


def record_read(
    document: ConsentDocument,
    *,
    request: HttpRequest | None = None,
    actor: User | None = None,
    what: str = "text",
) -> None:
    """Record that a person read the document's ``what`` ("text", "pdf")."""
    audit.record(
        AuditAction.VIEW,
        request=request,
        actor=actor,
        obj=document,
        what=what,
        version=document.version,
    )


def pdf_of(
    document: ConsentDocument, *, request: HttpRequest | None = None, actor: User | None = None
) -> bytes:
    """The PDF: for a signed document the one stored at signing, byte for byte; for a draft
    a reading copy marked as such. The read is audited."""
    data = document.pdf_bytes() if document.pdf is not None else printing.render_pdf(document)
    audit.record(
        AuditAction.VIEW,
        request=request,
        actor=actor,
        obj=document,
        what="pdf",
        version=document.version,
        signed=document.signed_at is not None,
        pdf_sha256=document.pdf_sha256 or content.sha256_hex(data),
    )
    return data


# --- preparing ----------------------------------------------------------------------------


def _check_plan(plan: CoursePlan) -> None:
    if plan.status not in OPEN_STATUSES:
        raise ValidationError(
            f"This course is {plan.get_status_display().lower()}: consent is asked only for an "
            "open course."
        )
    if plan.patient.erased_at is not None:
        raise ValidationError("This patient's identity has been erased: no consent can be taken.")


def prepare(
    plan: CoursePlan,
    actor: User,
    *,
    language: str | None = None,
    request: HttpRequest | None = None,
) -> ConsentDocument:
    """The plan's document to sign, generated from the plan as it is now.

    A new version when the plan has none unsigned; when it has a draft, the draft's text is
    replaced (a draft has no weight until signed) unless it is the same text already. Signed
    versions are never touched: one that still matches the plan stays valid until a newer
    one is signed. ``language``: "en" or "fr"; the patient's preferred language by default.
    """
    _check_plan(plan)
    if not SideEffect.objects.filter(retired=False).exists():
        raise ValidationError(
            "The catalogue lists no side effects, and a consent must name the risks: load the "
            "catalogue first."
        )
    if actor.clinic_id != plan.clinic_id:
        raise ValidationError(f"{actor} is not a member of this clinic's staff.")
    if language is not None and language not in content.languages():
        raise ValidationError(
            f"No consent text exists in {language!r}: use one of {', '.join(content.languages())}."
        )
    with transaction.atomic():
        # Locked, so that two people preparing at once make one draft, not two versions.
        plan = CoursePlan.objects.select_for_update().get(pk=plan.pk)
        draft = ConsentDocument.objects.filter(plan=plan, signed_at__isnull=True).first()
        if draft is None:
            number = (
                ConsentDocument.objects.filter(plan=plan).aggregate(last=Max("version"))["last"]
                or 0
            ) + 1
        else:
            number = draft.version
        prepared = content.render(
            plan, version=number, prepared_on=plan.clinic.today(), language=language
        )
        if draft is not None and draft.content_sha256 == prepared.content_sha256:
            return draft
        if draft is None:
            document = ConsentDocument.objects.create(
                clinic_id=plan.clinic_id,
                plan=plan,
                patient_id=plan.patient_id,
                version=number,
                language=prepared.language,
                content=prepared.content,
                content_sha256=prepared.content_sha256,
                plan_fingerprint=prepared.plan_fingerprint,
                created_by=actor,
            )
            audit.record(
                AuditAction.CREATE,
                request=request,
                actor=actor,
                obj=document,
                version=number,
                language=prepared.language,
                content_sha256=prepared.content_sha256,
            )
            return document
        replaced = draft.content_sha256
        draft.language = prepared.language
        draft.content = prepared.content
        draft.content_sha256 = prepared.content_sha256
        draft.plan_fingerprint = prepared.plan_fingerprint
        draft.created_by = actor
        draft.created_at = timezone.now()
        draft.save()
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=draft,
            version=number,
            language=prepared.language,
            content_sha256=prepared.content_sha256,
            replaced_content_sha256=replaced,
        )
        return draft


# --- signing ------------------------------------------------------------------------------


def _fresh(document: ConsentDocument) -> ConsentDocument:
    """The document as stored now: the caller's instance may predate a signature or a text
    prepared again."""
    return ConsentDocument.objects.select_related("clinic", "plan__patient", "patient").get(
        pk=document.pk
    )


def _check_signable(document: ConsentDocument, shown_sha256: str | None = None) -> None:
    if document.signed_at is not None:
        raise ValidationError(f"Version {document.version} is already signed.")
    _check_plan(document.plan)
    if document.plan_fingerprint != content.plan_fingerprint(document.plan):
        raise ValidationError(PLAN_CHANGED)
    if shown_sha256 is not None and shown_sha256 != document.content_sha256:
        raise ValidationError(
            "The document was prepared again while it was being read: read the new text, then sign."
        )


def _sign(
    document: ConsentDocument,
    *,
    method: SignatureMethod,
    actor: User | None,
    request: HttpRequest | None,
    shown_sha256: str | None = None,
    **fields: object,
) -> ConsentDocument:
    with transaction.atomic():
        # Locked and read again: someone may have signed or prepared it again meanwhile.
        locked = (
            ConsentDocument.objects.select_for_update(of=("self",))
            .select_related("clinic", "plan__patient", "witness")
            .get(pk=document.pk)
        )
        _check_signable(locked, shown_sha256)
        locked.signed_at = timezone.now()
        locked.method = method
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.pdf = printing.render_pdf(locked)
        locked.pdf_sha256 = content.sha256_hex(locked.pdf)
        locked.save()
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=locked,
            signed=str(method),
            version=locked.version,
            content_sha256=locked.content_sha256,
            pdf_sha256=locked.pdf_sha256,
            witness_id=locked.witness_id,
        )
    return locked


def can_witness(user: User, document: ConsentDocument) -> bool:
    return (
        user.is_active
        and user.clinic_id == document.clinic_id
        and Perm.CONSENT_MANAGE in ROLE_PERMISSIONS.get(user.role, frozenset())
    )


def sign_drawn(
    document: ConsentDocument,
    png_bytes: bytes,
    witness: User,
    *,
    shown_sha256: str | None = None,
    request: HttpRequest | None = None,
) -> ConsentDocument:
    """The patient signed by hand on the clinic's tablet, with ``witness`` (the staff member
    signed in) present. ``shown_sha256``: the hash of the text the tablet showed, so that a
    text prepared again meanwhile is not signed unread."""
    if not can_witness(witness, document):
        raise ValidationError(f"{witness} cannot witness a consent of this clinic.")
    document = _fresh(document)
    _check_signable(document, shown_sha256)
    signature.check_drawn(png_bytes)
    return _sign(
        document,
        method=SignatureMethod.DRAWN,
        actor=witness,
        request=request,
        shown_sha256=shown_sha256,
        signature_png=png_bytes,
        witness=witness,
    )


def _code_hash(document: ConsentDocument, code: str) -> str:
    return salted_hmac(
        "mesoclinic.consent.code", f"{document.pk}:{code}", algorithm="sha256"
    ).hexdigest()


def masked_email(address: str) -> str:
    """ "c•••@example.org": enough for the patient to recognise, little for anyone else."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}\u2022\u2022\u2022@{domain}"


@dataclass(frozen=True)
class CodeSent:
    sent_to: str  # masked
    expires_at: datetime


def send_code(
    document: ConsentDocument,
    *,
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> CodeSent:
    """Email the patient a one-time code to sign ``document`` by typing their name. A new code
    replaces any earlier one; it expires after ``CODE_MINUTES`` and allows ``CODE_ATTEMPTS``
    tries. Only its keyed hash is stored."""
    document = _fresh(document)
    _check_signable(document)
    patient = document.patient
    if not patient.email:
        raise ValidationError(
            "The patient has no email address on record for the code: add one, or have the "
            "document signed on the tablet in the clinic."
        )
    now = timezone.now()
    recent = document.codes.filter(created_at__gt=now - timedelta(hours=1)).count()
    if recent >= CODES_PER_HOUR:
        raise ValidationError(
            f"{CODES_PER_HOUR} codes were sent for this document within the hour: wait before "
            "sending another, or sign on the tablet in the clinic."
        )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    words = content.texts(document.language)["code_email"]
    clinic = document.clinic
    values = {
        "given_name": patient.given_name,
        "clinic_name": clinic.name,
        "code": code,
        "minutes": str(CODE_MINUTES),
    }
    with transaction.atomic():
        sent = ConsentCode.objects.create(
            document=document,
            code_hash=_code_hash(document, code),
            content_sha256=document.content_sha256,
            sent_to=patient.email,
            created_at=now,
            expires_at=now + timedelta(minutes=CODE_MINUTES),
        )
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=sent,
            clinic_id=document.clinic_id,
            patient_id=document.patient_id,
            document_id=document.pk,
            sent_to=masked_email(patient.email),
        )
        message = EmailMessage(
            subject=words["subject"],
            body=words["body"].format_map(values),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[patient.email],
            reply_to=[clinic.email] if clinic.email else None,
            headers={"Auto-Submitted": "auto-generated", "Content-Language": document.language},
        )
        try:
            message.send()
        except Exception:  # whatever the mail backend raises: no code stored, say so
            logger.exception("The consent code for document %s could not be sent.", document.pk)
            raise ValidationError(
                "The code could not be sent: the mail server did not accept it. Try again "
                "later, or sign on the tablet in the clinic."
            ) from None
    return CodeSent(sent_to=masked_email(patient.email), expires_at=sent.expires_at)


def sign_typed(
    document: ConsentDocument,
    typed_name: str,
    code: str,
    *,
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> ConsentDocument:
    """The patient signed by typing their name (as on their record, without regard to case
    or accents) and the one-time code emailed to them. ``actor``: who relayed it, if not
    the patient in the portal."""
    document = _fresh(document)
    _check_signable(document)
    typed_name = " ".join(typed_name.split())
    patient = document.patient
    if not signature.name_matches(typed_name, patient.given_name, patient.family_name):
        raise ValidationError(
            "The name typed is not the patient's name as the clinic has it: type the given "
            "and family names."
        )
    code = code.strip()
    latest = document.codes.order_by("-created_at", "-pk").first()
    now = timezone.now()
    if latest is None:
        raise ValidationError("No code was sent for this document: send one first.")
    if latest.used_at is not None:
        raise ValidationError("This code has been used already: send a new one.")
    if latest.expires_at <= now:
        raise ValidationError("The code has expired: send a new one.")
    if latest.content_sha256 != document.content_sha256:
        raise ValidationError(
            "The document was prepared again after this code was sent: send a new code."
        )
    # The attempt is counted before the code is compared, in one conditional statement, so
    # that requests racing each other cannot try more codes than allowed.
    counted = ConsentCode.objects.filter(
        pk=latest.pk, attempts__lt=CODE_ATTEMPTS, used_at__isnull=True
    ).update(attempts=F("attempts") + 1)
    if not counted:
        raise ValidationError("Too many wrong codes were tried: send a new one.")
    if not constant_time_compare(_code_hash(document, code), latest.code_hash):
        left = CODE_ATTEMPTS - (latest.attempts + 1)
        # Recorded: the attempt was used up, and wrong codes are what an attack looks like.
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=latest,
            clinic_id=document.clinic_id,
            patient_id=document.patient_id,
            document_id=document.pk,
            wrong_code=True,
            attempts_left=left,
        )
        raise ValidationError(
            f"The code is not the one sent: {left} attempt{'s' if left != 1 else ''} left."
            if left > 0
            else "The code is not the one sent, and no attempt is left: send a new one."
        )
    if not ConsentCode.objects.filter(pk=latest.pk, used_at__isnull=True).update(used_at=now):
        raise ValidationError("This code has been used already: send a new one.")
    return _sign(
        document,
        method=SignatureMethod.TYPED,
        actor=actor,
        request=request,
        typed_name=typed_name,
        code_sent_to=latest.sent_to,
    )


# --- withdrawing ----------------------------------------------------------------------------


def withdraw(
    document: ConsentDocument,
    reason: str,
    actor: User,
    *,
    how: WithdrawalHow | str = WithdrawalHow.IN_PERSON,
    withdrawn_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> ConsentWithdrawal:
    """Record that the patient withdrew the consent ``document`` gave: from ``withdrawn_at``
    (now by default; earlier when they told us earlier) no session may rely on it. The
    document itself is not changed."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("Give the reason the patient gave, or 'none given'.")
    if how not in WithdrawalHow.values:
        raise ValidationError(
            f"How the patient withdrew must be one of: {', '.join(WithdrawalHow.values)}."
        )
    if actor.clinic_id != document.clinic_id:
        raise ValidationError(f"{actor} is not a member of this clinic's staff.")
    now = timezone.now()
    when = withdrawn_at or now
    if timezone.is_naive(when):
        raise ValidationError("The time of the withdrawal needs its time zone.")
    if when > now + CLOCK_SKEW:
        raise ValidationError("A withdrawal cannot be recorded ahead of time.")
    with transaction.atomic():
        locked = ConsentDocument.objects.select_for_update().get(pk=document.pk)
        if locked.signed_at is None:
            raise ValidationError(
                "This version was never signed, so there is no consent to withdraw."
            )
        if ConsentWithdrawal.objects.filter(document=locked).exists():
            raise ValidationError(f"Version {locked.version} has already been withdrawn.")
        if when < locked.signed_at:
            raise ValidationError("A consent cannot be withdrawn before it was signed.")
        withdrawal = ConsentWithdrawal.objects.create(
            document=locked,
            withdrawn_at=when,
            reason=reason,
            how=how,
            recorded_by=actor,
            recorded_at=now,
        )
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=withdrawal,
            clinic_id=locked.clinic_id,
            patient_id=locked.patient_id,
            document_id=locked.pk,
            withdrawn_at=when.isoformat(),
            how=str(how),
        )
    return withdrawal
