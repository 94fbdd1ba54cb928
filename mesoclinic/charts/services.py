"""Starting, filling in, signing and amending a treatment chart.

Views and the API call these; each checks what it is given, refuses bad input with a
``ValidationError`` that says why, and changes nothing when it refuses.

- ``start_chart``: only after ``screening.gate.require_chart_start`` passes (no open block, a
  valid consent); starting again returns the chart already there.
- ``save_draft``: the whole draft as a ``DraftSpec``, rewritten at once. Input that cannot be
  right (an unknown area, a lot of another clinic or not usable that day, a point off the
  map or off its area) is refused; a draft that is merely unfinished (volumes that do not yet
  add up) is kept, and ``problems`` lists what stops it being signed.
- ``sign``: the practitioner who injected, with their password; the lots leave stock once,
  however often signing is retried; the course advances.
- ``amend``: a correction of a signed chart that keeps the original beside it.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.charts import bodymap
from mesoclinic.charts.models import (
    AmendableField,
    AreaTreatment,
    Chart,
    ChartAmendment,
    Device,
    InjectionPoint,
    Side,
    Syringe,
    SyringeLot,
    Technique,
)
from mesoclinic.clinics import audit
from mesoclinic.clinics.licences import licence_check
from mesoclinic.clinics.models import AuditAction, User
from mesoclinic.courses.booking import record_attended
from mesoclinic.courses.models import Appointment, AppointmentKind, AppointmentStatus, CoursePlan
from mesoclinic.courses.plans import complete_plan
from mesoclinic.formulas.models import Lot
from mesoclinic.formulas.services import lot_usable, record_lot_use
from mesoclinic.reminders.planner import schedule_follow_up
from mesoclinic.screening.gate import require_chart_start

# Volumes are charted to the hundredth of a millilitre; sums are compared at that precision.
CENT = Decimal("0.01")
MAX_SYRINGE_ML = Decimal("60")
MAX_DEPTH_MM = Decimal("13")
MAX_POINTS = 2000
MAX_AREAS = 100
MAX_SYRINGES = 20
CHARTED_KINDS = (AppointmentKind.SESSION, AppointmentKind.MAINTENANCE)


@dataclass
class LotSpec:
    lot_id: int
    volume_ml: Decimal
    opens_unit: bool = False


@dataclass
class SyringeSpec:
    number: int
    volume_ml: Decimal
    device: str = Device.SYRINGE
    needle_gauge: int | None = None
    needle_length_mm: Decimal | None = None
    injector_id: str = ""
    lots: list[LotSpec] = field(default_factory=list)


@dataclass
class PointSpec:
    view: str
    x: Decimal
    y: Decimal
    depth_mm: Decimal | None = None
    volume_ml: Decimal | None = None


@dataclass
class AreaSpec:
    area: str
    syringe: int
    technique: str
    depth_mm: Decimal
    volume_per_point_ml: Decimal
    point_count: int
    side: str = ""
    points: list[PointSpec] = field(default_factory=list)


@dataclass
class DraftSpec:
    started_at: datetime | None = None
    ended_at: datetime | None = None
    anaesthetic_product: str = ""
    anaesthetic_minutes: int | None = None
    pain_score: int | None = None
    immediate_reactions: str = ""
    aftercare_given: str = ""
    notes: str = ""
    syringes: list[SyringeSpec] = field(default_factory=list)
    areas: list[AreaSpec] = field(default_factory=list)


# --- starting -------------------------------------------------------------------------


def start_chart(
    appointment: Appointment,
    actor: User,
    *,
    copy_from: Chart | None = None,
    request: HttpRequest | None = None,
) -> Chart:
    """Open the chart of ``appointment`` once screening and consent clear it. Starting again
    returns the chart already there. ``copy_from``, an earlier signed chart of the same
    patient, gives the draft its syringes, areas and points (lots only while still usable)."""
    existing = Chart.objects.filter(appointment=appointment).first()
    if existing is not None:
        return existing
    if appointment.kind not in CHARTED_KINDS:
        raise ValidationError("Only a course or maintenance session is charted.")
    if appointment.plan is None:
        raise ValidationError("The appointment belongs to no course plan.")
    formula_version = appointment.plan.formula_version
    if formula_version is None:
        raise ValidationError("The course plan names no formula yet: choose one first.")
    clinic = appointment.clinic
    if timezone.localdate(appointment.starts_at, clinic.tz) > clinic.today():
        raise ValidationError("A chart starts on the day of the session, not before.")
    if copy_from is not None and (
        copy_from.patient_id != appointment.patient_id or copy_from.signed_at is None
    ):
        raise ValidationError("Only a signed chart of the same patient can be copied.")
    with transaction.atomic():
        screening = require_chart_start(appointment, actor, request=request)
        chart = Chart.objects.create(
            clinic=clinic,
            appointment=appointment,
            patient=appointment.patient,
            plan=appointment.plan,
            practitioner=appointment.practitioner,
            formula_version=formula_version,
            screening=screening,
            session_number=appointment.session_number,
            copied_from=copy_from,
            created_by=actor,
        )
        if copy_from is not None:
            copied = _copyable(copy_from, clinic.today())
            _write_parts(chart, copied, *check_draft(chart, copied))
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=chart,
            patient_id=chart.patient_id,
            appointment_id=appointment.pk,
            copied_from=copy_from.pk if copy_from else None,
        )
    return chart


def _copyable(chart: Chart, today: Any) -> DraftSpec:
    spec = spec_of(chart)
    for syringe in spec.syringes:
        syringe.lots = [
            line
            for line in syringe.lots
            if lot_usable(Lot.objects.select_related("product").get(pk=line.lot_id), today).ok
        ]
    return DraftSpec(syringes=spec.syringes, areas=spec.areas)


# --- the draft ------------------------------------------------------------------------


def spec_of(chart: Chart) -> DraftSpec:
    """The chart's stored content as a ``DraftSpec`` (what ``save_draft`` takes back)."""
    syringes = {
        syringe.pk: SyringeSpec(
            number=syringe.number,
            volume_ml=syringe.volume_ml,
            device=syringe.device,
            needle_gauge=syringe.needle_gauge,
            needle_length_mm=syringe.needle_length_mm,
            injector_id=syringe.injector_id,
        )
        for syringe in chart.syringes.all()
    }
    for line in SyringeLot.objects.filter(chart=chart).order_by("syringe__number", "pk"):
        syringes[line.syringe_id].lots.append(
            LotSpec(lot_id=line.lot_id, volume_ml=line.volume_ml, opens_unit=line.opens_unit)
        )
    numbers = {pk: spec.number for pk, spec in syringes.items()}
    areas = []
    for area in chart.areas.select_related("body_area").prefetch_related("points"):
        areas.append(
            AreaSpec(
                area=area.body_area.code,
                side=area.side,
                syringe=numbers[area.syringe_id],
                technique=area.technique,
                depth_mm=area.depth_mm,
                volume_per_point_ml=area.volume_per_point_ml,
                point_count=area.point_count,
                points=[
                    PointSpec(
                        view=point.view,
                        x=point.x,
                        y=point.y,
                        depth_mm=point.depth_mm,
                        volume_ml=point.volume_ml,
                    )
                    for point in area.points.all()
                ],
            )
        )
    return DraftSpec(
        started_at=chart.started_at,
        ended_at=chart.ended_at,
        anaesthetic_product=chart.anaesthetic_product,
        anaesthetic_minutes=chart.anaesthetic_minutes,
        pain_score=chart.pain_score,
        immediate_reactions=chart.immediate_reactions,
        aftercare_given=chart.aftercare_given,
        notes=chart.notes,
        syringes=list(syringes.values()),
        areas=areas,
    )


def _positive(value: Decimal | None, label: str, limit: Decimal, unit: str) -> list[str]:
    if value is None:
        return [f"{label}: a value is required."]
    if not value.is_finite() or value <= 0:
        return [f"{label} must be above zero {unit} (got {value})."]
    if value > limit:
        return [f"{label} of {value} {unit} is more than {limit} {unit}; check the unit."]
    return []


def _check_details(spec: DraftSpec) -> list[str]:
    errors = []
    for label, moment in (("The start time", spec.started_at), ("The end time", spec.ended_at)):
        if moment is not None and timezone.is_naive(moment):
            errors.append(f"{label} must carry a time zone.")
    if not errors and spec.started_at and spec.ended_at and spec.ended_at <= spec.started_at:
        errors.append("The session must end after it starts.")
    if spec.pain_score is not None and not 0 <= spec.pain_score <= 10:
        errors.append(f"The pain score runs from 0 to 10 (got {spec.pain_score}).")
    if spec.anaesthetic_minutes is not None and not 0 <= spec.anaesthetic_minutes <= 180:
        errors.append(
            f"Minutes of anaesthetic cream run from 0 to 180 (got {spec.anaesthetic_minutes})."
        )
    if spec.anaesthetic_minutes and not spec.anaesthetic_product.strip():
        errors.append("Name the anaesthetic cream, or leave its minutes empty.")
    for text in (
        spec.anaesthetic_product,
        spec.immediate_reactions,
        spec.aftercare_given,
        spec.notes,
    ):
        if "\x00" in text:
            errors.append("Text cannot contain a NUL character.")
            break
    return errors


def _check_syringes(chart: Chart, spec: DraftSpec) -> tuple[list[str], dict[int, Lot]]:
    errors: list[str] = []
    numbers = [syringe.number for syringe in spec.syringes]
    if len(numbers) > MAX_SYRINGES:
        errors.append(f"A chart holds at most {MAX_SYRINGES} syringes.")
    if len(set(numbers)) != len(numbers):
        errors.append("Each syringe needs its own number.")
    wanted = {line.lot_id for syringe in spec.syringes for line in syringe.lots}
    lots = {
        lot.pk: lot
        for lot in Lot.objects.select_related("product").filter(
            pk__in=wanted, product__clinic=chart.clinic_id
        )
    }
    session_day = timezone.localdate(chart.appointment.starts_at, chart.clinic.tz)
    for syringe in spec.syringes:
        name = f"Syringe {syringe.number}"
        if syringe.number < 1 or syringe.number > 99:
            errors.append(f"{name}: syringes are numbered 1 to 99.")
        errors += _positive(syringe.volume_ml, f"{name}'s volume", MAX_SYRINGE_ML, "mL")
        if syringe.device not in Device.values:
            errors.append(f"{name}: unknown device “{syringe.device}”.")
        elif syringe.device == Device.INJECTOR and not syringe.injector_id.strip():
            errors.append(f"{name}: give the injector gun's identifier (outbreaks trace it).")
        if syringe.needle_gauge is not None and not 18 <= syringe.needle_gauge <= 34:
            errors.append(f"{name}: a needle gauge runs from 18 to 34 G.")
        if syringe.needle_length_mm is not None:
            errors += _positive(
                syringe.needle_length_mm, f"{name}'s needle length", Decimal("40"), "mm"
            )
        for line in syringe.lots:
            lot = lots.get(line.lot_id)
            if lot is None:
                errors.append(f"{name}: no lot {line.lot_id} in this clinic's stock.")
                continue
            check = lot_usable(lot, session_day)
            if not check.ok:
                errors.append(f"{name}: {check.reason}")
            errors += _positive(
                line.volume_ml, f"{name}: the volume of lot {lot.lot_number}", MAX_SYRINGE_ML, "mL"
            )
            if line.opens_unit and not lot.product.multi_dose:
                errors.append(
                    f"{name}: lot {lot.lot_number} is single-dose; each use opens its own unit."
                )
    return errors, lots


def _check_areas(spec: DraftSpec) -> tuple[list[str], dict[str, BodyArea]]:
    errors: list[str] = []
    areas = {
        area.code: area
        for area in BodyArea.objects.filter(code__in={a.area for a in spec.areas}, retired=False)
    }
    syringes = {syringe.number for syringe in spec.syringes}
    if len(spec.areas) > MAX_AREAS:
        errors.append(f"A chart holds at most {MAX_AREAS} area lines.")
    if sum(len(area.points) for area in spec.areas) > MAX_POINTS:
        errors.append(f"A chart holds at most {MAX_POINTS} points placed on the map.")
    for index, area_spec in enumerate(spec.areas, start=1):
        area = areas.get(area_spec.area)
        name = f"Area {index}"
        if area is None:
            errors.append(f"{name}: no body area “{area_spec.area}” in the catalogue.")
            continue
        name = f"{area.label}"
        if area_spec.side not in Side.values:
            errors.append(f"{name}: unknown side “{area_spec.side}”.")
        elif area.paired and not area_spec.side:
            errors.append(f"{name}: say which side (left, right or both).")
        elif not area.paired and area_spec.side:
            errors.append(f"{name} has no sides.")
        if area_spec.syringe not in syringes:
            errors.append(f"{name}: there is no syringe {area_spec.syringe}.")
        if area_spec.technique not in Technique.values:
            errors.append(f"{name}: unknown technique “{area_spec.technique}”.")
        errors += _positive(area_spec.depth_mm, f"{name}: the depth", MAX_DEPTH_MM, "mm")
        errors += _positive(
            area_spec.volume_per_point_ml, f"{name}: the volume per point", Decimal("2"), "mL"
        )
        if not 1 <= area_spec.point_count <= MAX_POINTS:
            errors.append(f"{name}: the number of points runs from 1 to {MAX_POINTS}.")
        elif area_spec.point_count < len(area_spec.points):
            errors.append(
                f"{name}: {len(area_spec.points)} points are placed on the map but only "
                f"{area_spec.point_count} counted."
            )
        for point in area_spec.points:
            errors += _check_point(name, area_spec, point)
    return errors, areas


def _check_point(name: str, area_spec: AreaSpec, point: PointSpec) -> list[str]:
    try:
        region = bodymap.check_point(point.view, float(point.x), float(point.y))
    except ValueError as error:
        return [f"{name}: {error}"]
    covers = region.area == area_spec.area or _is_within(region.area, area_spec.area)
    if not covers or (area_spec.side not in ("", Side.BOTH) and region.side != area_spec.side):
        where = f"{region.area.replace('-', ' ')}" + (f" ({region.side})" if region.side else "")
        return [f"{name}: a point placed on the {where} does not belong to this area."]
    errors = []
    if point.depth_mm is not None:
        errors += _positive(point.depth_mm, f"{name}: a point's depth", MAX_DEPTH_MM, "mm")
    if point.volume_ml is not None:
        errors += _positive(point.volume_ml, f"{name}: a point's volume", Decimal("2"), "mL")
    return errors


def _is_within(sub_area: str, area: str) -> bool:
    """A point on the cheek counts for a chart line of the whole face."""
    return BodyArea.objects.filter(code=sub_area, parent__code=area).exists()


def check_draft(chart: Chart, spec: DraftSpec) -> tuple[dict[int, Lot], dict[str, BodyArea]]:
    errors = _check_details(spec)
    syringe_errors, lots = _check_syringes(chart, spec)
    area_errors, areas = _check_areas(spec)
    errors += syringe_errors + area_errors
    if errors:
        raise ValidationError(errors)
    return lots, areas


def save_draft(
    chart: Chart, spec: DraftSpec, actor: User, *, request: HttpRequest | None = None
) -> Chart:
    """Replace the draft's content with ``spec`` (autosave: every change lands here)."""
    if chart.signed_at is not None:
        raise ValidationError("This chart is signed: correct it with an amendment.")
    with transaction.atomic():
        chart = Chart.objects.select_for_update().get(pk=chart.pk)
        if chart.signed_at is not None:
            raise ValidationError("This chart is signed: correct it with an amendment.")
        checked = check_draft(chart, spec)
        for name in (
            "started_at",
            "ended_at",
            "anaesthetic_product",
            "anaesthetic_minutes",
            "pain_score",
            "immediate_reactions",
            "aftercare_given",
            "notes",
        ):
            value = getattr(spec, name)
            setattr(chart, name, value.strip() if isinstance(value, str) else value)
        chart.save()
        _write_parts(chart, spec, *checked)
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=chart,
            patient_id=chart.patient_id,
            draft=True,
        )
    return chart


def _write_parts(
    chart: Chart, spec: DraftSpec, lots: dict[int, Lot], areas: dict[str, BodyArea]
) -> None:
    """Replace the draft's rows; ``lots`` and ``areas`` are what ``check_draft`` found."""
    InjectionPoint.objects.filter(chart=chart).delete()
    AreaTreatment.objects.filter(chart=chart).delete()
    SyringeLot.objects.filter(chart=chart).delete()
    Syringe.objects.filter(chart=chart).delete()
    syringes = {}
    for syringe_spec in sorted(spec.syringes, key=lambda s: s.number):
        syringe = Syringe.objects.create(
            chart=chart,
            number=syringe_spec.number,
            device=syringe_spec.device,
            volume_ml=syringe_spec.volume_ml,
            needle_gauge=syringe_spec.needle_gauge,
            needle_length_mm=syringe_spec.needle_length_mm,
            injector_id=syringe_spec.injector_id.strip(),
        )
        syringes[syringe.number] = syringe
        for line in syringe_spec.lots:
            SyringeLot.objects.create(
                chart=chart,
                syringe=syringe,
                lot=lots[line.lot_id],
                volume_ml=line.volume_ml,
                opens_unit=line.opens_unit,
            )
    number = 0
    for position, area_spec in enumerate(spec.areas, start=1):
        area = AreaTreatment.objects.create(
            chart=chart,
            position=position,
            body_area=areas[area_spec.area],
            side=area_spec.side,
            syringe=syringes[area_spec.syringe],
            technique=area_spec.technique,
            depth_mm=area_spec.depth_mm,
            volume_per_point_ml=area_spec.volume_per_point_ml,
            point_count=area_spec.point_count,
        )
        for point in area_spec.points:
            number += 1
            InjectionPoint.objects.create(
                chart=chart,
                area=area,
                number=number,
                view=point.view,
                x=Decimal(point.x).quantize(Decimal("0.1")),
                y=Decimal(point.y).quantize(Decimal("0.1")),
                depth_mm=point.depth_mm,
                volume_ml=point.volume_ml,
            )


# --- totals and what stops signing ----------------------------------------------------


@dataclass(frozen=True)
class SyringeTotals:
    number: int
    drawn_ml: Decimal
    lots_ml: Decimal
    areas_ml: Decimal

    @property
    def balanced(self) -> bool:
        return self.drawn_ml == self.lots_ml == self.areas_ml


def area_volume(area: AreaSpec) -> Decimal:
    """Placed points at their own volume (or the area's), the rest at the area's."""
    placed = sum((point.volume_ml or area.volume_per_point_ml for point in area.points), Decimal(0))
    unplaced = max(area.point_count - len(area.points), 0)
    return (placed + unplaced * area.volume_per_point_ml).quantize(CENT)


def totals(spec: DraftSpec) -> list[SyringeTotals]:
    by_syringe: dict[int, Decimal] = defaultdict(Decimal)
    for area in spec.areas:
        by_syringe[area.syringe] += area_volume(area)
    return [
        SyringeTotals(
            number=syringe.number,
            drawn_ml=syringe.volume_ml.quantize(CENT),
            lots_ml=sum((line.volume_ml for line in syringe.lots), Decimal(0)).quantize(CENT),
            areas_ml=by_syringe[syringe.number].quantize(CENT),
        )
        for syringe in sorted(spec.syringes, key=lambda s: s.number)
    ]


def problems(spec: DraftSpec, *, now: datetime | None = None) -> list[str]:
    """What stops the draft being signed, in words; empty when it may be signed."""
    found = []
    if spec.started_at is None or spec.ended_at is None:
        found.append("Record when the session started and ended.")
    elif spec.ended_at > (now or timezone.now()) + timedelta(minutes=5):
        found.append("The session cannot end in the future.")
    if not spec.syringes:
        found.append("Add the syringe (or injector) used and the lots drawn into it.")
    if not spec.areas:
        found.append("Chart at least one treated area on the map.")
    used = {area.syringe for area in spec.areas}
    for syringe in spec.syringes:
        if not syringe.lots:
            found.append(f"Syringe {syringe.number}: record the lots drawn into it.")
        if syringe.number not in used:
            found.append(f"Syringe {syringe.number}: no area was treated from it.")
    for line in totals(spec):
        if line.lots_ml != line.drawn_ml:
            found.append(
                f"Syringe {line.number}: its lots add up to {line.lots_ml} mL, "
                f"not the {line.drawn_ml} mL drawn."
            )
        if line.areas_ml != line.drawn_ml and line.number in used:
            found.append(
                f"Syringe {line.number}: the areas add up to {line.areas_ml} mL, "
                f"not the {line.drawn_ml} mL drawn."
            )
    return found


# --- signing --------------------------------------------------------------------------


def document(chart: Chart) -> dict[str, Any]:
    """The chart's content as signed: what the hash covers and the API shows."""
    spec = spec_of(chart)

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return str(value)
        if isinstance(value, datetime):
            return value.isoformat()
        return value

    def of(item: Any) -> dict[str, Any]:
        return {
            key: [of(child) for child in value] if isinstance(value, list) else plain(value)
            for key, value in vars(item).items()
        }

    return {
        "chart": chart.pk,
        "patient": chart.patient_id,
        "appointment": chart.appointment_id,
        "practitioner": chart.practitioner_id,
        "formula_version": chart.formula_version_id,
        **of(spec),
        # The photos are part of what was signed: each by its content's hash.
        "photos": [
            {"sha256": sha256, "moment": moment, "area": area, "view": view}
            for sha256, moment, area, view in chart.photos.order_by("pk").values_list(
                "sha256", "moment", "body_area__code", "view"
            )
        ],
    }


def content_hash(chart: Chart) -> str:
    text = json.dumps(document(chart), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def sign(chart: Chart, actor: User, password: str, *, request: HttpRequest | None = None) -> Chart:
    """Sign as the practitioner who injected, after re-entering the password. Takes the lots
    from stock, advances the course, times the follow-up. Signing a chart that is already
    signed returns it unchanged: a retried request takes nothing from stock twice."""
    # Checked first, and outside the lock: a wrong password changes nothing.
    if request is None:
        confirmed = actor.check_password(password or "")
    else:
        # Through authentication, so that django-axes counts the failures and locks the
        # account after too many, as at sign-in: a stolen session cannot guess on.
        who = authenticate(request, username=actor.username, password=password or "")
        if getattr(request, "axes_locked_out", False):
            raise ValidationError(
                "Too many wrong passwords: the account is locked for a while; ask the "
                "clinic's administrator if it is urgent."
            )
        confirmed = who is not None and who.pk == actor.pk
    if not confirmed:
        raise ValidationError("That password is not right; enter yours to sign.")
    return sign_as(chart, actor, request=request)


def sign_as(chart: Chart, actor: User, *, request: HttpRequest | None = None) -> Chart:
    """``sign`` for an ``actor`` whose identity the caller has established otherwise (the
    demo's generator); pages and the API call ``sign``, which asks for the password."""
    with transaction.atomic():
        chart = (
            Chart.objects.select_for_update(of=("self",))
            .select_related("clinic", "appointment__clinic", "appointment__plan", "patient")
            .get(pk=chart.pk)
        )
        if chart.signed_at is not None:
            return chart
        if actor.pk != chart.practitioner_id:
            raise ValidationError(
                f"Only {chart.practitioner}, who gave the treatment, can sign this chart."
            )
        spec = spec_of(chart)
        found = problems(spec)
        session_day = timezone.localdate(chart.appointment.starts_at, chart.clinic.tz)
        licence = licence_check(actor, session_day)
        if not licence.ok:
            found.append(licence.reason)
        if chart.appointment.starts_at > timezone.now():
            found.append("The appointment has not started yet; move it to now first.")
        if chart.appointment.status not in (AppointmentStatus.BOOKED, AppointmentStatus.ATTENDED):
            found.append(f"The appointment is {chart.appointment.get_status_display().lower()}.")
        if found:
            raise ValidationError(found)
        assert chart.started_at is not None and chart.ended_at is not None
        for line in SyringeLot.objects.filter(chart=chart).select_related("syringe", "lot"):
            line.lot_use = record_lot_use(
                line.lot,
                chart.patient,
                line.volume_ml,
                chart.started_at,
                actor,
                units=1 if line.opens_unit else None,
                formula_version=chart.formula_version,
                reference=f"Chart {chart.pk}, syringe {line.syringe.number}",
                request=request,
            )
            line.save(update_fields=["lot_use"])
        chart.signed_at = timezone.now()
        chart.signed_by = actor
        chart.content_sha256 = content_hash(chart)
        chart.save(update_fields=["signed_at", "signed_by", "content_sha256"])
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=chart,
            patient_id=chart.patient_id,
            signed=True,
            content_sha256=chart.content_sha256,
        )
        _advance_course(chart, actor, request)
    return chart


def _advance_course(chart: Chart, actor: User, request: HttpRequest | None) -> None:
    appointment = chart.appointment
    if appointment.status == AppointmentStatus.BOOKED:
        record_attended(appointment, actor, request=request)
    assert chart.ended_at is not None
    schedule_follow_up(appointment, chart.ended_at)
    plan = chart.plan
    if (
        plan is not None
        and appointment.kind == AppointmentKind.SESSION
        and signed_sessions(plan) >= plan.sessions_planned
        and not plan.appointments.filter(status=AppointmentStatus.BOOKED).exists()
    ):
        plan.refresh_from_db()
        complete_plan(plan, actor, request=request)


def signed_sessions(plan: CoursePlan) -> int:
    return Chart.objects.filter(
        plan=plan, signed_at__isnull=False, appointment__kind=AppointmentKind.SESSION
    ).count()


@dataclass(frozen=True)
class Progress:
    signed: int
    planned: int

    def __str__(self) -> str:
        return f"{self.signed} of {self.planned} sessions charted"


def progress(plan: CoursePlan) -> Progress:
    return Progress(signed_sessions(plan), plan.sessions_planned)


# --- amendments -----------------------------------------------------------------------

_INTEGER_FIELDS: dict[str, int] = {
    AmendableField.PAIN_SCORE: 10,
    AmendableField.ANAESTHETIC_MINUTES: 180,
}
_TIME_FIELDS = {AmendableField.STARTED_AT, AmendableField.ENDED_AT}


def _shown(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _parse(field_name: str, value: str, chart: Chart) -> Any:
    text = value.strip()
    if "\x00" in text:
        raise ValidationError("Text cannot contain a NUL character.")
    if field_name in _INTEGER_FIELDS:
        if text == "":
            return None
        try:
            number = int(text)
        except ValueError:
            raise ValidationError(f"“{text}” is not a whole number.") from None
        if not 0 <= number <= _INTEGER_FIELDS[field_name]:
            raise ValidationError(f"The value runs from 0 to {_INTEGER_FIELDS[field_name]}.")
        return number
    if field_name in _TIME_FIELDS:
        try:
            moment = parse_datetime(text)
        except ValueError:  # well formed but impossible, such as 30 February
            moment = None
        if moment is None:
            raise ValidationError(f"“{text}” is not a date and time.")
        if timezone.is_naive(moment):
            moment = timezone.make_aware(moment, chart.clinic.tz)
        return moment
    return text


def effective(chart: Chart) -> dict[str, Any]:
    """The chart's amendable values as now corrected: each field's latest amendment, else
    what was signed."""
    values = {name: getattr(chart, name) for name in AmendableField.values}
    for amendment in chart.amendments.order_by("created_at", "pk"):
        values[amendment.field] = _parse(amendment.field, amendment.value, chart)
    return values


def amend(
    chart: Chart,
    field_name: str,
    value: str,
    reason: str,
    actor: User,
    *,
    request: HttpRequest | None = None,
) -> ChartAmendment:
    if chart.signed_at is None:
        raise ValidationError("A draft is changed directly; amendments are for signed charts.")
    if field_name not in AmendableField.values:
        raise ValidationError(f"“{field_name}” cannot be amended.")
    if not reason.strip():
        raise ValidationError("Give the reason for the amendment.")
    if "\x00" in reason:
        raise ValidationError("Text cannot contain a NUL character.")
    new = _parse(field_name, value, chart)
    with transaction.atomic():
        # One amendment at a time, so that each one's "original" is the value it replaced.
        Chart.objects.select_for_update().get(pk=chart.pk)
        current = effective(chart)
        if new == current[field_name]:
            raise ValidationError("That is the value the chart already holds.")
        values = {**current, field_name: new}
        start, end = values[AmendableField.STARTED_AT], values[AmendableField.ENDED_AT]
        if end <= start:
            raise ValidationError("The session must end after it starts.")
        if (
            values[AmendableField.ANAESTHETIC_MINUTES]
            and not values[AmendableField.ANAESTHETIC_PRODUCT]
        ):
            raise ValidationError("Name the anaesthetic cream, or clear its minutes.")
        amendment = ChartAmendment.objects.create(
            chart=chart,
            field=field_name,
            original=_shown(current[field_name]),
            value=_shown(new),
            reason=reason.strip(),
            author=actor,
        )
        audit.record(
            AuditAction.CREATE,
            request=request,
            actor=actor,
            obj=amendment,
            clinic_id=chart.clinic_id,
            patient_id=chart.patient_id,
            field=field_name,
        )
    return amendment


@dataclass(frozen=True)
class Experience:
    indication: str
    sessions: int
    patients: int
    last: datetime


def experience(practitioner: User) -> list[Experience]:
    """A practitioner's experience: the sessions they signed, per indication, most first."""
    rows = (
        Chart.objects.filter(practitioner=practitioner, signed_at__isnull=False)
        .values("plan__indication__label")
        .annotate(
            sessions=Count("pk"),
            patients=Count("patient", distinct=True),
            last=Max("appointment__starts_at"),
        )
        .order_by("-sessions", "plan__indication__label")
    )
    return [
        Experience(
            row["plan__indication__label"] or "No course",
            row["sessions"],
            row["patients"],
            row["last"],
        )
        for row in rows
    ]
