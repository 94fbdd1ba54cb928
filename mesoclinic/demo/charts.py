"""The demo's treatment charts: each past session of a course that was attended is charted and
signed by its practitioner, as on the chart page.

A session's chart is started (which runs the screening gate: no open block, a valid consent),
filled in, and signed with ``services.sign_as``, which records the attendance, takes the lots
from stock, times the follow-up and completes the course after its last session. When the gate
refuses, the session is only recorded as attended, as before there were charts, and counted.

A draft is filled in as a practitioner would: the course's formula drawn into a syringe (or an
injector gun, for some body courses) from the lots usable on the day, the first to expire
first; each area of the course with a technique that suits the indication, a depth, a volume
per point and a number of points, a handful of them placed on the body map inside the area.
The syringe's volume is the sum of its areas', split between the formula's products, so that
syringe, lots and areas add up to the hundredth of a millilitre. Some courses are photographed
before and after every session (drawn pictures, nothing of a real person), and a few signed
charts are corrected afterwards with an amendment. Everything is drawn from the clinic's own
stream (``generator.stream(seed, "charts")``), so that charts change no other kind of record.
"""

from __future__ import annotations

import io
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import cache

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from mesoclinic.catalogue.models import BodyArea
from mesoclinic.charts import bodymap, photos, services
from mesoclinic.charts.models import (
    AmendableField,
    Chart,
    Device,
    PhotoMoment,
    PhotoView,
    Side,
    Technique,
)
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses import booking
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.demo.accounts import LONDON, PARIS
from mesoclinic.formulas.models import FormulaComponent, Lot
from mesoclinic.formulas.services import default_units, lot_usable

CENT = services.CENT
# Indications treated in the fat under the skin: deeper, larger points, on a body technique.
BODY_INDICATIONS = frozenset({"localised-fat", "cellulite", "body-recontouring"})
SCALP_AREAS = frozenset({"scalp", "vertex"})

# Per kind of area: the techniques that suit it, the depths (mm) each is given at, and the
# needle (gauge, mm). Face and scalp are treated superficially, the body deeper.
TECHNIQUES = {
    "face": (Technique.NAPPAGE, Technique.PAPULE),
    "scalp": (Technique.NAPPAGE, Technique.PAPULE),
    "body": (Technique.POINT, Technique.LINEAR),
}
DEPTHS = {
    ("face", Technique.NAPPAGE): ("1", "1.5"),
    ("face", Technique.PAPULE): ("1.5", "2"),
    ("scalp", Technique.NAPPAGE): ("1.5", "2"),
    ("scalp", Technique.PAPULE): ("2", "2.5"),
    ("body", Technique.POINT): ("3", "3.5", "4"),
    ("body", Technique.LINEAR): ("3", "4"),
    ("body", Technique.INJECTOR): ("2.5", "3", "3.5"),
}
PER_POINT_ML = {
    Technique.NAPPAGE: ("0.02", "0.025", "0.03"),
    Technique.PAPULE: ("0.03", "0.04", "0.05"),
    Technique.POINT: ("0.05", "0.08", "0.1"),
    Technique.LINEAR: ("0.05", "0.06", "0.08", "0.1"),
    Technique.INJECTOR: ("0.03", "0.04", "0.05"),
}
GAUGES = {"face": (32, 32, 30), "scalp": (30, 32), "body": (30,)}
NEEDLE_MM = Decimal(4)
# The volume (mL) an area usually takes in a session, both sides together.
AREA_ML = {
    "face": (2.0, 3.5),
    "forehead": (0.6, 1.2),
    "cheeks": (1.0, 2.0),
    "nasolabial-folds": (0.3, 0.6),
    "chin": (0.3, 0.5),
    "submental": (1.0, 2.0),
    "neck": (1.0, 2.0),
    "scalp": (2.0, 4.0),
    "vertex": (1.0, 2.0),
    "abdomen": (3.0, 5.0),
    "hips": (2.0, 4.0),
    "thighs": (3.0, 5.0),
    "buttocks": (2.5, 4.5),
    "arms": (1.5, 3.0),
    "legs": (1.5, 3.0),
}
# Each clinic's injector guns, by asset number.
INJECTORS = {PARIS: ("MES-INJ-01", "MES-INJ-02"), LONDON: ("MSC-GUN-1",)}
INJECTOR_SHARE = 0.4  # of body courses
PHOTO_SHARE = 0.3  # of courses (besides each clinic's first), photographed at every session
AMEND_SHARE = 0.15  # of signed charts
AMENDMENTS = ("bruise", "pain", "reaction")  # taken in turn
REACTION_SHARE = 0.35
CREAMS = ("Lidocaine 5 % cream", "Lidocaine 2.5 % and prilocaine 2.5 % cream")
# How often a patient asks for the cream: some always, some never, most now and then.
CREAM_HABITS = (0.1, 0.5, 0.5, 0.9)

AFTERCARE = {
    "face": (
        "No make-up until tomorrow morning; no sauna, pool or hard exercise for 24 hours. Daily "
        "sunscreen (SPF 50). The small bumps settle within a day."
    ),
    "scalp": (
        "No hair washing, hair products or colouring until tomorrow evening; no tight hat "
        "today, no pool for 24 hours."
    ),
    "body": (
        "Keep the area clean and dry today; no sauna, hot bath or hard exercise for 24 hours; "
        "loose clothing. Drink plenty of water. Any bruises fade within a week or two."
    ),
}
AFTERCARE_CALL = " Call the clinic about any lump, warmth or discharge at a point."
REACTIONS = {
    "face": (
        "Small wheals at the injection points, as expected; flattening before the patient left.",
        "Mild redness over the treated area.",
        "Pinpoint bleeding at two or three points; stopped with light pressure.",
    ),
    "scalp": (
        "Pinpoint bleeding at a few points; stopped with light pressure.",
        "Mild redness of the scalp.",
    ),
    "body": (
        "Pinpoint bleeding at a few points; stopped with light pressure.",
        "Redness and small wheals along the treated zone; a cold pack for five minutes.",
        "Mild swelling of the treated area, as expected.",
    ),
}
REMARKS = (
    "Tolerated well; the patient is pleased with the change so far.",
    "Fewer points where last session's marks were still visible.",
    "The patient asked how many sessions are left; the plan was gone through again.",
    "Skin in good condition, no trace of the last session.",
)

BRUISE_PLACES = {
    "submental": "skin under the chin",
    "vertex": "crown",
    "nasolabial-folds": "nasolabial fold",
    "cheeks": "left cheek",
    "thighs": "outer thigh",
    "hips": "left flank",
}

PHOTO_SIZE = (640, 480)
PHOTO_VIEWS = {
    "submental": PhotoView.LEFT,
    "scalp": PhotoView.TOP,
    "vertex": PhotoView.TOP,
    "hips": PhotoView.BACK,
    "buttocks": PhotoView.BACK,
    "arms": PhotoView.BACK,
}
# Light to deep; the drawn "skin" of a course's photos.
SKIN_TONES = ((241, 206, 182), (228, 186, 154), (200, 150, 114), (162, 114, 82), (120, 84, 60))


@dataclass
class ChartCounts:
    signed: int = 0
    amendments: int = 0
    photos: int = 0
    # Past sessions recorded as attended without a chart, and why (the gate's reasons).
    without_chart: int = 0
    reasons: list[str] = field(default_factory=list)

    def __add__(self, other: ChartCounts) -> ChartCounts:
        return ChartCounts(
            self.signed + other.signed,
            self.amendments + other.amendments,
            self.photos + other.photos,
            self.without_chart + other.without_chart,
            self.reasons + other.reasons,
        )


@dataclass(frozen=True)
class _AreaStyle:
    """How a course treats one of its areas, the same at every session."""

    area: BodyArea
    kind: str  # face, scalp or body
    side: str
    regions: tuple[bodymap.Region, ...]  # where its points are placed
    technique: str
    depth_mm: Decimal
    per_point_ml: Decimal


@dataclass(frozen=True)
class _CourseStyle:
    areas: tuple[_AreaStyle, ...]
    products: tuple[tuple[int, Decimal], ...]  # the formula's products and their parts
    device: str
    gauge: int
    injector_id: str
    one_syringe_per_area: bool
    cream: str
    cream_habit: float  # the share of sessions it is applied at
    cream_minutes: int
    photographed: bool
    tone: tuple[int, int, int]


class Charter:
    """Charts one clinic's past sessions, drawing from the clinic's own stream."""

    def __init__(self, rng: random.Random, clinic: Clinic) -> None:
        self.rng, self.clinic = rng, clinic
        self.counts = ChartCounts()
        self._styles: dict[int, _CourseStyle] = {}

    def attend(self, appointment: Appointment, desk: User) -> Chart | None:
        """Chart ``appointment`` (a past session) and sign it; when there can be no chart,
        only record that the patient came, as ``desk``."""
        plan = appointment.plan
        practitioner = appointment.practitioner
        if plan is None or plan.formula_version is None:
            self._attend_only(appointment, desk, "The course has no formula.")
            return None
        style = self._style(plan)
        spec = self._draft(appointment, style)
        if spec is None:
            self._attend_only(appointment, desk, "No usable lot of the formula in stock.")
            return None
        try:
            chart = services.start_chart(appointment, practitioner)
        except ValidationError as refusal:
            self._attend_only(appointment, desk, " ".join(refusal.messages))
            return None
        services.save_draft(chart, spec, practitioner)
        if style.photographed:
            self._photograph(chart, style, spec, practitioner)
        chart = services.sign_as(chart, practitioner)
        self.counts.signed += 1
        if self.rng.random() < AMEND_SHARE or (
            self.counts.signed == 2 and not self.counts.amendments
        ):
            self._amend(chart, style, practitioner)
        return chart

    def _attend_only(self, appointment: Appointment, desk: User, reason: str) -> None:
        booking.record_attended(appointment, desk)
        self.counts.without_chart += 1
        self.counts.reasons.append(reason)

    # --- the course's habits ----------------------------------------------------------

    def _style(self, plan: CoursePlan) -> _CourseStyle:
        if plan.pk in self._styles:
            return self._styles[plan.pk]
        rng = self.rng
        codes = [a.code for a in plan.areas.order_by("pk")]
        areas = []
        body = plan.indication.code in BODY_INDICATIONS
        injector = body and rng.random() < INJECTOR_SHARE
        for area in plan.areas.order_by("pk"):
            kind = "body" if body else "scalp" if area.code in SCALP_AREAS else "face"
            if area.view not in ("face", "scalp") and not body:
                kind = "body"
            technique = Technique.INJECTOR if injector else rng.choice(TECHNIQUES[kind])
            side = Side.BOTH if area.paired else Side.NONE
            regions = tuple(r for r in bodymap.regions_for(area.code) if r.view == area.view)
            areas.append(
                _AreaStyle(
                    area=area,
                    kind=kind,
                    side=side,
                    regions=regions or tuple(bodymap.regions_for(area.code)[:1]),
                    technique=technique,
                    depth_mm=Decimal(rng.choice(DEPTHS[kind, technique])),
                    per_point_ml=Decimal(rng.choice(PER_POINT_ML[technique])),
                )
            )
        assert plan.formula_version is not None
        products = tuple(
            (component.product_id, component.volume_ml or component.proportion or Decimal(0))
            for component in FormulaComponent.objects.filter(
                version=plan.formula_version, product__isnull=False
            ).order_by("position", "pk")
        )
        kind = areas[0].kind if areas else "face"
        style = _CourseStyle(
            areas=tuple(areas),
            products=tuple((product, part) for product, part in products if product and part > 0),
            device=Device.INJECTOR if injector else Device.SYRINGE,
            gauge=rng.choice(GAUGES[kind]),
            injector_id=rng.choice(INJECTORS.get(self.clinic.slug, ("INJ-1",))) if injector else "",
            one_syringe_per_area=body and len(codes) > 1,
            cream=rng.choice(CREAMS),
            cream_habit=rng.choice(CREAM_HABITS),
            cream_minutes=rng.choice((20, 30, 30, 45)),
            photographed=not self._styles or rng.random() < PHOTO_SHARE,
            tone=rng.choice(SKIN_TONES),
        )
        self._styles[plan.pk] = style
        return style

    # --- the draft ------------------------------------------------------------------------

    def _draft(self, appointment: Appointment, style: _CourseStyle) -> services.DraftSpec | None:
        rng = self.rng
        codes = {a.area.code for a in style.areas}
        areas = []
        for number, area in enumerate(style.areas, start=1):
            low, high = AREA_ML.get(area.area.code, (1.0, 2.0))
            target = Decimal(str(round(rng.uniform(low, high), 2)))
            points = [
                point
                for region in area.regions
                for point in _place(rng, region, rng.randint(3, 6), _accepts(area, codes))
            ]
            count = int((target / area.per_point_ml).to_integral_value())
            areas.append(
                services.AreaSpec(
                    area=area.area.code,
                    side=area.side,
                    syringe=number if style.one_syringe_per_area else 1,
                    technique=area.technique,
                    depth_mm=area.depth_mm,
                    volume_per_point_ml=area.per_point_ml,
                    point_count=max(count, len(points), 1),
                    points=points,
                )
            )
        day = timezone.localdate(appointment.starts_at, self.clinic.tz)
        taken: dict[int, int] = {}
        syringes = []
        for number in sorted({a.syringe for a in areas}):
            volume = sum(
                (services.area_volume(a) for a in areas if a.syringe == number), Decimal(0)
            )
            lots = self._lots(style.products, volume, day, taken)
            if lots is None:
                return None
            syringes.append(
                services.SyringeSpec(
                    number=number,
                    volume_ml=volume,
                    device=style.device,
                    needle_gauge=style.gauge,
                    needle_length_mm=NEEDLE_MM,
                    injector_id=style.injector_id,
                    lots=lots,
                )
            )
        minutes = round((appointment.ends_at - appointment.starts_at).total_seconds() / 60)
        late = rng.randint(0, 4)
        started = appointment.starts_at + timedelta(minutes=late)
        lasted = min(rng.randint(25, 35), max(minutes - late, 20))
        kind = style.areas[0].kind if style.areas else "face"
        reactions = ""
        if rng.random() < REACTION_SHARE:
            reactions = rng.choice(REACTIONS[kind])
        cream = style.cream if rng.random() < style.cream_habit else ""
        if cream:
            pain = rng.choice((1, 1, 2, 2, 3))
        else:
            pain = rng.choice((2, 3, 3, 4, 5) if kind == "body" else (1, 2, 3, 3, 4))
        return services.DraftSpec(
            started_at=started,
            ended_at=started + timedelta(minutes=lasted),
            anaesthetic_product=cream,
            anaesthetic_minutes=style.cream_minutes if cream else None,
            pain_score=pain,
            immediate_reactions=reactions,
            aftercare_given=AFTERCARE[kind] + (AFTERCARE_CALL if kind == "body" else ""),
            notes=rng.choice(REMARKS) if rng.random() < 0.3 else "",
            syringes=syringes,
            areas=areas,
        )

    def _lots(
        self,
        products: Sequence[tuple[int, Decimal]],
        volume: Decimal,
        day: date,
        taken: dict[int, int],
    ) -> list[services.LotSpec] | None:
        """The syringe's ``volume`` split between the products by their parts in the formula,
        each from a lot usable on ``day`` with the units to spare (``taken``: units this
        chart already takes from each lot), the first to expire first."""
        if not products:
            return None
        lines = []
        for (product_id, _), share in zip(
            products, _split(volume, [p for _, p in products]), strict=True
        ):
            if share <= 0:
                continue
            lot = _first_to_expire(product_id, share, day, taken)
            if lot is None:
                return None
            lines.append(services.LotSpec(lot_id=lot.pk, volume_ml=share))
        return lines

    # --- photos and amendments --------------------------------------------------------

    def _photograph(
        self, chart: Chart, style: _CourseStyle, spec: services.DraftSpec, actor: User
    ) -> None:
        """A photo of each area from its standard view before the session and one just after,
        with a small dot where each placed point went in."""
        assert spec.started_at is not None and spec.ended_at is not None
        session = f"session {chart.session_number}" if chart.session_number else "session"
        for area, area_spec in zip(style.areas, spec.areas, strict=True):
            view = PHOTO_VIEWS.get(area.area.code, PhotoView.FRONT)
            canvas = _canvas(self.rng, style.tone)
            for moment, taken_at in (
                (PhotoMoment.BEFORE, spec.started_at + timedelta(minutes=1)),
                (PhotoMoment.AFTER, spec.ended_at - timedelta(minutes=1)),
            ):
                caption = f"{area.area.label} · {view.label} · {moment.label.lower()} · {session}"
                dots = _dots(area, area_spec) if moment == PhotoMoment.AFTER else []
                photos.add_photo(
                    chart,
                    upload=SimpleUploadedFile(
                        f"{moment}.jpg", _jpeg(canvas, caption, dots), content_type="image/jpeg"
                    ),
                    moment=moment,
                    body_area=area.area,
                    view=view,
                    taken_at=taken_at,
                    actor=actor,
                )
                self.counts.photos += 1

    def _amend(self, chart: Chart, style: _CourseStyle, actor: User) -> None:
        """A correction after signing: the pain re-rated, a bruise reported at the follow-up
        call, or a reaction left out when the chart was written up."""
        rng = self.rng
        code = style.areas[0].area.code if style.areas else ""
        place = BRUISE_PLACES.get(code, code.replace("-", " ") or "treated area")
        choice = AMENDMENTS[self.counts.amendments % len(AMENDMENTS)]
        if choice == "pain" and chart.pain_score is not None:
            pain = chart.pain_score
            score = rng.choice([s for s in (pain - 1, pain + 1, pain + 2) if 1 <= s <= 5])
            services.amend(
                chart,
                AmendableField.PAIN_SCORE,
                str(score),
                "Pain rated again with the patient at the end of the visit; the first score "
                "was noted after the first pass only.",
                actor,
            )
        elif choice == "bruise":
            note = (
                f"At the follow-up call the patient mentioned a small bruise on the {place}; "
                "it settled within a week without treatment."
            )
            services.amend(
                chart,
                AmendableField.NOTES,
                f"{chart.notes} {note}".strip(),
                "Added after the follow-up call, so that the chart holds it.",
                actor,
            )
        else:
            reaction = "A small wheal at two points lasted about an hour."
            services.amend(
                chart,
                AmendableField.IMMEDIATE_REACTIONS,
                f"{chart.immediate_reactions} {reaction}".strip(),
                "In the assistant's notes of the session, but left out when the chart was "
                "written up.",
                actor,
            )
        self.counts.amendments += 1


# --- helpers --------------------------------------------------------------------------


def _accepts(area: _AreaStyle, charted: set[str]) -> Callable[[bodymap.Region], bool]:
    """Whether a point that lands on ``region`` counts for ``area``: its own region (the
    side it is placed on), or a sub-area of it that the chart does not treat on its own line
    (a point on the cheek counts for a chart line of the whole face)."""

    def accepts(region: bodymap.Region) -> bool:
        own = region.area == area.area.code
        within = bodymap.PARENTS.get(region.area) == area.area.code and region.area not in charted
        return own or within

    return accepts


def _place(
    rng: random.Random,
    region: bodymap.Region,
    count: int,
    accepts: Callable[[bodymap.Region], bool],
) -> list[services.PointSpec]:
    """Up to ``count`` points inside ``region``, spread apart: drawn in its bounding box and
    kept when the map resolves them to the region (or a sub-area ``accepts`` takes)."""
    x0, y0, x1, y1 = region.shape.bbox
    spacing = max(2.0, min(x1 - x0, y1 - y0) / 5)
    placed: list[tuple[float, float]] = []
    for _ in range(40 * count):
        if len(placed) == count:
            break
        x, y = round(rng.uniform(x0, x1), 1), round(rng.uniform(y0, y1), 1)
        hit = bodymap.region_at(region.view, x, y)
        if hit is None or not accepts(hit) or (region.side and hit.side != region.side):
            continue
        if all(math.dist((x, y), p) >= spacing for p in placed):
            placed.append((x, y))
    if not placed:
        placed.append(bodymap.anchor(region))
    return [services.PointSpec(region.view, Decimal(str(x)), Decimal(str(y))) for x, y in placed]


def _split(volume: Decimal, parts: Sequence[Decimal]) -> list[Decimal]:
    """``volume`` shared by ``parts`` to the hundredth, the rounding left to the largest
    part, so that the shares add up to ``volume`` exactly."""
    total = sum(parts, Decimal(0))
    shares = [(volume * part / total).quantize(CENT, rounding=ROUND_DOWN) for part in parts]
    largest = max(range(len(parts)), key=lambda i: parts[i])
    shares[largest] += volume - sum(shares, Decimal(0))
    return shares


def _first_to_expire(
    product_id: int, volume: Decimal, day: date, taken: dict[int, int]
) -> Lot | None:
    lots = Lot.objects.filter(product_id=product_id).select_related("product")
    for lot in lots.order_by("expiry_date", "received_on", "pk"):
        units = default_units(lot, volume)
        if lot_usable(lot, day).ok and lot.remaining_units - taken.get(lot.pk, 0) >= units:
            taken[lot.pk] = taken.get(lot.pk, 0) + units
            return lot
    return None


def _canvas(rng: random.Random, tone: tuple[int, int, int]) -> Image.Image:
    """Skin-coloured ground with soft light from one side and a lighter middle."""
    light = tuple(min(255, c + 16) for c in tone)
    shade = tuple(max(0, c - 30) for c in tone)
    small = (80, 60)
    mask = Image.linear_gradient("L").rotate(rng.choice((0, 90, 180, 270))).resize(small)
    ground = Image.composite(Image.new("RGB", small, shade), Image.new("RGB", small, light), mask)
    glow = Image.new("L", small, 0)
    ImageDraw.Draw(glow).ellipse((14, 8, 66, 52), fill=rng.randint(60, 110))
    ground = Image.composite(
        Image.new("RGB", small, light), ground, glow.filter(ImageFilter.GaussianBlur(8))
    )
    return ground.resize(PHOTO_SIZE, Image.Resampling.BICUBIC)


def _dots(area: _AreaStyle, spec: services.AreaSpec) -> list[tuple[float, float]]:
    """The area's placed points, from the map's view into the photo's frame."""
    boxes = [r.shape.bbox for r in area.regions]
    x0, y0 = min(b[0] for b in boxes), min(b[1] for b in boxes)
    x1, y1 = max(b[2] for b in boxes), max(b[3] for b in boxes)
    width, height = PHOTO_SIZE
    return [
        (
            width * 0.2 + width * 0.6 * (float(p.x) - x0) / max(x1 - x0, 1),
            height * 0.15 + height * 0.7 * (float(p.y) - y0) / max(y1 - y0, 1),
        )
        for p in spec.points
    ]


@cache
def _font() -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.load_default(size=14)
    except (OSError, ImportError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _jpeg(canvas: Image.Image, caption: str, dots: Sequence[tuple[float, float]]) -> bytes:
    image = canvas.copy()
    draw = ImageDraw.Draw(image)
    for x, y in dots:
        draw.ellipse((x - 5, y - 5, x + 5, y + 5), fill=(222, 140, 130))  # a little redness
        draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(178, 42, 48))
    draw.text((12, PHOTO_SIZE[1] - 24), caption, fill=(70, 50, 40), font=_font())
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()
