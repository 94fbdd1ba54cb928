"""The chart's photos: before and immediately after, of a body area from a standard view, so
that the same area and view compare across the sessions of a course.

An upload is opened with Pillow restricted to JPEG, PNG and WebP (no other decoder runs on
what a client sends), checked (size, pixels, integrity), turned upright by its EXIF
orientation, scaled down to at most ``MAX_SIDE`` pixels and stored as a new JPEG written from
the pixels alone: no EXIF (so no GPS position, camera serial or original time), no XMP, no
ICC profile (colours are converted to sRGB first), no comment. The stored file's SHA-256,
width and height are kept on the row. Files live under MEDIA_ROOT, which is not published:
``photo_views`` serves them to the chart's clinic only.

A signed chart takes no new photo and loses none (the models and the database refuse too).

Photos compare by course: the before photos of its first session are the baseline, the after
photos of its last session its end, and the course page and those two charts ask for both.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Max, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.charts.models import Chart, ChartPhoto, PhotoMoment, PhotoView
from mesoclinic.charts.photo_forms import PhotoForm
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, User
from mesoclinic.courses.models import AppointmentKind, CoursePlan, CourseStatus
from mesoclinic.patients.models import Patient

MAX_BYTES = 15 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 2400
THUMB_SIDE = 480
JPEG_QUALITY = 88
# The only decoders Pillow may run on an upload. The JPEG decoder also opens MPO, the JPEG
# some cameras write with a second (depth or preview) frame; only the first frame is kept.
FORMATS = ("JPEG", "PNG", "WEBP")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif"}

NOT_AN_IMAGE = "This file is not a JPEG, PNG or WebP photo."
HEIC = (
    "HEIC photos (the iPhone's own format) cannot be read here. Take the photo from this page "
    "with the tablet's camera, or set the camera to “Most Compatible” (JPEG) and send it again."
)
DAMAGED = (
    "The photo is damaged or incomplete (the upload may have been cut off); take or send it again."
)


# --- adding and removing ----------------------------------------------------------------


def _read(upload: UploadedFile) -> bytes:
    if upload.size is not None and upload.size > MAX_BYTES:
        raise ValidationError(_too_big(upload.size))
    upload.seek(0)
    data = upload.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValidationError(_too_big(len(data)))
    if not data:
        raise ValidationError("The file is empty.")
    return data


def _too_big(size: int) -> str:
    return (
        f"The photo is {size / 1024 / 1024:.1f} MB; the most a photo may be is "
        f"{MAX_BYTES // 1024 // 1024} MB."
    )


def _is_heif(data: bytes) -> bool:
    # ISO base media file: a box size, then "ftyp" and the major brand.
    return data[4:8] == b"ftyp" and data[8:12] in _HEIF_BRANDS


def _open(data: bytes) -> Image.Image:
    """The upload as a Pillow image, checked but not yet decoded."""
    try:
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except UnidentifiedImageError:
        raise ValidationError(HEIC if _is_heif(data) else NOT_AN_IMAGE) from None
    except Image.DecompressionBombError:
        raise ValidationError(_too_many_pixels()) from None
    except (OSError, SyntaxError, ValueError):
        raise ValidationError(DAMAGED) from None
    width, height = image.size
    if width < 1 or height < 1:
        raise ValidationError(DAMAGED)
    if width * height > MAX_PIXELS:
        raise ValidationError(_too_many_pixels(width, height))
    try:
        image.verify()  # the structure (PNG checksums...); leaves the image unusable
        image = Image.open(io.BytesIO(data), formats=FORMATS)
    except Exception:  # whatever a broken file makes a decoder raise
        raise ValidationError(DAMAGED) from None
    return image


def _too_many_pixels(width: int = 0, height: int = 0) -> str:
    size = f" ({width} by {height})" if width else ""
    return (
        f"The photo has too many pixels{size}; the most accepted is "
        f"{MAX_PIXELS // 1_000_000} megapixels."
    )


def _to_srgb(image: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB pixels, transparency laid on white, colours converted from the photo's profile
    (a tablet's Display P3, say) to sRGB so that nothing depends on the profile later."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        image = image.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, "white")
        image.paste(rgba, mask=rgba.getchannel("A"))
    if icc:
        try:
            converted = ImageCms.profileToProfile(
                image,
                ImageCms.ImageCmsProfile(io.BytesIO(icc)),
                ImageCms.createProfile("sRGB"),
                outputMode="RGB",
            )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            pass  # a profile that does not fit: its pixels are taken as they are
        else:
            if converted is not None:
                image = converted
    return image.convert("RGB")


def clean_jpeg(data: bytes) -> tuple[bytes, int, int]:
    """The upload re-encoded as a JPEG of its pixels only: upright, at most ``MAX_SIDE`` on
    its longest side, sRGB, with no metadata. Raises ``ValidationError`` for a file that is
    not an image of an accepted kind and size."""
    image = _open(data)
    icc = image.info.get("icc_profile")
    # _open refused more than MAX_PIXELS, below Pillow's own bomb limit: nothing bigger is
    # decoded, and Pillow's global limit is left as it is for the rest of the program.
    try:
        if image.format in ("JPEG", "MPO"):
            # Decode a large JPEG at a half, quarter or eighth of its size when that is still
            # at least MAX_SIDE both ways: less memory and time, the same result.
            image.draft(None, (MAX_SIDE, MAX_SIDE))
        image.load()
        try:
            upright = ImageOps.exif_transpose(image)
        except Exception:  # a broken EXIF block: keep the pixels as stored
            upright = image
        upright.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
        rgb = _to_srgb(upright, icc if isinstance(icc, bytes) else None)
    except Image.DecompressionBombError:
        raise ValidationError(_too_many_pixels(*image.size)) from None
    except (OSError, SyntaxError, ValueError, EOFError):
        raise ValidationError(DAMAGED) from None
    # A new image holds the pixels and nothing of the original's info (comments, XMP, EXIF).
    clean = Image.new("RGB", rgb.size)
    clean.paste(rgb)
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return out.getvalue(), clean.width, clean.height


def _check_choices(chart: Chart, moment: str, body_area: BodyArea, view: str) -> None:
    if chart.signed_at is not None:
        raise ValidationError(
            "A signed chart takes no new photos; photos of a later change belong to the "
            "next session's chart."
        )
    if moment not in PhotoMoment.values:
        raise ValidationError(f"Unknown moment “{moment}”: a photo is before or after.")
    if view not in PhotoView.values:
        raise ValidationError(f"Unknown view “{view}”.")
    if (
        body_area is None
        or body_area.pk is None
        or not BodyArea.objects.filter(pk=body_area.pk, retired=False).exists()
    ):
        raise ValidationError("Choose a body area of the catalogue that is in use.")


def _check_taken_at(chart: Chart, taken_at: datetime | None) -> datetime:
    now = timezone.now()
    if taken_at is None:
        return now
    if timezone.is_naive(taken_at):
        raise ValidationError("The time the photo was taken must carry a time zone.")
    if taken_at > now + timedelta(minutes=5):
        raise ValidationError("The photo cannot have been taken in the future.")
    tz = chart.clinic.tz
    session_day = timezone.localdate(chart.appointment.starts_at, tz)
    if timezone.localdate(taken_at, tz) != session_day:
        raise ValidationError(
            f"A photo of this chart is taken on the day of the session, {session_day:%Y-%m-%d}."
        )
    return taken_at


def add_photo(
    chart: Chart,
    *,
    upload: UploadedFile,
    moment: str,
    body_area: BodyArea,
    view: str,
    taken_at: datetime | None = None,
    actor: User,
    request: HttpRequest | None = None,
) -> ChartPhoto:
    """Store ``upload`` as a photo of the draft ``chart``. Refuses (``ValidationError``, and
    nothing stored) a signed chart, an unknown moment, view or area, and a file that is not
    an accepted image."""
    _check_choices(chart, moment, body_area, view)
    when = _check_taken_at(chart, taken_at)
    data, width, height = clean_jpeg(_read(upload))
    digest = hashlib.sha256(data).hexdigest()
    photo = ChartPhoto(
        chart=chart,
        moment=moment,
        body_area=body_area,
        view=view,
        width=width,
        height=height,
        sha256=digest,
        taken_at=when,
        uploaded_by=actor,
    )
    stored = ""
    try:
        with transaction.atomic():
            # Locked as signing locks it: a chart signed meanwhile is seen here.
            locked = Chart.objects.select_for_update().get(pk=chart.pk)
            _check_choices(locked, moment, body_area, view)
            photo.image.save("photo.jpg", ContentFile(data), save=False)
            stored = photo.image.name or ""
            photo.save()
            audit.record(
                AuditAction.CREATE,
                request=request,
                actor=actor,
                obj=photo,
                clinic_id=chart.clinic_id,
                patient_id=chart.patient_id,
                chart_id=chart.pk,
                moment=moment,
                area=body_area.code,
                view=view,
                width=width,
                height=height,
                sha256=digest,
            )
    except BaseException:
        if stored:
            photo.image.storage.delete(stored)
        raise
    return photo


def remove_photo(photo: ChartPhoto, actor: User, *, request: HttpRequest | None = None) -> None:
    """Remove a photo of a draft chart, its file once the removal is committed."""
    with transaction.atomic():
        chart = Chart.objects.select_for_update().get(pk=photo.chart_id)
        if chart.signed_at is not None:
            raise ValidationError(
                "A signed chart keeps its photos; a photo cannot be removed from it."
            )
        name = photo.image.name or ""
        storage = photo.image.storage
        audit.record(
            AuditAction.DELETE,
            request=request,
            actor=actor,
            obj=photo,
            clinic_id=chart.clinic_id,
            patient_id=chart.patient_id,
            chart_id=chart.pk,
            moment=photo.moment,
            area_id=photo.body_area_id,
            view=photo.view,
            sha256=photo.sha256,
        )
        photo.delete()
        if name:
            transaction.on_commit(lambda: storage.delete(name))


def photo_bytes(photo: ChartPhoto) -> bytes:
    """The stored JPEG."""
    with photo.image.open("rb") as handle:
        data: bytes = handle.read()
    return data


def thumbnail_bytes(photo: ChartPhoto, side: int = THUMB_SIDE) -> bytes:
    """A smaller JPEG of the stored photo for lists (made on demand; nothing is cached)."""
    with Image.open(io.BytesIO(photo_bytes(photo)), formats=("JPEG",)) as image:
        image.draft("RGB", (side, side))
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        image.convert("RGB").save(out, "JPEG", quality=80)
    return out.getvalue()


# --- comparing across sessions ----------------------------------------------------------

# A course's time points: the before photos of its first session are the baseline, the after
# photos of its last session the end of the course.
BASELINE_SESSION = 1
_MOMENT_WORD = {PhotoMoment.BEFORE.value: "before", PhotoMoment.AFTER.value: "after"}


def _session_charts(plan: CoursePlan) -> QuerySet[Chart]:
    return Chart.objects.filter(
        plan=plan, appointment__kind=AppointmentKind.SESSION, session_number__isnull=False
    )


def end_session(plan: CoursePlan) -> int:
    """The number of the course's last session: as planned while the course runs; once it is
    completed or stopped early, the last session charted, as that is where it ended."""
    if plan.status in (CourseStatus.COMPLETED, CourseStatus.STOPPED):
        last = _session_charts(plan).aggregate(last=Max("session_number"))["last"]
        if last:
            return int(last)
    return plan.sessions_planned


def time_point(
    number: int | None, end: int, *, maintenance: bool = False, moment: str | None = None
) -> str:
    """Where a session, or its photos of one ``moment``, stand in the course: "Baseline
    (session 1, before)", "Session 3", "Session 3, after", "End of course (session 8,
    after)". A session on its own is named by the moment that makes it a time point."""
    if maintenance:
        label = "Maintenance session"
    elif number is None:
        label = "Session"
    elif number == BASELINE_SESSION and moment != PhotoMoment.AFTER:
        return f"Baseline (session {number}, before)"
    elif number == end and moment != PhotoMoment.BEFORE:
        return f"End of course (session {number}, after)"
    else:
        label = f"Session {number}"
    return f"{label}, {_MOMENT_WORD[moment]}" if moment else label


def _day(chart: Chart) -> date:
    return timezone.localdate(chart.appointment.starts_at, chart.clinic.tz)


@dataclass
class SessionPhotos:
    """The photos of one area and view in one chart of a course."""

    chart: Chart
    session_date: date
    session_number: int | None
    end_session: int
    maintenance: bool
    days_from_baseline: int | None
    signed: bool
    before: list[ChartPhoto] = field(default_factory=list)
    after: list[ChartPhoto] = field(default_factory=list)

    @property
    def columns(self) -> list[tuple[str, str, list[ChartPhoto]]]:
        return [
            (PhotoMoment.BEFORE.value, PhotoMoment.BEFORE.label, self.before),
            (PhotoMoment.AFTER.value, PhotoMoment.AFTER.label, self.after),
        ]

    def time_point(self, moment: str | None = None) -> str:
        return time_point(
            self.session_number, self.end_session, maintenance=self.maintenance, moment=moment
        )

    @property
    def label(self) -> str:
        return self.time_point()


@dataclass(frozen=True)
class PairPhoto:
    """A photo the before/after pair may show, named by its time point and day (and the time
    of day when its session has more than one of that moment)."""

    photo: ChartPhoto
    time_point: str
    caption: str


@dataclass(frozen=True)
class CourseChoice:
    """A course of which the patient has photos."""

    plan: CoursePlan
    label: str


@dataclass(frozen=True)
class PhotoChoice:
    """An area and view of which the patient has photos in the course shown."""

    area: BodyArea
    view: str
    view_label: str
    sessions: int


@dataclass
class Comparison:
    """What the comparison page shows: see ``comparison``."""

    courses: list[CourseChoice]
    course: CourseChoice | None
    choices: list[PhotoChoice]
    chosen: PhotoChoice | None
    sessions: list[SessionPhotos]
    options: list[PairPhoto]
    pair: tuple[PairPhoto, PairPhoto] | None

    @property
    def photo_ids(self) -> list[int]:
        return [p.pk for row in self.sessions for p in (*row.before, *row.after)]


def _patient_photos(patient: Patient) -> list[ChartPhoto]:
    return list(
        ChartPhoto.objects.filter(chart__patient=patient.pk, chart__clinic=patient.clinic_id)
        .select_related(
            "body_area", "chart__appointment", "chart__clinic", "chart__plan__indication"
        )
        .order_by("chart__appointment__starts_at", "chart_id", "taken_at", "pk")
    )


def course_choices(photos: list[ChartPhoto]) -> list[CourseChoice]:
    """The courses of ``photos``, the one photographed last first. Every chart belongs to a
    course (``services.start_chart`` requires one)."""
    plans: dict[int, CoursePlan] = {}
    days: dict[int, list[date]] = defaultdict(list)
    for photo in photos:
        plan = photo.chart.plan
        if plan is not None:
            plans[plan.pk] = plan
            days[plan.pk].append(_day(photo.chart))
    choices = []
    for pk, plan in plans.items():
        first, last = min(days[pk]), max(days[pk])
        span = f"{first:%Y-%m-%d}" if first == last else f"{first:%Y-%m-%d} to {last:%Y-%m-%d}"
        choices.append(CourseChoice(plan, f"{plan.indication.label} course, {span}"))
    return sorted(choices, key=lambda c: (max(days[c.plan.pk]), c.plan.pk), reverse=True)


_VIEW_ORDER = {code: index for index, code in enumerate(PhotoView.values)}


def photo_choices(photos: list[ChartPhoto]) -> list[PhotoChoice]:
    """The areas and views of ``photos``, with how many sessions each."""
    charts: dict[tuple[int, str], set[int]] = defaultdict(set)
    areas: dict[int, BodyArea] = {}
    for photo in photos:
        charts[(photo.body_area_id, photo.view)].add(photo.chart_id)
        areas[photo.body_area_id] = photo.body_area
    choices = [
        PhotoChoice(areas[area_id], view, PhotoView(view).label, len(chart_ids))
        for (area_id, view), chart_ids in charts.items()
    ]
    return sorted(choices, key=lambda c: (c.area.label, _VIEW_ORDER.get(c.view, 99)))


def _sessions(plan: CoursePlan, photos: list[ChartPhoto]) -> list[SessionPhotos]:
    """``photos`` (of one area and view, oldest session first) by chart."""
    end = end_session(plan)
    baseline = (
        _session_charts(plan)
        .filter(session_number=BASELINE_SESSION)
        .select_related("appointment", "clinic")
        .order_by("appointment__starts_at")
        .first()
    )
    baseline_day = _day(baseline) if baseline else None
    rows: dict[int, SessionPhotos] = {}
    for photo in photos:
        chart = photo.chart
        row = rows.get(chart.pk)
        if row is None:
            day = _day(chart)
            row = rows[chart.pk] = SessionPhotos(
                chart=chart,
                session_date=day,
                session_number=chart.session_number,
                end_session=end,
                maintenance=chart.appointment.kind == AppointmentKind.MAINTENANCE,
                days_from_baseline=(day - baseline_day).days if baseline_day else None,
                signed=chart.signed_at is not None,
            )
        (row.before if photo.moment == PhotoMoment.BEFORE else row.after).append(photo)
    return list(rows.values())


def pair_options(sessions: list[SessionPhotos]) -> list[PairPhoto]:
    """Every photo of ``sessions`` in time order, each session's before ones first."""
    options = []
    for row in sessions:
        for moment, _label, items in row.columns:
            point = row.time_point(moment)
            for photo in items:
                when = f"{row.session_date:%Y-%m-%d}"
                if len(items) > 1:
                    when += f" {timezone.localtime(photo.taken_at, row.chart.clinic.tz):%H:%M}"
                options.append(PairPhoto(photo, point, f"{point} · {when}"))
    return options


def choose_pair(
    options: list[PairPhoto], first: str = "", second: str = ""
) -> tuple[PairPhoto, PairPhoto] | None:
    """The photos ``first`` and ``second`` (ids) of ``options``; by default the earliest
    before photo (the baseline when the first session has one) and the latest after photo
    (the end of the course once it is taken). None with fewer than two photos."""
    if len(options) < 2:
        return None
    befores = [o for o in options if o.photo.moment == PhotoMoment.BEFORE]
    afters = [o for o in options if o.photo.moment == PhotoMoment.AFTER]
    by_id = {str(o.photo.pk): o for o in options}
    return (
        by_id.get(first, befores[0] if befores else options[0]),
        by_id.get(second, afters[-1] if afters else options[-1]),
    )


def comparison(
    patient: Patient,
    *,
    course: str = "",
    area: str = "",
    view: str = "",
    first: str = "",
    second: str = "",
) -> Comparison:
    """The photo comparison of ``patient`` (only charts of the patient's own clinic): the
    courses photographed; the one shown, ``course`` (a plan id) or else the latest with
    photos of ``area`` and ``view``, or the latest at all when none is asked; the areas and
    views of that course; the sessions of the one chosen, oldest first; and the pair."""
    everything = _patient_photos(patient)
    courses = course_choices(everything)
    if course:
        shown = next((c for c in courses if str(c.plan.pk) == course), None)
    else:
        asked = {p.chart.plan_id for p in everything if p.body_area.code == area and p.view == view}
        shown = next((c for c in courses if c.plan.pk in asked), courses[0] if courses else None)
    in_course = [p for p in everything if shown is not None and p.chart.plan_id == shown.plan.pk]
    choices = photo_choices(in_course)
    chosen = next((c for c in choices if c.area.code == area and c.view == view), None)
    if chosen is None and not (area or view) and choices:
        chosen = choices[0]
    sessions: list[SessionPhotos] = []
    if shown is not None and chosen is not None:
        sessions = _sessions(
            shown.plan,
            [p for p in in_course if p.body_area_id == chosen.area.pk and p.view == chosen.view],
        )
    options = pair_options(sessions)
    return Comparison(
        courses, shown, choices, chosen, sessions, options, choose_pair(options, first, second)
    )


# --- the photo sets a course asks for ---------------------------------------------------


@dataclass(frozen=True)
class PhotoSet:
    """The photos a course asks for at one time point, area by area of the plan: before
    photos at its first session (the baseline), after photos at its last (its end)."""

    name: str
    session_number: int
    moment: str
    chart: Chart | None
    taken: list[BodyArea]
    missing: list[BodyArea]

    @property
    def moment_word(self) -> str:
        return _MOMENT_WORD[self.moment]

    @property
    def missing_labels(self) -> str:
        return ", ".join(area.label for area in self.missing)


def photo_sets(plan: CoursePlan) -> list[PhotoSet]:
    """The baseline and end-of-course photo sets of ``plan``, from any view of each area."""
    areas = sorted(plan.areas.all(), key=lambda area: area.label)
    end = end_session(plan)
    charts: dict[int, Chart] = {}
    numbers = {BASELINE_SESSION, end}
    for chart in (
        _session_charts(plan).filter(session_number__in=numbers).order_by("appointment__starts_at")
    ):
        charts.setdefault(chart.session_number or 0, chart)
    taken = set(
        ChartPhoto.objects.filter(chart__in=[c.pk for c in charts.values()]).values_list(
            "chart_id", "moment", "body_area_id"
        )
    )
    sets = []
    for name, number, moment in (
        ("Baseline", BASELINE_SESSION, PhotoMoment.BEFORE.value),
        ("End-of-course", end, PhotoMoment.AFTER.value),
    ):
        at = charts.get(number)
        has = [a for a in areas if at is not None and (at.pk, moment, a.pk) in taken]
        missing = [a for a in areas if a not in has]
        sets.append(PhotoSet(name, number, moment, at, has, missing))
    return sets


def requested_sets(chart: Chart) -> list[PhotoSet]:
    """The photo sets asked of ``chart``'s session (the baseline at the course's first, the
    end at its last) that still miss an area."""
    plan = chart.plan
    if (
        plan is None
        or chart.session_number is None
        or chart.appointment.kind != AppointmentKind.SESSION
        or chart.session_number not in (BASELINE_SESSION, end_session(plan))
    ):
        return []
    return [s for s in photo_sets(plan) if s.chart == chart and s.missing]


# --- the chart page's panel -------------------------------------------------------------


def _item(photo: ChartPhoto, tz: Any, removable: bool) -> dict[str, Any]:
    return {
        "photo": photo,
        "url": reverse("charts:photo", args=[photo.pk]),
        "thumb_url": reverse("charts:photo-thumb", args=[photo.pk]),
        "remove_url": reverse("charts:photo-remove", args=[photo.pk]) if removable else None,
        "taken_at": timezone.localtime(photo.taken_at, tz),
        "alt": (
            f"{photo.get_moment_display()}: {photo.body_area.label}, "
            f"{photo.get_view_display().lower()}, "
            f"{timezone.localtime(photo.taken_at, tz):%H:%M}"
        ),
    }


def panel(
    chart: Chart,
    request: HttpRequest,
    *,
    editable: bool,
    form: PhotoForm | None = None,
    errors: list[str] | None = None,
) -> dict[str, Any]:
    """What ``charts/_photos.html`` shows: the chart's photos by area and view, before beside
    after; the upload form while the chart is a draft and ``editable``."""
    can_edit = editable and chart.signed_at is None
    tz = chart.clinic.tz
    groups: dict[tuple[int, str], dict[str, Any]] = {}
    photos = ChartPhoto.objects.filter(chart=chart).select_related("body_area")
    for photo in photos.order_by("body_area__label", "taken_at", "pk"):
        key = (photo.body_area_id, photo.view)
        group = groups.get(key)
        if group is None:
            group = groups[key] = {
                "area": photo.body_area,
                "view": photo.view,
                "view_label": photo.get_view_display(),
                "before": [],
                "after": [],
                "compare_url": reverse("charts:photos-compare", args=[chart.patient_id])
                + "?"
                + urlencode(
                    {
                        "course": chart.plan_id or "",
                        "area": photo.body_area.code,
                        "view": photo.view,
                    }
                ),
            }
        group[photo.moment].append(_item(photo, tz, can_edit))
    for group in groups.values():
        group["columns"] = [
            (PhotoMoment.BEFORE.value, PhotoMoment.BEFORE.label, group["before"]),
            (PhotoMoment.AFTER.value, PhotoMoment.AFTER.label, group["after"]),
        ]
    ordered = sorted(
        groups.values(), key=lambda g: (g["area"].label, _VIEW_ORDER.get(g["view"], 99))
    )
    return {
        "chart": chart,
        "editable": can_edit,
        "signed": chart.signed_at is not None,
        "groups": ordered,
        "count": sum(len(g["before"]) + len(g["after"]) for g in ordered),
        "form": (form or PhotoForm(chart=chart)) if can_edit else None,
        "errors": errors or [],
        "requested": requested_sets(chart),
        "add_url": reverse("charts:photo-add", args=[chart.pk]),
        "max_mb": MAX_BYTES // 1024 // 1024,
    }
