"""The chart page's form: reading a posted draft into a ``DraftSpec``, the editing actions
(a point placed on the map, a syringe or lot line added...), and the rows the page shows.

The page posts the whole form on every change (autosave) and on every action; the server
holds the draft. Field names: ``syringe-<i>-<field>``, ``syringe-<i>-lot-<j>-<field>``,
``area-<k>-<field>``, with counts in ``syringes``, ``syringe-<i>-lots`` and ``areas``; an
area's placed points travel in ``area-<k>-points`` as ``view:x,y`` items joined by ``;``
(``view:x,y:depth:volume`` when a point has its own depth or volume).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import timezone

from mesoclinic.charts import bodymap
from mesoclinic.charts.models import Device, Side, Technique
from mesoclinic.charts.services import AreaSpec, DraftSpec, LotSpec, PointSpec, SyringeSpec
from mesoclinic.formulas.models import Lot

MAX_ROWS = 50
# What a new line starts with, so that it saves at once: a usual mesotherapy needle
# (32 G, 4 mm) and a papule at 1.5 mm of 0.05 mL.
NEW_TECHNIQUE, NEW_DEPTH_MM, NEW_PER_POINT_ML = Technique.PAPULE, Decimal("1.5"), Decimal("0.05")
NEW_NEEDLE = (32, Decimal(4))


class Reader:
    """Reads typed values from the posted form, collecting every error instead of stopping
    at the first."""

    def __init__(self, data: QueryDict, tz: ZoneInfo) -> None:
        self.data, self.tz = data, tz
        self.errors: list[str] = []

    def text(self, name: str) -> str:
        return self.data.get(name, "").strip()

    def count(self, name: str) -> int:
        value = self.text(name)
        if not value.isdigit() or int(value) > MAX_ROWS:
            return 0
        return int(value)

    def decimal(self, name: str, label: str, *, required: bool = True) -> Decimal | None:
        value = self.text(name).replace(",", ".")
        if not value:
            if required:
                self.errors.append(f"{label}: a value is required.")
            return None
        try:
            number = Decimal(value)
        except InvalidOperation:
            self.errors.append(f"{label}: “{value}” is not a number.")
            return None
        if not number.is_finite():
            self.errors.append(f"{label}: “{value}” is not a number.")
            return None
        return number

    def integer(self, name: str, label: str) -> int | None:
        value = self.text(name)
        if not value:
            return None
        if not value.lstrip("-").isdigit() or len(value) > 6:
            self.errors.append(f"{label}: “{value}” is not a whole number.")
            return None
        return int(value)

    def moment(self, name: str, label: str) -> datetime | None:
        value = self.text(name)
        if not value:
            return None
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            self.errors.append(f"{label}: “{value}” is not a date and time.")
            return None
        return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=self.tz)


def _points(reader: Reader, name: str, label: str) -> list[PointSpec]:
    points = []
    for item in filter(None, reader.text(name).split(";")):
        parts = item.split(":")
        try:
            x, y = (Decimal(v) for v in parts[1].split(","))
            depth = Decimal(parts[2]) if len(parts) > 2 and parts[2] else None
            volume = Decimal(parts[3]) if len(parts) > 3 and parts[3] else None
        except (IndexError, ValueError, InvalidOperation):
            reader.errors.append(f"{label}: a placed point could not be read.")
            continue
        points.append(PointSpec(parts[0], x, y, depth, volume))
    return points


def read(data: QueryDict, tz: ZoneInfo) -> DraftSpec:
    """The posted form as a draft; a ValidationError lists whatever could not be read."""
    r = Reader(data, tz)
    syringes = []
    for i in range(r.count("syringes")):
        p = f"syringe-{i}"
        label = f"Syringe {i + 1}"
        lots = []
        for j in range(r.count(f"{p}-lots")):
            q = f"{p}-lot-{j}"
            lot_id = r.integer(f"{q}-lot", f"{label}: lot")
            volume = r.decimal(f"{q}-volume_ml", f"{label}: the lot's volume")
            if lot_id is None:
                r.errors.append(f"{label}: choose the lot.")
            elif volume is not None:
                lots.append(LotSpec(lot_id, volume, r.text(f"{q}-opens_unit") == "on"))
        volume = r.decimal(f"{p}-volume_ml", f"{label}: the volume drawn")
        syringes.append(
            SyringeSpec(
                number=r.integer(f"{p}-number", f"{label}: number") or i + 1,
                volume_ml=volume if volume is not None else Decimal(0),
                device=r.text(f"{p}-device") or Device.SYRINGE,
                needle_gauge=r.integer(f"{p}-needle_gauge", f"{label}: needle gauge"),
                needle_length_mm=r.decimal(
                    f"{p}-needle_length_mm", f"{label}: needle length", required=False
                ),
                injector_id=r.text(f"{p}-injector_id"),
                lots=lots,
            )
        )
    areas = []
    for k in range(r.count("areas")):
        p = f"area-{k}"
        label = f"Area line {k + 1}"
        depth = r.decimal(f"{p}-depth_mm", f"{label}: depth")
        per_point = r.decimal(f"{p}-volume_per_point_ml", f"{label}: volume per point")
        count = r.integer(f"{p}-point_count", f"{label}: points")
        areas.append(
            AreaSpec(
                area=r.text(f"{p}-area"),
                side=r.text(f"{p}-side"),
                syringe=r.integer(f"{p}-syringe", f"{label}: syringe") or 0,
                technique=r.text(f"{p}-technique"),
                depth_mm=depth if depth is not None else Decimal(0),
                volume_per_point_ml=per_point if per_point is not None else Decimal(0),
                point_count=count if count is not None else 0,
                points=_points(r, f"{p}-points", label),
            )
        )
    spec = DraftSpec(
        started_at=r.moment("started_at", "Start"),
        ended_at=r.moment("ended_at", "End"),
        anaesthetic_product=r.text("anaesthetic_product"),
        anaesthetic_minutes=r.integer("anaesthetic_minutes", "Minutes of cream"),
        pain_score=r.integer("pain_score", "Pain score"),
        immediate_reactions=r.text("immediate_reactions"),
        aftercare_given=r.text("aftercare_given"),
        notes=r.text("notes"),
        syringes=syringes,
        areas=areas,
    )
    if r.errors:
        raise ValidationError(r.errors)
    return spec


# --- actions --------------------------------------------------------------------------


def apply(
    action: str,
    spec: DraftSpec,
    data: QueryDict,
    *,
    default_lot: Lot | None,
    default_volume: Decimal,
    now: datetime,
) -> DraftSpec:
    """The draft after one of the page's buttons; an unknown action changes nothing."""
    if action == "add_point":
        if not spec.syringes:
            # The first tap of a chart: the syringe its area needs comes with it.
            spec = apply(
                "add_syringe",
                spec,
                data,
                default_lot=default_lot,
                default_volume=default_volume,
                now=now,
            )
        return add_point(
            spec, data.get("point_view", ""), data.get("point_x", ""), data.get("point_y", "")
        )
    if action == "remove_point":
        return remove_point(spec, data.get("remove_point", ""))
    if action == "add_syringe":
        number = max((s.number for s in spec.syringes), default=0) + 1
        lots = [LotSpec(default_lot.pk, default_volume)] if default_lot is not None else []
        gauge, length = NEW_NEEDLE
        syringe = SyringeSpec(
            number, default_volume, needle_gauge=gauge, needle_length_mm=length, lots=lots
        )
        return replace(spec, syringes=[*spec.syringes, syringe])
    if action.startswith("add_lot:") and default_lot is not None:
        return _edit_syringe(
            spec,
            action,
            lambda s: replace(s, lots=[*s.lots, LotSpec(default_lot.pk, _unassigned(s))]),
        )
    if action.startswith("remove_lot:"):
        _, index, line = action.split(":") if action.count(":") == 2 else ("", "-1", "-1")
        return _edit_syringe(
            spec,
            f"x:{index}",
            lambda s: replace(s, lots=[lot for n, lot in enumerate(s.lots) if str(n) != line]),
        )
    if action.startswith("remove_syringe:"):
        index = action.partition(":")[2]
        kept = [s for n, s in enumerate(spec.syringes) if str(n) != index]
        numbers = {s.number for s in kept}
        return replace(spec, syringes=kept, areas=[a for a in spec.areas if a.syringe in numbers])
    if action.startswith("remove_area:"):
        index = action.partition(":")[2]
        return replace(spec, areas=[a for n, a in enumerate(spec.areas) if str(n) != index])
    if action == "start_now":
        return replace(spec, started_at=now)
    if action == "end_now":
        return replace(spec, ended_at=now)
    return spec


def _unassigned(syringe: SyringeSpec) -> Decimal:
    left = syringe.volume_ml - sum((lot.volume_ml for lot in syringe.lots), Decimal(0))
    return left if left > 0 else syringe.volume_ml


def _edit_syringe(spec: DraftSpec, action: str, change: Any) -> DraftSpec:
    index = action.partition(":")[2]
    return replace(
        spec, syringes=[change(s) if str(n) == index else s for n, s in enumerate(spec.syringes)]
    )


def add_point(spec: DraftSpec, view: str, x: str, y: str) -> DraftSpec:
    """A tap on the map: the point joins the line of the area (and side) it lands on, which
    is added when the chart has none yet, with the settings of the line charted last."""
    try:
        px, py = Decimal(x).quantize(Decimal("0.1")), Decimal(y).quantize(Decimal("0.1"))
        region = bodymap.check_point(view, float(px), float(py))
    except (InvalidOperation, ValueError) as error:
        message = str(error) if isinstance(error, ValueError) else "The tap was not understood."
        raise ValidationError(message or "The tap was not understood.") from None
    point = PointSpec(view, px, py)
    for index, area in enumerate(spec.areas):
        if area.area == region.area and area.side in (region.side, Side.BOTH):
            placed = [*area.points, point]
            areas = list(spec.areas)
            areas[index] = replace(
                area, points=placed, point_count=max(area.point_count, len(placed))
            )
            return replace(spec, areas=areas)
    last = spec.areas[-1] if spec.areas else None
    syringe = last.syringe if last else (spec.syringes[0].number if spec.syringes else 1)
    new = AreaSpec(
        area=region.area,
        side=region.side,
        syringe=syringe,
        technique=last.technique if last else NEW_TECHNIQUE,
        depth_mm=last.depth_mm if last else NEW_DEPTH_MM,
        volume_per_point_ml=last.volume_per_point_ml if last else NEW_PER_POINT_ML,
        point_count=1,
        points=[point],
    )
    return replace(spec, areas=[*spec.areas, new])


def remove_point(spec: DraftSpec, key: str) -> DraftSpec:
    """Remove the point numbered ``key`` (numbered through the chart, as on the map); the
    area's count falls with it when it counted only placed points."""
    number = 0
    areas = []
    for area in spec.areas:
        kept = []
        for point in area.points:
            number += 1
            if str(number) != key:
                kept.append(point)
        if len(kept) != len(area.points):
            count = (
                area.point_count - 1 if area.point_count == len(area.points) else area.point_count
            )
            area = replace(area, points=kept, point_count=max(count, 1))
        areas.append(area)
    return replace(spec, areas=areas)


# --- what the page shows --------------------------------------------------------------


def local_input(moment: datetime | None, tz: ZoneInfo) -> str:
    return timezone.localtime(moment, tz).strftime("%Y-%m-%dT%H:%M") if moment else ""


def encode_points(points: list[PointSpec]) -> str:
    def one(p: PointSpec) -> str:
        extra = f":{p.depth_mm or ''}:{p.volume_ml or ''}" if p.depth_mm or p.volume_ml else ""
        return f"{p.view}:{p.x},{p.y}{extra}"

    return ";".join(one(p) for p in points)


def map_points(spec: DraftSpec) -> list[dict[str, Any]]:
    """Every placed point, numbered through the chart in the order of the area lines."""
    points: list[dict[str, Any]] = []
    for area in spec.areas:
        for point in area.points:
            number = len(points) + 1
            points.append(
                {
                    "view": point.view,
                    "x": float(point.x),
                    "y": float(point.y),
                    "key": str(number),
                    "label": str(number),
                    "area": area.area,
                }
            )
    return points


def treated(spec: DraftSpec) -> set[tuple[str, str]]:
    both = (str(Side.LEFT), str(Side.RIGHT))
    return {
        (a.area, side) for a in spec.areas for side in (both if a.side == Side.BOTH else (a.side,))
    }
