"""Consent documents, generated from a course plan and signed by the patient.

A document is prepared as an unsigned draft; a draft may be prepared again (its text replaced)
or deleted. Signing stores, in the same row and once only, how and when it was signed, the
drawn signature or the typed name, and the signed PDF with its SHA-256. From then on the row
never changes: the model refuses ``save()`` and ``delete()``, its queryset refuses
``update()`` and ``delete()`` of signed rows, and database triggers refuse any UPDATE or
DELETE of a signed row from any SQL (migration 0002), so that neither the application nor a
hand-written query can alter what a patient signed. A withdrawal is a row of its own, append-
only in the same way, never an edit of the document.

Status is not stored: it follows from the signature, the withdrawal and whether the plan is
still the one the document was generated for (``plan_fingerprint``, see ``content``).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from mesoclinic.clinics.models import Clinic
from mesoclinic.courses.models import CoursePlan
from mesoclinic.patients.models import Patient


class SignedConsentError(Exception):
    """Raised on any attempt to change or remove a signed consent document or a withdrawal."""


class ConsentStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    SIGNED = "signed", "Signed"
    WITHDRAWN = "withdrawn", "Withdrawn"
    OUTDATED = "outdated", "Outdated"


class SignatureMethod(models.TextChoices):
    DRAWN = "drawn", "Drawn on a tablet in the clinic, witnessed"
    TYPED = "typed", "Typed name and one-time code"


class ConsentDocumentQuerySet(models.QuerySet["ConsentDocument"]):
    def update(self, **kwargs: Any) -> int:
        if self.filter(signed_at__isnull=False).exists():
            raise SignedConsentError("A signed consent document cannot be changed.")
        return super().update(**kwargs)

    def delete(self) -> tuple[int, dict[str, int]]:
        if self.filter(signed_at__isnull=False).exists():
            raise SignedConsentError("A signed consent document cannot be deleted.")
        return super().delete()


class ConsentDocument(models.Model):
    """What the patient is asked to agree to for one course plan, in one language."""

    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(CoursePlan, on_delete=models.PROTECT, related_name="consent_documents")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(help_text="Numbered within the plan: 1, 2, ...")
    language = models.CharField(max_length=8)
    content = models.JSONField(help_text="The rendered sections, as the patient reads them.")
    content_sha256 = models.CharField(max_length=64)
    plan_fingerprint = models.CharField(
        max_length=64,
        help_text="SHA-256 of the plan facts the text was generated from (indication, areas, "
        "formula and its composition, sessions and interval).",
    )
    # For a draft: whoever prepared the current text, and when (a draft prepared again
    # gets both anew). A signed document keeps those of the text signed.
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    signed_at = models.DateTimeField(null=True, blank=True)
    method = models.CharField(max_length=8, choices=SignatureMethod.choices, blank=True)
    signature_png = models.BinaryField(null=True, blank=True)
    typed_name = models.CharField(max_length=200, blank=True)
    witness = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The staff member present when the patient signed by hand.",
    )
    code_sent_to = models.CharField(
        max_length=254, blank=True, help_text="Where the one-time code of a typed signature went."
    )
    pdf = models.BinaryField(null=True, blank=True)
    pdf_sha256 = models.CharField(max_length=64, blank=True)

    objects = ConsentDocumentQuerySet.as_manager()

    class Meta:
        ordering = ["plan", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "version"], name="consent_version_per_plan"),
            # At most one draft a plan: preparing again replaces it.
            models.UniqueConstraint(
                fields=["plan"],
                condition=models.Q(signed_at__isnull=True),
                name="consent_one_draft_per_plan",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    signed_at__isnull=True,
                    method="",
                    pdf__isnull=True,
                    pdf_sha256="",
                    witness__isnull=True,
                    typed_name="",
                )
                | models.Q(
                    signed_at__isnull=False,
                    method=SignatureMethod.DRAWN,
                    signature_png__isnull=False,
                    witness__isnull=False,
                    pdf__isnull=False,
                )
                & ~models.Q(pdf_sha256="")
                | models.Q(
                    signed_at__isnull=False,
                    method=SignatureMethod.TYPED,
                    pdf__isnull=False,
                )
                & ~models.Q(typed_name="")
                & ~models.Q(pdf_sha256="")
                & ~models.Q(code_sent_to=""),
                name="consent_signed_is_complete",
                violation_error_message="A signed consent needs its method, signature and PDF.",
            ),
        ]

    def __str__(self) -> str:
        return f"Consent version {self.version} of course plan {self.plan_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Checked against the stored row, not this instance, which may have been signed in
        # memory just now (that is the one change allowed: a draft becoming signed).
        if self.pk is not None and _stored_signed(self.pk):
            raise SignedConsentError("A signed consent document cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        if self.signed_at is not None or _stored_signed(self.pk):
            raise SignedConsentError("A signed consent document cannot be deleted.")
        return super().delete(*args, **kwargs)

    @property
    def is_signed(self) -> bool:
        return self.signed_at is not None

    def pdf_bytes(self) -> bytes:
        """The signed PDF as stored (PostgreSQL hands a binary column back as a memoryview)."""
        if self.pdf is None:
            raise ValueError(f"Version {self.version} is not signed: it has no stored PDF.")
        return bytes(self.pdf)

    def signature_bytes(self) -> bytes | None:
        return bytes(self.signature_png) if self.signature_png is not None else None


def _stored_signed(pk: int | None) -> bool:
    if pk is None:
        return False
    return ConsentDocument.objects.filter(pk=pk, signed_at__isnull=False).exists()


class WithdrawalHow(models.TextChoices):
    IN_PERSON = "in_person", "In person at the clinic"
    PHONE = "phone", "By phone"
    WRITING = "writing", "In writing (letter or email)"
    PORTAL = "portal", "Through the patient portal"


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> int:
        raise SignedConsentError("A consent withdrawal is a record: it cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise SignedConsentError("A consent withdrawal is a record: it cannot be deleted.")


class ConsentWithdrawal(models.Model):
    """The patient took their consent back: from ``withdrawn_at`` on, the document no longer
    allows any session. Append-only (model, queryset and database triggers)."""

    clinic_path = "document__clinic"

    document = models.OneToOneField(
        ConsentDocument, on_delete=models.PROTECT, related_name="withdrawal"
    )
    withdrawn_at = models.DateTimeField(help_text="When the patient withdrew, as they told us.")
    reason = models.TextField()
    how = models.CharField(max_length=12, choices=WithdrawalHow.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["-withdrawn_at"]

    def __str__(self) -> str:
        return f"Withdrawal of consent {self.document_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise SignedConsentError("A consent withdrawal is a record: it cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise SignedConsentError("A consent withdrawal is a record: it cannot be deleted.")


class ConsentCode(models.Model):
    """A one-time code mailed to the patient to sign a document by typing their name. Only a
    keyed hash is stored; only the newest code of a document counts; each try uses up one of
    its attempts, right or wrong."""

    clinic_path = "document__clinic"

    document = models.ForeignKey(ConsentDocument, on_delete=models.CASCADE, related_name="codes")
    code_hash = models.CharField(max_length=64)
    content_sha256 = models.CharField(
        max_length=64, help_text="The text the code was sent for: a text prepared again voids it."
    )
    sent_to = models.EmailField()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        get_latest_by = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"Code for consent {self.document_id} sent {self.created_at:%Y-%m-%d %H:%M}"
