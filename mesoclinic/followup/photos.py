"""Photos of a side effect, sent with its report: most often by the patient from home, through
the portal. Cleaned exactly as the chart's photos are (``charts.photos.clean_jpeg``: the
accepted kinds and sizes, upright, re-encoded from the pixels alone, so no EXIF, GPS position
or camera serial is kept) and stored under MEDIA_ROOT, which is not published: the staff event
page and the patient's own portal pages serve them. A photo is kept with its report, never
deleted."""

from __future__ import annotations

import hashlib

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import HttpRequest

from mesoclinic.charts import photos as chart_photos
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, User
from mesoclinic.followup.models import AdverseEvent, EventPhoto
from mesoclinic.followup.services import _require_reporter

# Enough to show a reaction from a few sides; a report is not an album.
MAX_PER_EVENT = 10


def add_event_photo(
    event: AdverseEvent,
    upload: UploadedFile,
    actor: User,
    request: HttpRequest | None = None,
) -> EventPhoto:
    """Store ``upload`` as a photo of ``event``, by its clinic's staff or by the patient whose
    event it is. Refuses (``ValidationError``, nothing stored) a retracted event, one with
    its photos already, and a file that is not an accepted image."""
    _require_reporter(event.chart, actor)
    if event.retracted_at is not None:
        raise ValidationError("This side effect was retracted; it takes no new photo.")
    if event.photos.count() >= MAX_PER_EVENT:
        raise ValidationError(f"A report takes at most {MAX_PER_EVENT} photos.")
    # The chart photos' checks: size before reading it all, then kind, pixels and integrity.
    data, width, height = chart_photos.clean_jpeg(chart_photos._read(upload))
    digest = hashlib.sha256(data).hexdigest()
    photo = EventPhoto(event=event, width=width, height=height, sha256=digest, uploaded_by=actor)
    stored = ""
    try:
        with transaction.atomic():
            photo.image.save("photo.jpg", ContentFile(data), save=False)
            stored = photo.image.name or ""
            photo.save()
            audit.record(
                AuditAction.CREATE,
                request=request,
                actor=actor,
                obj=photo,
                clinic_id=event.clinic_id,
                patient_id=event.patient_id,
                event_id=event.pk,
                width=width,
                height=height,
                sha256=digest,
            )
    except BaseException:
        # The row was not written: the file is not kept either.
        if stored:
            photo.image.storage.delete(stored)
        raise
    return photo


def event_photo_bytes(photo: EventPhoto) -> bytes:
    """The stored JPEG."""
    with photo.image.open("rb") as handle:
        data: bytes = handle.read()
    return data
