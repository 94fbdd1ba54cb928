"""Calendar feeds: a secret, revocable URL that a calendar app polls for the appointments of
one practitioner or one patient.

The URL is the only credential, so, like an API token, only its SHA-256 digest is stored and
it is shown once, when created. An owner has at most one active feed: creating another
replaces it, which is how a leaked URL is changed.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from mesoclinic.clinics.models import Clinic
from mesoclinic.patients.models import Patient


class CalendarFeed(models.Model):
    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="calendar_feeds")
    # The owner: exactly one of the two.
    practitioner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="calendar_feeds",
    )
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="calendar_feeds"
    )
    label = models.CharField(max_length=100, blank=True)
    # The first characters of the secret, to tell feeds apart without revealing it.
    prefix = models.CharField(max_length=12)
    digest = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(practitioner__isnull=False, patient__isnull=True)
                | models.Q(practitioner__isnull=True, patient__isnull=False),
                name="calendars_feed_one_owner",
                violation_error_message="A feed belongs to a practitioner or to a patient.",
            ),
            models.UniqueConstraint(
                fields=["practitioner"],
                condition=models.Q(revoked_at__isnull=True, practitioner__isnull=False),
                name="calendars_feed_one_active_per_practitioner",
            ),
            models.UniqueConstraint(
                fields=["patient"],
                condition=models.Q(revoked_at__isnull=True, patient__isnull=False),
                name="calendars_feed_one_active_per_patient",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label or 'Calendar feed'} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
