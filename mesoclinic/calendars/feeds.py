"""Calendar feed tokens, as API tokens are kept (``clinics.tokens``): the secret is in the
feed's URL, shown once when the feed is created and stored only as a SHA-256 digest.

A feed stops working when it is revoked, when another feed replaces it, when its practitioner
leaves the clinic or is deactivated, and when its patient's identity is erased.
"""

from __future__ import annotations

import hashlib
import secrets

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from mesoclinic.calendars import calendars
from mesoclinic.calendars.models import CalendarFeed
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Role, User
from mesoclinic.patients.models import Patient

PREFIX_LENGTH = 8


def _digest(key: str) -> str:
    # The key is 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    return hashlib.sha256(key.encode()).hexdigest()


def _owner(owner: User | Patient) -> dict[str, User | Patient]:
    return {"patient": owner} if isinstance(owner, Patient) else {"practitioner": owner}


def active_feed(owner: User | Patient) -> CalendarFeed | None:
    return CalendarFeed.objects.filter(**_owner(owner), revoked_at__isnull=True).first()


def create_feed(
    owner: User | Patient, *, actor: User, label: str = "", request: HttpRequest | None = None
) -> tuple[CalendarFeed, str]:
    """A new feed for ``owner`` (a practitioner or a patient), replacing its active one, and
    the feed's URL path: it holds the secret, so it is never stored and cannot be shown again."""
    if isinstance(owner, Patient):
        if owner.erased_at is not None:
            raise ValidationError("This patient's identity is erased: there is no one to send to.")
    elif owner.role != Role.PRACTITIONER:
        raise ValidationError("Only practitioners have appointments to put in a calendar.")
    clinic_id = owner.clinic_id
    if clinic_id is None or clinic_id != actor.clinic_id:
        raise ValidationError("That calendar belongs to another clinic.")
    key = "cal_" + secrets.token_urlsafe(32)
    try:
        with transaction.atomic():
            previous = active_feed(owner)
            if previous is not None:
                revoke_feed(previous, actor=actor, request=request)
            feed = CalendarFeed.objects.create(
                clinic_id=clinic_id,
                **_owner(owner),
                label=label.strip(),
                prefix=key[:PREFIX_LENGTH],
                digest=_digest(key),
                created_by=actor,
            )
            audit.record(AuditAction.CREATE, request=request, actor=actor, obj=feed)
    except IntegrityError:
        # The database allows one active feed per owner: another request created one first.
        raise ValidationError("Another feed was created a moment ago; reload the page.") from None
    return feed, reverse("calendar-feed", kwargs={"token": key})


def revoke_feed(feed: CalendarFeed, *, actor: User, request: HttpRequest | None = None) -> None:
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at"])
        audit.record(AuditAction.UPDATE, request=request, actor=actor, obj=feed, revoked=True)


def _owner_current(feed: CalendarFeed) -> bool:
    if feed.patient is not None:
        return feed.patient.erased_at is None
    practitioner = feed.practitioner
    return (
        practitioner is not None
        and practitioner.is_active
        and practitioner.role == Role.PRACTITIONER
        and practitioner.clinic_id == feed.clinic_id
    )


def resolve_feed(key: str) -> CalendarFeed | None:
    """The active feed whose secret is ``key``, its use recorded; None for any other key."""
    feed = (
        CalendarFeed.objects.select_related("clinic", "practitioner", "patient__clinic")
        .filter(digest=_digest(key), revoked_at__isnull=True)
        .first()
    )
    if feed is None or not _owner_current(feed):
        return None
    feed.last_used_at = timezone.now()
    CalendarFeed.objects.filter(pk=feed.pk).update(last_used_at=feed.last_used_at)
    return feed


def read_feed(key: str, request: HttpRequest) -> bytes | None:
    """The feed's calendar as a file, or None when ``key`` opens no feed. A patient's feed is
    a read of their record, audited as any other."""
    feed = resolve_feed(key)
    if feed is None:
        return None
    now = timezone.now()
    if feed.patient is not None:
        calendar = calendars.patient_calendar(feed.patient, now)
        audit.record(
            AuditAction.VIEW, request=request, obj=feed.patient, via="calendar feed", feed=feed.pk
        )
    else:
        assert feed.practitioner is not None  # a feed has one owner (a database constraint)
        calendar = calendars.practitioner_calendar(feed.practitioner, feed.clinic, now)
    return calendars.to_ics(calendar)
