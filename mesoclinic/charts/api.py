"""Treatment charts over the API, at /api/v1/charts/.

Reading charts needs ``chart.view``; starting a chart and saving its draft ``chart.edit``
(assistants help record); signing ``chart.sign`` and amending ``chart.amend``, which only
practitioners hold: a chart is signed by the practitioner who injected, with their password.
Every chart is fetched through the tenancy helpers: another clinic's chart is 404 in the path
or in a filter, and another clinic's appointment, chart or lot is 422 in a body.

A draft is saved whole (``PUT /charts/{id}/draft``, the body mirrors the chart as read), and
may be unfinished: ``problems`` lists what stops it being signed. Input that cannot be right
(an unknown area, a lot not usable that day, a point off the map or off its area) is 422 with
the sentences that say why, and changes nothing. A signed chart never changes: a draft sent
for it is 409, and it is corrected by an amendment, which keeps the original value beside
the new one (``effective`` holds the values as corrected).

Signing takes the lots from stock once: a retried signature answers 200 with the chart as
signed and takes nothing twice.

Times are ISO 8601 with their offset and are returned in the clinic's time zone; a time sent
without an offset is refused (422). Exact decimals (volumes in mL, depths in mm, map
coordinates) are returned as JSON strings without trailing zeros ("2.5"); send them as
strings or JSON numbers, with no more decimal places than are kept (volumes of a syringe or
a lot 2, volumes per point 3, depths, needle lengths and coordinates 1): more is refused,
not rounded.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from ninja import Field, Router, Schema
from ninja.errors import HttpError
from ninja.responses import Status
from pydantic import PlainSerializer

from mesoclinic.catalogue.models import BodyMapView
from mesoclinic.charts import services
from mesoclinic.charts.models import (
    AmendableField,
    Chart,
    ChartAmendment,
    Device,
    Side,
    SyringeLot,
    Technique,
)
from mesoclinic.clinics import audit
from mesoclinic.clinics.api_errors import NOT_FOUND_IN_FILTER, invalid
from mesoclinic.clinics.models import AuditAction
from mesoclinic.clinics.permissions import Perm, api_requires, signed_in_user
from mesoclinic.clinics.tenancy import get_scoped_or_404, scoped
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.patients.models import Patient
from mesoclinic.patients.services import record_list_view

router = Router(tags=["charts"])

# PostgreSQL text cannot hold NUL; refused with the other input rules, not as a 500.
NO_NUL = r"^[^\x00]*$"
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
# The largest primary key (a 64-bit integer): the lots of a draft are looked up together, and
# SQLite cannot take a larger integer into such a query at all.
MAX_ID = 2**63 - 1
SIGNED = "This chart is signed: correct it with an amendment."
DRAFT = "A draft is changed directly; amendments are for signed charts."
SIGNED_CONFLICT = {
    "409": {"description": "The chart is signed: it never changes; correct it by an amendment."}
}
DRAFT_CONFLICT = {"409": {"description": "The chart is a draft: change it by saving the draft."}}
OFFSET_TIME = "With its UTC offset, such as 2026-03-16T10:00:00+01:00."
_DECIMAL_IN = ' An exact decimal, as a string ("2.5") or a JSON number.'


def _decimal_text(value: Decimal) -> str:
    return f"{value.normalize():f}"


# Sent as a string so that no client reads a dose through a binary float.
DecimalOut = Annotated[Decimal, PlainSerializer(_decimal_text, return_type=str)]
# The precision of the columns they are stored in, so that a value is refused, not rounded.
SyringeMl = Annotated[Decimal, Field(max_digits=7, decimal_places=2)]
PointMl = Annotated[Decimal, Field(max_digits=6, decimal_places=3)]
Millimetres = Annotated[Decimal, Field(max_digits=4, decimal_places=1)]
Coordinate = Annotated[Decimal, Field(max_digits=5, decimal_places=1)]
Text = Annotated[str, Field(max_length=10_000, pattern=NO_NUL)]


# --- schemas: the draft, as sent and as read ---------------------------------------------


class SyringeLotIn(Schema):
    lot_id: int = Field(
        ge=1, le=MAX_ID, description="A lot of the clinic's stock, usable on the session's day."
    )
    volume_ml: SyringeMl = Field(description="What was drawn from it." + _DECIMAL_IN)
    opens_unit: bool = Field(
        False, description="A new vial of a multi-dose product was opened for this."
    )


class SyringeIn(Schema):
    number: int = Field(ge=1, le=99, description="Numbered within the chart.")
    volume_ml: SyringeMl = Field(description="What was drawn into it and injected." + _DECIMAL_IN)
    device: Device = Device.SYRINGE
    needle_gauge: int | None = Field(None, ge=18, le=34)
    needle_length_mm: Millimetres | None = Field(None, description=_DECIMAL_IN.strip())
    injector_id: str = Field(
        "",
        max_length=100,
        pattern=NO_NUL,
        description="The injector gun's serial or asset number (required for an injector).",
    )
    lots: list[SyringeLotIn] = Field([], max_length=20)


class PointIn(Schema):
    view: BodyMapView
    x: Coordinate = Field(description="On the view's map." + _DECIMAL_IN)
    y: Coordinate = Field(description="On the view's map." + _DECIMAL_IN)
    depth_mm: Millimetres | None = Field(None, description="The area's when empty." + _DECIMAL_IN)
    volume_ml: PointMl | None = Field(None, description="The area's when empty." + _DECIMAL_IN)


class AreaIn(Schema):
    area: str = Field(max_length=64, pattern=NO_NUL, description="A catalogue body area code.")
    side: Side = Field(Side.NONE, description="Required for a paired area; empty otherwise.")
    syringe: int = Field(description="The number of the syringe it was treated from.")
    technique: Technique
    depth_mm: Millimetres = Field(description=_DECIMAL_IN.strip())
    volume_per_point_ml: PointMl = Field(description=_DECIMAL_IN.strip())
    point_count: int = Field(
        ge=1,
        le=services.MAX_POINTS,
        description="Injection points in all, including any not placed on the map.",
    )
    points: list[PointIn] = Field(
        [], max_length=services.MAX_POINTS, description="The points placed on the map."
    )


class DraftIn(Schema):
    """The whole draft: what is left out is emptied."""

    started_at: datetime | None = Field(None, description=OFFSET_TIME)
    ended_at: datetime | None = Field(None, description=OFFSET_TIME)
    anaesthetic_product: str = Field(
        "", max_length=200, pattern=NO_NUL, description="Empty when no cream was applied."
    )
    anaesthetic_minutes: int | None = Field(None, ge=0, le=180)
    pain_score: int | None = Field(None, ge=0, le=10)
    immediate_reactions: Text = ""
    aftercare_given: Text = ""
    notes: Text = ""
    syringes: list[SyringeIn] = Field([], max_length=99)
    areas: list[AreaIn] = Field([], max_length=100)


class LotLineOut(Schema):
    lot_id: int
    lot_number: str
    product_id: int
    product_name: str
    volume_ml: DecimalOut = Field(description="An exact decimal string.")
    opens_unit: bool
    lot_use_id: int | None = Field(description="The stock record made when the chart was signed.")


class SyringeOut(Schema):
    number: int
    volume_ml: DecimalOut = Field(description="An exact decimal string.")
    device: Device
    needle_gauge: int | None
    needle_length_mm: DecimalOut | None
    injector_id: str
    lots: list[LotLineOut]


class PointOut(Schema):
    number: int = Field(description="Numbered within the chart, 1, 2, ...")
    view: BodyMapView
    x: DecimalOut
    y: DecimalOut
    depth_mm: DecimalOut | None
    volume_ml: DecimalOut | None


class AreaOut(Schema):
    position: int
    area: str = Field(description="The catalogue body area code.")
    area_label: str
    side: Side
    syringe: int = Field(description="The number of the syringe it was treated from.")
    technique: Technique
    depth_mm: DecimalOut
    volume_per_point_ml: DecimalOut
    point_count: int
    volume_ml: DecimalOut = Field(
        description="Injected into the area: placed points at their own volume, the rest at "
        "the area's volume per point."
    )
    points: list[PointOut]


class TotalsOut(Schema):
    syringe: int
    drawn_ml: DecimalOut = Field(description="The syringe's volume.")
    lots_ml: DecimalOut = Field(description="The lots drawn into it, added up.")
    areas_ml: DecimalOut = Field(description="The areas treated from it, added up.")
    balanced: bool = Field(description="All three agree, to the hundredth of a millilitre.")


class AmendmentOut(Schema):
    id: int
    field: AmendableField
    original: str = Field(description="The value it replaced (ISO 8601 for a time).")
    value: str = Field(description="The corrected value; empty when cleared.")
    reason: str
    author_id: int
    author_name: str
    created_at: datetime


class EffectiveOut(Schema):
    """The amendable values as corrected: each field's latest amendment, else as signed."""

    started_at: datetime | None
    ended_at: datetime | None
    anaesthetic_product: str
    anaesthetic_minutes: int | None
    pain_score: int | None
    immediate_reactions: str
    aftercare_given: str
    notes: str


class ChartOut(Schema):
    id: int
    status: Literal["draft", "signed"]
    patient_id: int
    patient_name: str
    plan_id: int | None
    appointment_id: int
    appointment_starts_at: datetime
    practitioner_id: int
    practitioner_name: str
    session_number: int | None = Field(description="Which session of the course it charts...")
    sessions_planned: int | None = Field(description="... of how many the course plans.")
    started_at: datetime | None
    ended_at: datetime | None
    created_at: datetime
    signed_at: datetime | None
    signed_by_id: int | None


class ChartDetailOut(ChartOut):
    """The chart as stored. Its draft fields (the times, the anaesthetic, the pain score, the
    texts, ``syringes`` and ``areas``) are those ``PUT /charts/{id}/draft`` takes; the other
    fields of their items are ignored when sent back."""

    formula_version_id: int
    screening_id: int = Field(description="The screening that cleared the chart to start.")
    copied_from_id: int | None = Field(description="The earlier chart it started as a copy of.")
    created_by_id: int
    anaesthetic_product: str
    anaesthetic_minutes: int | None
    pain_score: int | None
    immediate_reactions: str
    aftercare_given: str
    notes: str
    syringes: list[SyringeOut]
    areas: list[AreaOut]
    totals: list[TotalsOut] = Field(description="Per syringe: drawn, lots and areas.")
    problems: list[str] = Field(
        description="What stops the draft being signed, in words; empty once signed."
    )
    content_sha256: str | None = Field(
        description="Of a signed chart: the SHA-256 of content, as JSON with sorted keys and "
        'no spaces (separators "," and ":"), taken when it was signed.'
    )
    content: dict[str, Any] = Field(
        description="The chart's content as its signature covers it (for a draft, as it "
        "would be signed now)."
    )
    amendments: list[AmendmentOut] = Field(description="Oldest first.")
    effective: EffectiveOut


class StartIn(Schema):
    appointment_id: int = Field(description="A course or maintenance session of the clinic.")
    copy_from_id: int | None = Field(
        None,
        description="An earlier signed chart of the same patient: the draft starts with its "
        "syringes, areas and points, and its lots while still usable.",
    )


class SignIn(Schema):
    password: str = Field(
        min_length=1, max_length=1024, description="The signing practitioner's own password."
    )


class AmendmentIn(Schema):
    field: AmendableField
    value: Text = Field(
        description="started_at, ended_at: an ISO 8601 time with its offset. pain_score "
        "(0-10), anaesthetic_minutes (0-180): a whole number, or empty to clear. The others: "
        "the text."
    )
    reason: str = Field(min_length=1, max_length=2000, pattern=NO_NUL)


# --- helpers ------------------------------------------------------------------------------


def _charts(request: HttpRequest) -> QuerySet[Chart]:
    return scoped(request, Chart).select_related(
        "clinic", "patient", "plan", "appointment", "practitioner"
    )


def _chart(request: HttpRequest, chart_id: int) -> Chart:
    return get_scoped_or_404(request, Chart, pk=chart_id)


def _fresh(chart_id: int) -> Chart:
    """The chart as now stored (a service may have worked on another instance)."""
    return Chart.objects.select_related(
        "clinic", "patient", "plan", "appointment", "practitioner"
    ).get(pk=chart_id)


def _lookup_or_422(request: HttpRequest, model: type[Any], pk: int, what: str) -> Any:
    found = scoped(request, model).filter(pk=pk).first()
    if found is None:
        raise HttpError(422, f"No {what} of this clinic has the id {pk}.")
    return found


def _instant(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if timezone.is_naive(value):
        raise HttpError(422, f"{name} has no UTC offset, so it names no instant: send it with one.")
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise HttpError(422, f"{name} must fall between {EARLIEST_YEAR} and {LATEST_YEAR}.")
    return value


def _spec(payload: DraftIn) -> services.DraftSpec:
    placed = sum(len(area.points) for area in payload.areas)
    if placed > services.MAX_POINTS:
        raise HttpError(
            422, f"{placed} points are placed on the map; a chart holds {services.MAX_POINTS}."
        )
    return services.DraftSpec(
        started_at=_instant(payload.started_at, "started_at"),
        ended_at=_instant(payload.ended_at, "ended_at"),
        anaesthetic_product=payload.anaesthetic_product,
        anaesthetic_minutes=payload.anaesthetic_minutes,
        pain_score=payload.pain_score,
        immediate_reactions=payload.immediate_reactions,
        aftercare_given=payload.aftercare_given,
        notes=payload.notes,
        syringes=[
            services.SyringeSpec(
                number=syringe.number,
                volume_ml=syringe.volume_ml,
                device=syringe.device,
                needle_gauge=syringe.needle_gauge,
                needle_length_mm=syringe.needle_length_mm,
                injector_id=syringe.injector_id,
                lots=[
                    services.LotSpec(
                        lot_id=line.lot_id, volume_ml=line.volume_ml, opens_unit=line.opens_unit
                    )
                    for line in syringe.lots
                ],
            )
            for syringe in payload.syringes
        ],
        areas=[
            services.AreaSpec(
                area=area.area,
                side=area.side,
                syringe=area.syringe,
                technique=area.technique,
                depth_mm=area.depth_mm,
                volume_per_point_ml=area.volume_per_point_ml,
                point_count=area.point_count,
                points=[
                    services.PointSpec(
                        view=point.view,
                        x=point.x,
                        y=point.y,
                        depth_mm=point.depth_mm,
                        volume_ml=point.volume_ml,
                    )
                    for point in area.points
                ],
            )
            for area in payload.areas
        ],
    )


def _local(chart: Chart, value: datetime | None) -> datetime | None:
    return None if value is None else timezone.localtime(value, chart.clinic.tz)


def _summary(chart: Chart) -> dict[str, Any]:
    return {
        "id": chart.pk,
        "status": "signed" if chart.is_signed else "draft",
        "patient_id": chart.patient_id,
        "patient_name": str(chart.patient),
        "plan_id": chart.plan_id,
        "appointment_id": chart.appointment_id,
        "appointment_starts_at": _local(chart, chart.appointment.starts_at),
        "practitioner_id": chart.practitioner_id,
        "practitioner_name": str(chart.practitioner),
        "session_number": chart.session_number,
        "sessions_planned": chart.plan.sessions_planned if chart.plan is not None else None,
        "started_at": _local(chart, chart.started_at),
        "ended_at": _local(chart, chart.ended_at),
        "created_at": _local(chart, chart.created_at),
        "signed_at": _local(chart, chart.signed_at),
        "signed_by_id": chart.signed_by_id,
    }


def _amendment_out(chart: Chart, amendment: ChartAmendment) -> AmendmentOut:
    return AmendmentOut(
        id=amendment.pk,
        field=AmendableField(amendment.field),
        original=amendment.original,
        value=amendment.value,
        reason=amendment.reason,
        author_id=amendment.author_id,
        author_name=str(amendment.author),
        created_at=timezone.localtime(amendment.created_at, chart.clinic.tz),
    )


def _amendments(chart: Chart) -> list[AmendmentOut]:
    return [
        _amendment_out(chart, amendment)
        for amendment in chart.amendments.select_related("author").order_by("created_at", "pk")
    ]


def _detail(chart: Chart) -> ChartDetailOut:
    spec = services.spec_of(chart)
    lines: dict[int, list[LotLineOut]] = {}
    for line in (
        SyringeLot.objects.filter(chart=chart)
        .select_related("lot__product")
        .order_by("syringe__number", "pk")
    ):
        lines.setdefault(line.syringe_id, []).append(
            LotLineOut(
                lot_id=line.lot_id,
                lot_number=line.lot.lot_number,
                product_id=line.lot.product_id,
                product_name=line.lot.product.name,
                volume_ml=line.volume_ml,
                opens_unit=line.opens_unit,
                lot_use_id=line.lot_use_id,
            )
        )
    syringes = [
        SyringeOut(
            number=syringe.number,
            volume_ml=syringe.volume_ml,
            device=Device(syringe.device),
            needle_gauge=syringe.needle_gauge,
            needle_length_mm=syringe.needle_length_mm,
            injector_id=syringe.injector_id,
            lots=lines.get(syringe.pk, []),
        )
        for syringe in chart.syringes.order_by("number")
    ]
    rows = chart.areas.select_related("body_area", "syringe").prefetch_related("points")
    areas = [
        AreaOut(
            position=row.position,
            area=row.body_area.code,
            area_label=row.body_area.label,
            side=Side(row.side),
            syringe=row.syringe.number,
            technique=Technique(row.technique),
            depth_mm=row.depth_mm,
            volume_per_point_ml=row.volume_per_point_ml,
            point_count=row.point_count,
            volume_ml=services.area_volume(area_spec),
            points=[
                PointOut(
                    number=point.number,
                    view=BodyMapView(point.view),
                    x=point.x,
                    y=point.y,
                    depth_mm=point.depth_mm,
                    volume_ml=point.volume_ml,
                )
                for point in row.points.all()
            ],
        )
        for row, area_spec in zip(rows.order_by("position"), spec.areas, strict=True)
    ]
    effective = services.effective(chart)
    return ChartDetailOut(
        **_summary(chart),
        formula_version_id=chart.formula_version_id,
        screening_id=chart.screening_id,
        copied_from_id=chart.copied_from_id,
        created_by_id=chart.created_by_id,
        anaesthetic_product=chart.anaesthetic_product,
        anaesthetic_minutes=chart.anaesthetic_minutes,
        pain_score=chart.pain_score,
        immediate_reactions=chart.immediate_reactions,
        aftercare_given=chart.aftercare_given,
        notes=chart.notes,
        syringes=syringes,
        areas=areas,
        totals=[
            TotalsOut(
                syringe=line.number,
                drawn_ml=line.drawn_ml,
                lots_ml=line.lots_ml,
                areas_ml=line.areas_ml,
                balanced=line.balanced,
            )
            for line in services.totals(spec)
        ],
        problems=[] if chart.is_signed else services.problems(spec),
        content_sha256=chart.content_sha256 or None,
        content=services.document(chart),
        amendments=_amendments(chart),
        effective=EffectiveOut.model_validate(
            {
                name: _local(chart, value) if isinstance(value, datetime) else value
                for name, value in effective.items()
            }
        ),
    )


def _read(request: HttpRequest, chart: Chart, **detail: Any) -> ChartDetailOut:
    """The chart as returned with its content, the read recorded."""
    audit.record(AuditAction.VIEW, request=request, obj=chart, **detail)
    return _detail(chart)


def _amendment_value(field: str, value: str) -> str:
    """A time is checked here as every time the API takes: with its offset, or refused."""
    if field not in (AmendableField.STARTED_AT, AmendableField.ENDED_AT):
        return value
    try:
        moment = parse_datetime(value.strip())
    except ValueError:
        moment = None
    if moment is None:
        raise HttpError(422, f"The value of {field} is not an ISO 8601 date and time.")
    _instant(moment, field)
    return value


# --- operations ---------------------------------------------------------------------------


@router.get(
    "/",
    response=list[ChartOut],
    summary="Treatment charts",
    description="Newest session first, without their content. The patients listed are audited.",
    openapi_extra={"responses": NOT_FOUND_IN_FILTER},
)
@api_requires(Perm.CHART_VIEW)
def list_charts(
    request: HttpRequest,
    patient_id: int | None = None,
    plan_id: int | None = None,
    appointment_id: int | None = None,
    status: Literal["draft", "signed"] | None = None,
) -> list[dict[str, Any]]:
    found = _charts(request)
    if patient_id is not None:
        found = found.filter(patient=get_scoped_or_404(request, Patient, pk=patient_id))
    if plan_id is not None:
        found = found.filter(plan=get_scoped_or_404(request, CoursePlan, pk=plan_id))
    if appointment_id is not None:
        found = found.filter(appointment=get_scoped_or_404(request, Appointment, pk=appointment_id))
    if status is not None:
        found = found.filter(signed_at__isnull=status == "draft")
    charts = list(found)
    record_list_view(request, list({chart.patient_id: chart.patient for chart in charts}.values()))
    return [_summary(chart) for chart in charts]


@router.post(
    "/",
    response={200: ChartDetailOut, 201: ChartDetailOut},
    summary="Start a chart",
    description="Once the appointment's screening has no open block and the course has a "
    "valid consent (422 lists every reason it may not start), on the day of the session. "
    "201 with the new chart; 200 with the chart already started for the appointment, "
    "unchanged (copy_from_id is then ignored).",
)
@api_requires(Perm.CHART_EDIT)
def start_chart(request: HttpRequest, payload: StartIn) -> Status[ChartDetailOut]:
    appointment: Appointment = _lookup_or_422(
        request, Appointment, payload.appointment_id, "appointment"
    )
    copy_from = None
    if payload.copy_from_id is not None:
        copy_from = _lookup_or_422(request, Chart, payload.copy_from_id, "chart")
    existing = Chart.objects.filter(appointment=appointment).first()
    if existing is not None:
        return Status(200, _read(request, _fresh(existing.pk)))
    try:
        chart = services.start_chart(
            appointment, signed_in_user(request), copy_from=copy_from, request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, _detail(_fresh(chart.pk)))


@router.get(
    "/{chart_id}",
    response=ChartDetailOut,
    summary="A treatment chart",
    description="With its syringes and lots, areas and points, the totals per syringe, what "
    "stops signing, the signature, the amendments and the values as amended. The read is "
    "audited.",
)
@api_requires(Perm.CHART_VIEW)
def get_chart(request: HttpRequest, chart_id: int) -> ChartDetailOut:
    return _read(request, _chart(request, chart_id))


@router.put(
    "/{chart_id}/draft",
    response=ChartDetailOut,
    summary="Save a chart's draft",
    description="The whole draft, replacing what was saved: a draft may be unfinished "
    "(problems lists what stops signing), but input that cannot be right is refused (422) "
    "and nothing changes. A signed chart is 409.",
    openapi_extra={"responses": SIGNED_CONFLICT},
)
@api_requires(Perm.CHART_EDIT)
def save_draft(request: HttpRequest, chart_id: int, payload: DraftIn) -> ChartDetailOut:
    chart = _chart(request, chart_id)
    if chart.is_signed:
        raise HttpError(409, SIGNED)
    spec = _spec(payload)
    try:
        services.save_draft(chart, spec, signed_in_user(request), request=request)
    except ValidationError as error:
        if _fresh(chart.pk).is_signed:  # signed meanwhile, by another request
            raise HttpError(409, SIGNED) from None
        raise invalid(error) from None
    return _detail(_fresh(chart.pk))


@router.post(
    "/{chart_id}/sign",
    response=ChartDetailOut,
    summary="Sign a chart",
    description="By the practitioner who gave the treatment, with their password, once "
    "nothing stops it (422 lists what does: problems, their licence, the appointment). The "
    "lots leave stock, the appointment is attended, the follow-up is timed. A chart already "
    "signed is returned as signed (200): a retried request takes nothing from stock twice.",
)
@api_requires(Perm.CHART_SIGN)
def sign_chart(request: HttpRequest, chart_id: int, payload: SignIn) -> ChartDetailOut:
    chart = _chart(request, chart_id)
    try:
        services.sign(chart, signed_in_user(request), payload.password, request=request)
    except ValidationError as error:
        raise invalid(error) from None
    return _detail(_fresh(chart.pk))


@router.get(
    "/{chart_id}/amendments",
    response=list[AmendmentOut],
    summary="A chart's amendments",
    description="Oldest first, each with the value it replaced. The read is audited.",
)
@api_requires(Perm.CHART_VIEW)
def list_amendments(request: HttpRequest, chart_id: int) -> list[AmendmentOut]:
    chart = _chart(request, chart_id)
    audit.record(AuditAction.VIEW, request=request, obj=chart, what="amendments")
    return _amendments(chart)


@router.post(
    "/{chart_id}/amendments",
    response={201: AmendmentOut},
    summary="Amend a signed chart",
    description="Corrects one of the fields listed, with the reason; the signed chart is not "
    "changed, and the amendment keeps the value it replaced. A draft is 409: it is changed "
    "by saving the draft.",
    openapi_extra={"responses": DRAFT_CONFLICT},
)
@api_requires(Perm.CHART_AMEND)
def amend_chart(request: HttpRequest, chart_id: int, payload: AmendmentIn) -> Status[AmendmentOut]:
    chart = _chart(request, chart_id)
    if not chart.is_signed:
        raise HttpError(409, DRAFT)
    value = _amendment_value(payload.field, payload.value)
    try:
        amendment = services.amend(
            chart, payload.field, value, payload.reason, signed_in_user(request), request=request
        )
    except ValidationError as error:
        raise invalid(error) from None
    return Status(201, _amendment_out(chart, amendment))
