"""What happened after a session: adverse events, the 24-hour follow-up, and the flags they
raise for a practitioner.

An adverse event hangs on the signed chart of its session, and so on the formula version, the
lots, the devices, the areas and the practitioner the chart records. It changes as it evolves
(outcome, resolution, causality), and every version is kept (history); it is never deleted:
one recorded in error is retracted with a reason. A follow-up's answers are a record and never
change. A flag is a task for a practitioner; it is never deleted and is closed only with an
action, once.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from django.conf import settings
from django.db import models
from simple_history.models import HistoricalRecords

from mesoclinic.catalogue.models import BodyArea, SideEffect
from mesoclinic.charts.models import Chart
from mesoclinic.clinics.models import Clinic
from mesoclinic.patients.models import Patient


class KeptRecordError(Exception):
    """Raised on an attempt to delete a kept record or to change one that is final."""


class Grade(models.IntegerChoices):
    """CTCAE-style grades, with our own definitions for cosmetic events (GRADE_MEANING)."""

    MILD = 1, "1 Mild"
    MODERATE = 2, "2 Moderate"
    SEVERE = 3, "3 Severe"
    LIFE_THREATENING = 4, "4 Life-threatening"
    DEATH = 5, "5 Death"


GRADE_MEANING = {
    Grade.MILD: "Noticed by the patient, needs no treatment and does not change daily life.",
    Grade.MODERATE: (
        "Needs simple care (a cold pack, a cream, a pain-killer) or limits some daily "
        "activities, such as going to work, for a day or two."
    ),
    Grade.SEVERE: (
        "Needs medical treatment (antibiotics, drainage, a specialist), limits self-care, or "
        "may leave a lasting mark; not immediately dangerous."
    ),
    Grade.LIFE_THREATENING: "Needs urgent treatment: anaphylaxis, sepsis, a spreading infection.",
    Grade.DEATH: "Death related to the event.",
}


class EventOutcome(models.TextChoices):
    ONGOING = "ongoing", "Not yet resolved"
    RECOVERING = "recovering", "Recovering"
    RESOLVED = "resolved", "Resolved"
    SEQUELAE = "sequelae", "Resolved with a lasting effect"
    FATAL = "fatal", "Fatal"
    UNKNOWN = "unknown", "Unknown"


RESOLVED_OUTCOMES = (EventOutcome.RESOLVED, EventOutcome.SEQUELAE, EventOutcome.FATAL)


class Causality(models.TextChoices):
    """The WHO-UMC categories, assessed by the practitioner."""

    CERTAIN = "certain", "Certain"
    PROBABLE = "probable", "Probable"
    POSSIBLE = "possible", "Possible"
    UNLIKELY = "unlikely", "Unlikely"
    CONDITIONAL = "conditional", "Conditional (more data needed)"
    UNASSESSABLE = "unassessable", "Unassessable"


class Reporter(models.TextChoices):
    STAFF = "staff", "Clinic staff"
    PATIENT = "patient", "The patient"


class KeptQuerySet(models.QuerySet[Any]):
    """Rows that are never removed: bulk deletion is refused as well as ``delete()``."""

    def delete(self) -> tuple[int, dict[str, int]]:
        raise KeptRecordError("These records are kept; close or retract them instead.")


class AdverseEvent(models.Model):
    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="adverse_events")
    chart = models.ForeignKey(Chart, on_delete=models.PROTECT, related_name="adverse_events")
    side_effect = models.ForeignKey(
        SideEffect, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    other_description = models.CharField(
        max_length=300,
        blank=True,
        help_text="Only when no side effect of the catalogue fits; coded later.",
    )
    body_area = models.ForeignKey(
        BodyArea,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="One of the areas treated at the session.",
    )
    onset_on = models.DateField(help_text="The day it began, in the clinic's time zone.")
    grade = models.PositiveSmallIntegerField(choices=Grade.choices)
    serious = models.BooleanField(
        default=False,
        help_text="Led to hospital, lasting harm, was life-threatening or fatal.",
    )
    treatment = models.TextField(blank=True, help_text="What was done for it.")
    outcome = models.CharField(
        max_length=12, choices=EventOutcome.choices, default=EventOutcome.ONGOING
    )
    resolved_on = models.DateField(null=True, blank=True)
    day_off_work = models.BooleanField(default=False)
    organism = models.CharField(
        max_length=200,
        blank=True,
        help_text="For an infection, when known (e.g. Mycobacterium abscessus).",
    )
    reporter = models.CharField(max_length=8, choices=Reporter.choices)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reported_at = models.DateTimeField(auto_now_add=True)
    causality = models.CharField(max_length=12, choices=Causality.choices, blank=True)
    causality_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    causality_at = models.DateTimeField(null=True, blank=True)
    follow_up = models.ForeignKey(
        "FollowUp",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="adverse_events",
        help_text="The follow-up that recorded it, if any.",
    )
    notes = models.TextField(blank=True)
    retracted_at = models.DateTimeField(null=True, blank=True)
    retracted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    retraction_reason = models.TextField(blank=True)
    history = HistoricalRecords()

    objects = KeptQuerySet.as_manager()

    class Meta:
        ordering = ["-onset_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(side_effect__isnull=False) | ~models.Q(other_description=""),
                name="followup_event_coded_or_described",
                violation_error_message="Choose a side effect, or describe it as other.",
            ),
            models.CheckConstraint(
                condition=models.Q(grade__gte=1, grade__lte=5),
                name="followup_event_grade",
                violation_error_message="The grade is 1 to 5.",
            ),
        ]

    def __str__(self) -> str:
        what = self.side_effect.label if self.side_effect else self.other_description
        return f"{what} (grade {self.grade}) after session of {self.chart_id}"

    @property
    def label(self) -> str:
        if self.side_effect is not None:
            return self.side_effect.label
        return f"Other: {self.other_description}"

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise KeptRecordError("An adverse event is kept; retract it with a reason instead.")


class FollowUpQuerySet(KeptQuerySet):
    def update(self, **kwargs: Any) -> int:
        raise KeptRecordError("A follow-up's answers are not changed once given.")


class FollowUpChannel(models.TextChoices):
    PHONE = "phone", "By phone, with staff"
    PORTAL = "portal", "In the portal, by the patient"
    CLINIC = "clinic", "In person at the clinic"


class FollowUp(models.Model):
    """The answers to the 24-hour check after a signed session, given once."""

    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="follow_ups")
    chart = models.OneToOneField(Chart, on_delete=models.PROTECT, related_name="follow_up")
    channel = models.CharField(max_length=8, choices=FollowUpChannel.choices)
    answered_at = models.DateTimeField()
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    answers = models.JSONField(
        default=dict,
        help_text="Side-effect code -> grade still present (0 = none), as asked.",
    )
    day_off_work = models.BooleanField(default=False)
    notes = models.TextField(blank=True)
    recorded_at = models.DateTimeField(auto_now_add=True)

    objects = FollowUpQuerySet.as_manager()

    def __str__(self) -> str:
        return f"Follow-up of chart {self.chart_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise KeptRecordError("A follow-up's answers are not changed once given.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise KeptRecordError("A follow-up's answers are kept.")


class FlagKind(models.TextChoices):
    PERSISTING = "persisting", "Still present after it should have settled"
    INFECTION = "infection", "Possible infection"
    SEVERE = "severe", "Grade 3 or above"
    REVIEW = "review", "Always reviewed"
    UNANSWERED = "unanswered", "Follow-up not answered in 72 hours"
    PATIENT_REPORT = "patient_report", "Reported by the patient"


class FlagAction(models.TextChoices):
    CONTACTED = "contacted", "Patient contacted, advice given"
    SEEN = "seen", "Patient seen at the clinic"
    TREATED = "treated", "Treated"
    REFERRED = "referred", "Referred to a doctor or hospital"
    NOTHING_NEEDED = "nothing_needed", "Reviewed: nothing more needed"
    UNREACHABLE = "unreachable", "Patient could not be reached after several tries"


class Flag(models.Model):
    """A task for a practitioner on the clinic's dashboard, raised by a rule."""

    clinic_path = "clinic"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="flags")
    chart = models.ForeignKey(Chart, on_delete=models.PROTECT, related_name="flags")
    kind = models.CharField(max_length=16, choices=FlagKind.choices)
    reason = models.TextField(help_text="What fired, in words.")
    adverse_event = models.ForeignKey(
        AdverseEvent, null=True, blank=True, on_delete=models.PROTECT, related_name="flags"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="flags",
        help_text="The practitioner who is to act: the one who gave the treatment.",
    )
    raised_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=16, choices=FlagAction.choices, blank=True)
    action_note = models.TextField(blank=True)
    history = HistoricalRecords()

    objects = KeptQuerySet.as_manager()

    class Meta:
        ordering = ["-raised_at", "-pk"]
        constraints = [
            # One flag per rule and event; one "unanswered" flag per session.
            models.UniqueConstraint(
                fields=["adverse_event", "kind"],
                condition=models.Q(adverse_event__isnull=False),
                name="followup_flag_once_per_event",
            ),
            models.UniqueConstraint(
                fields=["chart"],
                condition=models.Q(kind="unanswered"),
                name="followup_flag_unanswered_once",
            ),
            models.CheckConstraint(
                condition=models.Q(closed_at__isnull=True)
                | (~models.Q(action="") & ~models.Q(action_note="")),
                name="followup_flag_closed_with_action",
                violation_error_message="A flag is closed only with an action and a note.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.reason}"

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise KeptRecordError("A flag is never deleted; close it with an action.")


def event_photo_upload_to(instance: EventPhoto, filename: str) -> str:
    # Not the uploaded name, which may carry the patient's name.
    return f"events/{instance.event.clinic_id}/{instance.event_id}/{uuid4().hex}.jpg"


class EventPhoto(models.Model):
    """A photo of a side effect, most often taken by the patient at home and sent with the
    report. Cleaned like chart photos (re-encoded, metadata removed); never deleted."""

    clinic_path = "event__clinic"

    event = models.ForeignKey(AdverseEvent, on_delete=models.PROTECT, related_name="photos")
    image = models.FileField(upload_to=event_photo_upload_to)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["event", "uploaded_at", "pk"]

    def __str__(self) -> str:
        return f"Photo {self.pk} of {self.event}"

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise KeptRecordError("A side-effect photo is kept with its report.")
