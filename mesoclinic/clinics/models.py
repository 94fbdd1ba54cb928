from __future__ import annotations

import zoneinfo
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from simple_history.models import HistoricalRecords


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone such as Europe/Paris.")


# The catalogue's pre-care rule for NSAIDs, and the window when the catalogue is not loaded.
NSAID_PRECARE_RULE = "no-nsaids-before-session"
DEFAULT_NSAID_WINDOW_DAYS = 7


class PaperSize(models.TextChoices):
    A4 = "a4", "A4"
    LETTER = "letter", "US Letter"


class Clinic(models.Model):
    """A tenant: every patient and clinical record belongs to exactly one clinic."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(unique=True)
    address = models.TextField(blank=True)
    phone = models.CharField(max_length=40, blank=True)
    email = models.EmailField(blank=True)
    time_zone = models.CharField(
        max_length=64, default="Europe/Paris", validators=[validate_time_zone]
    )
    # Published advice on stopping NSAIDs before injections ranges from two days to two
    # weeks, so a clinic may set its own window; empty means the catalogue's.
    precare_window_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(28)],
        help_text="Days before a session to avoid aspirin and other NSAIDs; empty: 7, the catalogue's.",
    )
    paper_size = models.CharField(
        max_length=6,
        choices=PaperSize.choices,
        default=PaperSize.A4,
        help_text="Paper the clinic prints consent forms and summaries on.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    def today(self) -> date:
        return timezone.localdate(timezone=self.tz)

    def nsaid_window_days(self) -> int:
        """Days before a session to avoid aspirin and other NSAIDs: the clinic's own window,
        else the catalogue's pre-care rule's."""
        if self.precare_window_days:
            return self.precare_window_days
        from mesoclinic.catalogue.models import PreCareRule

        rule = PreCareRule.objects.filter(code=NSAID_PRECARE_RULE, retired=False).first()
        return rule.window_days if rule is not None else DEFAULT_NSAID_WINDOW_DAYS


class Role(models.TextChoices):
    ADMIN = "admin", "Clinic administrator"
    PRACTITIONER = "practitioner", "Practitioner"
    ASSISTANT = "assistant", "Assistant"
    PATIENT = "patient", "Patient"
    RESEARCHER = "researcher", "Researcher"


STAFF_ROLES = frozenset({Role.ADMIN, Role.PRACTITIONER, Role.ASSISTANT})


class User(AbstractUser):
    """A person who signs in. Staff belong to one clinic; the role decides what they may do."""

    clinic_path = "clinic"

    clinic = models.ForeignKey(
        Clinic, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    role = models.CharField(max_length=20, choices=Role.choices, blank=True)
    # Bumped by "sign out everywhere": it is part of the session hash, so every session
    # signed with the old value stops being valid.
    session_generation = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_clinic_staff(self) -> bool:
        return self.role in STAFF_ROLES and self.clinic_id is not None

    def get_session_auth_hash(self) -> str:
        return salted_hmac(
            "mesoclinic.clinics.User.session",
            f"{self.password}:{self.session_generation}",
            algorithm="sha256",
        ).hexdigest()


def licence_upload_to(instance: Licence, filename: str) -> str:
    return f"licences/{instance.practitioner_id}/{filename}"


class Licence(models.Model):
    """A practitioner's licence to practise, as issued and as verified by the clinic."""

    clinic_path = "practitioner__clinic"

    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="licences"
    )
    number = models.CharField(max_length=80)
    issuing_body = models.CharField(max_length=200)
    jurisdiction = models.CharField(max_length=120)
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True, help_text="Empty: no end date.")
    document = models.FileField(upload_to=licence_upload_to, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="licences_verified",
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["practitioner", "-valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(valid_until__isnull=True)
                | models.Q(valid_until__gte=models.F("valid_from")),
                name="licence_valid_until_after_from",
            ),
            models.UniqueConstraint(
                fields=["practitioner", "issuing_body", "number"], name="licence_unique_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.issuing_body})"

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)

    def expires_within(self, day: date, days: int) -> bool:
        return self.valid_until is not None and day <= self.valid_until <= day + timedelta(days)


class ApiToken(models.Model):
    """A per-user API key. Only a hash is stored: the key is shown once, at creation."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditLogImmutableError(Exception):
    """Raised on any attempt to change or remove an audit event."""


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:
        raise AuditLogImmutableError("The audit log is append-only: events cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise AuditLogImmutableError("The audit log is append-only: events cannot be deleted.")


class AuditAction(models.TextChoices):
    VIEW = "view", "Viewed"
    CREATE = "create", "Created"
    UPDATE = "update", "Updated"
    DELETE = "delete", "Deleted"
    EXPORT = "export", "Exported"
    ERASE = "erase", "Erased"
    LOGIN = "login", "Signed in"
    LOGIN_FAILED = "login_failed", "Sign-in failed"
    LOGOUT_EVERYWHERE = "logout_everywhere", "Signed out everywhere"


class AuditEvent(models.Model):
    """One read or write of protected data: who, when, from where, what, on which object.

    Append-only. The model refuses updates and deletes; on PostgreSQL a trigger also refuses
    them to any SQL the application runs (migration clinics 0003). Patients are referred to by
    id, never by name, so that erasing a patient's identity leaves the trail intact and
    identity-free.
    """

    clinic_path = "clinic"

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,  # users are deactivated, never deleted
        related_name="+",
    )
    clinic = models.ForeignKey(
        Clinic, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    patient_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    detail = models.JSONField(default=dict, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["clinic", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_id} {self.action} {self.object_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise AuditLogImmutableError("The audit log is append-only: events cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AuditLogImmutableError("The audit log is append-only: events cannot be deleted.")
