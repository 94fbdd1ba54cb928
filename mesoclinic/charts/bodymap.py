"""The body and face map: four drawn views, the areas on them, and where a point falls.

The chart page (inline SVG) and the PDF (reportlab) draw from this one geometry, and the chart
service checks every point against it, so that a point shown on an area is stored on it.

Views and their boxes, in view units (x to the right, y downwards; points are stored to 1
decimal):

- ``front``: the whole body from the front, 200 x 420;
- ``back``: the whole body from behind, 200 x 420;
- ``face``: the face and neck from the front, 200 x 240;
- ``scalp``: the top of the head seen from above, face at the top, 200 x 200.

Sides are always the PATIENT's. On ``front`` and ``face`` the patient faces the viewer, so
the patient's left is on the viewer's right. On ``back`` the viewer stands behind the
patient, and on ``scalp`` looks down on the head with the face at the top, which is also
looking from behind: the patient's left is on the viewer's left. Every view prints "R" and
"L" on the matching sides.

A region is an area code, a side ("left", "right", or "" for an unpaired area) and a shape,
a polygon (even-odd rule) or an ellipse. Where regions overlap the most specific wins: a
sub-area over its parent (cheeks over face), then the smaller shape.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any, SupportsFloat

from reportlab.graphics.shapes import Circle, Drawing, Path, String
from reportlab.lib import colors
from reportlab.lib.units import mm

from mesoclinic.pdf import ACCENT, FONT, INK, MUTED, RULE, register_fonts

Point = tuple[float, float]
# A path command: ("M", x, y), ("L", x, y), ("C", x1, y1, x2, y2, x, y) or ("Z",).
Command = tuple[Any, ...]

# The catalogue's `parent`, mirrored (a test compares): a sub-area wins over its parent.
PARENTS = {
    "forehead": "face",
    "cheeks": "face",
    "nasolabial-folds": "face",
    "chin": "face",
    "submental": "face",
    "vertex": "scalp",
}


# --- shapes -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Polygon:
    points: tuple[Point, ...]

    def contains(self, x: float, y: float) -> bool:
        # Ray casting to the right; an edge counts when y is in [its lower y, its upper y).
        inside = False
        x0, y0 = self.points[-1]
        for x1, y1 in self.points:
            if (y1 > y) != (y0 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
            x0, y0 = x1, y1
        return inside

    @cached_property
    def area(self) -> float:
        return abs(_signed_area(self.points))

    @cached_property
    def centre(self) -> Point:
        pts, cx, cy = self.points, 0.0, 0.0
        for (x0, y0), (x1, y1) in zip(pts, (*pts[1:], pts[0]), strict=True):
            cross = x0 * y1 - x1 * y0
            cx, cy = cx + (x0 + x1) * cross, cy + (y0 + y1) * cross
        a6 = 6 * _signed_area(pts)
        return cx / a6, cy / a6

    @cached_property
    def bbox(self) -> tuple[float, float, float, float]:
        xs, ys = [p[0] for p in self.points], [p[1] for p in self.points]
        return min(xs), min(ys), max(xs), max(ys)

    def commands(self) -> list[Command]:
        first, *rest = self.points
        return [("M", *first), *(("L", *p) for p in rest), ("Z",)]


@dataclass(frozen=True)
class Ellipse:
    cx: float
    cy: float
    rx: float
    ry: float

    def contains(self, x: float, y: float) -> bool:
        return ((x - self.cx) / self.rx) ** 2 + ((y - self.cy) / self.ry) ** 2 < 1

    @property
    def area(self) -> float:
        return math.pi * self.rx * self.ry

    @property
    def centre(self) -> Point:
        return self.cx, self.cy

    @property
    def bbox(self) -> tuple[float, float, float, float]:
        return self.cx - self.rx, self.cy - self.ry, self.cx + self.rx, self.cy + self.ry

    def commands(self) -> list[Command]:
        # Four cubic quarter arcs, which SVG and reportlab draw alike.
        k = 0.5523  # 4/3 (sqrt 2 - 1)
        cx, cy, rx, ry = self.cx, self.cy, self.rx, self.ry
        return [
            ("M", cx + rx, cy),
            ("C", cx + rx, cy + k * ry, cx + k * rx, cy + ry, cx, cy + ry),
            ("C", cx - k * rx, cy + ry, cx - rx, cy + k * ry, cx - rx, cy),
            ("C", cx - rx, cy - k * ry, cx - k * rx, cy - ry, cx, cy - ry),
            ("C", cx + k * rx, cy - ry, cx + rx, cy - k * ry, cx + rx, cy),
            ("Z",),
        ]


Shape = Polygon | Ellipse


@dataclass(frozen=True)
class Curve:
    """A drawn line, no region: smooth (Catmull-Rom) through its points unless told not."""

    points: tuple[Point, ...]
    closed: bool = True
    smooth: bool = True

    def commands(self) -> list[Command]:
        pts, n = self.points, len(self.points)
        out: list[Command] = [("M", *pts[0])]
        if not self.smooth or n < 3:
            out += [("L", *p) for p in pts[1:]]
        else:
            for i in range(n if self.closed else n - 1):
                p0 = pts[(i - 1) % n] if self.closed or i > 0 else pts[0]
                p1, p2 = pts[i], pts[(i + 1) % n]
                p3 = pts[(i + 2) % n] if self.closed or i + 2 < n else p2
                c1 = (p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6)
                c2 = (p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6)
                out.append(("C", *c1, *c2, *p2))
        return [*out, ("Z",)] if self.closed else out


Stroke = Curve | Ellipse


@dataclass(frozen=True)
class Region:
    view: str
    area: str
    side: str
    shape: Shape

    def contains(self, x: float, y: float) -> bool:
        return self.shape.contains(x, y)

    @property
    def precedence(self) -> tuple[int, float, str, str]:
        """Lower wins: a sub-area, then the smaller shape, then a fixed order."""
        return (0 if self.area in PARENTS else 1, self.shape.area, self.area, self.side)


@dataclass(frozen=True)
class View:
    code: str
    label: str  # the caption
    noun: str  # as in "outside the face map"
    width: float
    height: float
    outline: tuple[Stroke, ...]  # the silhouette
    guides: tuple[Stroke, ...]  # features drawn over it: eyes, navel, crown
    regions: tuple[Region, ...]
    marks: tuple[tuple[float, float, str], ...]  # the "R" and "L" letters


# --- building blocks ----------------------------------------------------------------------

W = 200.0  # every view's width
# The patient's side that the viewer sees on the left of each view.
_VIEWER_LEFT = {"front": "right", "face": "right", "back": "left", "scalp": "left"}
_OTHER = {"left": "right", "right": "left"}


def _p(text: str) -> tuple[Point, ...]:
    """Points written as in SVG: "x,y x,y ..."."""
    return tuple((float(x), float(y)) for x, y in (pair.split(",") for pair in text.split()))


def _signed_area(pts: Sequence[Point]) -> float:
    pairs = zip(pts, (*pts[1:], pts[0]), strict=True)
    return sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in pairs) / 2


def _mirror(pts: Iterable[Point]) -> tuple[Point, ...]:
    return tuple((W - x, y) for x, y in pts)


def _symmetric(half: Sequence[Point]) -> tuple[Point, ...]:
    """An outline from its viewer-left half, drawn down from the top of the centre line: the
    other half is the mirror image, walked back up."""
    return (*half, *(p for p in reversed(_mirror(half)) if p[0] != W / 2))


def _line(text: str) -> Curve:
    return Curve(_p(text), closed=False)


def _both(curve: Curve) -> tuple[Curve, Curve]:
    """A drawn line on the viewer's left and its mirror image."""
    return curve, Curve(_mirror(curve.points), curve.closed, curve.smooth)


def _samples(curve: Curve, steps: int = 6) -> tuple[Point, ...]:
    """Points along a drawn curve, so that a region's edge can follow the line drawn."""
    out: list[Point] = []
    for op, *args in curve.commands():
        if op == "C":
            (x0, y0), (x1, y1, x2, y2, x3, y3) = out[-1], args
            for t in (i / steps for i in range(1, steps + 1)):
                a, b, c, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t**3
                out.append(
                    (
                        round(a * x0 + b * x1 + c * x2 + d * x3, 2),
                        round(a * y0 + b * y1 + c * y2 + d * y3, 2),
                    )
                )
        elif op != "Z":
            out.append((args[0], args[1]))
    return tuple(out[:-1] if curve.closed and out[-1] == out[0] else out)


def _arc(
    cx: float, cy: float, rx: float, ry: float, start: float, stop: float, n: int
) -> tuple[Point, ...]:
    """n + 1 points along an ellipse, angles in degrees (0 to the right, 90 downwards)."""
    angles = (math.radians(start + (stop - start) * i / n) for i in range(n + 1))
    return tuple((round(cx + rx * math.cos(a), 1), round(cy + ry * math.sin(a), 1)) for a in angles)


def _one(view: str, area: str, shape: Shape) -> Region:
    return Region(view, area, "", shape)


def _pair(view: str, area: str, shape: Shape) -> tuple[Region, Region]:
    """A paired area from its shape on the viewer's left, mirrored for the other side."""
    mirrored: Shape
    if isinstance(shape, Ellipse):
        mirrored = Ellipse(W - shape.cx, shape.cy, shape.rx, shape.ry)
    else:
        mirrored = Polygon(_mirror(shape.points))
    side = _VIEWER_LEFT[view]
    return Region(view, area, side, shape), Region(view, area, _OTHER[side], mirrored)


def _marks(view: str) -> tuple[tuple[float, float, str], ...]:
    side = _VIEWER_LEFT[view]
    return (10, 16, side[0].upper()), (W - 10, 16, _OTHER[side][0].upper())


# --- the whole body, front and back ---------------------------------------------------------

# Viewer-left half: neck, shoulder, round the arm and hand, the side of the trunk, the outside
# of the leg, the foot, up the inside of the leg to the crotch. Open at the neck, where the
# head is drawn over it.
_BODY = Curve(
    _symmetric(
        _p(
            "91,56 90,70 78,76 63,80 54,86 50,98 47,122 43,158 38,186 35,206 30,218 29,232 "
            "33,244 38,245 40,236 43,226 46,208 51,184 56,158 60,128 65,106 67,126 71,156 "
            "67,182 63,206 63,238 67,272 71,300 69,322 70,348 77,386 74,398 70,405 72,411 "
            "92,411 94,403 92,386 95,344 93,322 94,300 97,262 99,216 100,214"
        )
    ),
    closed=False,
)
_HEAD = Ellipse(100, 36, 18, 24)
_UPPER_ARM = Polygon(_p("55,88 50,99 47,122 44,150 57,153 60,128 64,106 62,94"))
_LOWER_LEG = Polygon(_p("71,310 93,310 94,324 95,344 92,384 77,384 70,348 69,322"))


def _front() -> View:
    regions = (
        _one("front", "face", _HEAD),
        _one("front", "neck", Polygon(_p("92,61 108,61 109,70 100,74 91,70"))),
        *_pair("front", "arms", _UPPER_ARM),
        _one(
            "front",
            "abdomen",
            Polygon(_p("70,130 130,130 129,156 123,172 121,198 100,204 79,198 77,172 71,156")),
        ),
        *_pair("front", "hips", Polygon(_p("71,157 76,172 78,198 74,212 63,214 64,196 67,182"))),
        *_pair(
            "front",
            "thighs",
            Polygon(_p("64,220 78,214 99,220 97,262 95,290 71,290 67,270 63,238")),
        ),
        *_pair("front", "legs", _LOWER_LEG),
    )
    guides = (
        # Collarbones, navel, groin creases and kneecaps: the front at a glance.
        *_both(_line("80,80 90,82 97,80")),
        Ellipse(100, 176, 1.6, 2.2),
        *_both(_line("74,206 88,212 99,222")),
        Ellipse(83, 299, 4, 5),
        Ellipse(117, 299, 4, 5),
    )
    return View(
        "front", "Front", "front body", W, 420, (_BODY, _HEAD), guides, regions, _marks("front")
    )


def _back() -> View:
    regions = (
        _one("back", "scalp", _HEAD),
        *_pair("back", "arms", _UPPER_ARM),
        # The flanks ("love handles"), above the buttocks.
        *_pair("back", "hips", Polygon(_p("71,150 80,156 84,172 78,178 67,184 67,176 71,158"))),
        *_pair(
            "back",
            "buttocks",
            Polygon(_p("99,184 99,226 86,230 70,226 64,212 65,198 70,188 84,180")),
        ),
        *_pair("back", "thighs", Polygon(_p("64,232 86,236 99,232 97,262 95,290 71,290 67,270"))),
        *_pair("back", "legs", _LOWER_LEG),
    )
    guides = (
        # Spine, shoulder blades, the cleft and folds of the buttocks, the backs of the knees.
        _line("100,78 100,130 100,186"),
        *_both(_line("86,98 88,112 82,128")),
        _line("100,190 100,206 100,214"),
        *_both(_line("70,226 86,231 99,227")),
        *_both(_line("75,300 83,302 91,300")),
    )
    return View(
        "back", "Back", "back body", W, 420, (_BODY, _HEAD), guides, regions, _marks("back")
    )


# --- the face and neck --------------------------------------------------------------------

_FACE_HEAD = Curve(
    _symmetric(
        _p("100,12 76,16 58,28 47,48 43,74 43,98 45,120 50,140 58,156 70,169 85,179 100,182")
    )
)
_HAIRLINE = _p("47,74 52,52 68,40 100,35 132,40 148,52 153,74")
_NECK_TOP = 164.0  # where the neck's lines leave the jaw


def _face() -> View:
    rim = _samples(_FACE_HEAD)
    hairline = _samples(Curve(_HAIRLINE, closed=False))
    # Below the hairline, within the head's outline: temple, jaw, chin, temple.
    face = Polygon((*hairline, *reversed([p for p in rim if p[1] > _HAIRLINE[0][1]])))
    regions = (
        _one("face", "face", face),
        _one("face", "forehead", Polygon((*hairline, *_p("146,77 124,75 100,78 76,75 54,77")))),
        *_pair(
            "face",
            "cheeks",
            Polygon(_p("46,102 62,105 82,105 83,114 77,134 75,153 64,158 52,144 46,122")),
        ),
        # A band along the fold, from the wing of the nose to beside the mouth; the cheek
        # ends at its outer edge.
        *_pair(
            "face", "nasolabial-folds", Polygon(_p("83,114 91,118 87,134 86,153 75,153 77,134"))
        ),
        _one("face", "chin", Polygon(_p("86,159 114,159 118,170 112,178 100,181 88,178 82,170"))),
        _one("face", "submental", Polygon(_p("78,182 100,186 122,182 124,194 100,202 76,194"))),
        # Its top is the jaw's line, so that the face keeps its own lower edge.
        _one(
            "face",
            "neck",
            Polygon(
                (
                    *(p for p in rim if p[1] >= _NECK_TOP),
                    *_p("133,196 140,212 120,224 100,228 80,224 60,212 67,196"),
                )
            ),
        ),
    )
    guides = (
        Curve(hairline, closed=False, smooth=False),
        *_both(_line("62,85 76,80 91,84")),  # brows
        *_both(Curve(_p("66,96 72,92 80,91 88,95 80,99 72,99"))),  # eyes
        Ellipse(77, 95, 2.6, 2.6),
        Ellipse(123, 95, 2.6, 2.6),
        *_both(_line("95,90 94,104 92,116")),  # nose
        _line("88,118 86,124 91,128 96,126 100,128 104,126 109,128 114,124 112,118"),
        *_both(_line("87,119 82,134 80,151")),  # nasolabial folds
        _line("84,148 92,143 100,145 108,143 116,148"),  # lips
        _line("84,148 100,149 116,148"),
        _line("84,148 92,154 100,155 108,154 116,148"),
    )
    outline = (
        # Ears and neck, open where the head's outline is drawn over them.
        *_both(_line("45,88 36,84 32,94 34,110 39,122 46,122")),
        *_both(_line(f"66,{_NECK_TOP} 67,196 60,212 36,224 10,232")),
        _FACE_HEAD,
    )
    return View("face", "Face and neck", "face", W, 240, outline, guides, regions, _marks("face"))


# --- the scalp, from above ----------------------------------------------------------------


def _scalp() -> View:
    # The frontal hairline from temple to temple, then round the back of the head.
    hairline = _arc(100, 76, 54, 30, 195, 345, 10)
    regions = (
        _one("scalp", "scalp", Polygon((*hairline, *_arc(100, 106, 60, 74, -31, 211, 30)))),
        _one("scalp", "vertex", Ellipse(100, 126, 22, 20)),
    )
    outline = (
        _line("92,31 95,22 100,19 105,22 108,31"),  # the nose: the face is at the top
        *_both(_line("38,94 31,98 30,110 35,118 38,118")),  # ears
        Ellipse(100, 106, 64, 78),
    )
    guides = (
        Curve(hairline, closed=False),
        _line("100,126 103,124 104,129 98,131 94,125 99,119 107,120 111,127"),  # the whorl
    )
    return View(
        "scalp", "Scalp (from above)", "scalp", W, 200, outline, guides, regions, _marks("scalp")
    )


VIEWS: dict[str, View] = {v.code: v for v in (_front(), _back(), _face(), _scalp())}


# --- looking up ---------------------------------------------------------------------------


def get_view(code: str) -> View:
    try:
        return VIEWS[code]
    except KeyError:
        raise ValueError(
            f"Unknown body map view {code!r}: use one of {', '.join(VIEWS)}."
        ) from None


def region_at(view: str, x: SupportsFloat, y: SupportsFloat) -> Region | None:
    """The most specific region of ``view`` that contains (x, y), or None."""
    fx, fy = float(x), float(y)
    hits = [r for r in get_view(view).regions if r.contains(fx, fy)]
    return min(hits, key=lambda r: r.precedence, default=None)


def regions_for(area_code: str, side: str = "") -> list[Region]:
    """An area's regions on every view; with ``side`` ("left"/"right"), that side's only."""
    return [
        r
        for v in VIEWS.values()
        for r in v.regions
        if r.area == area_code and (not side or r.side == side)
    ]


def check_point(view: str, x: SupportsFloat, y: SupportsFloat) -> Region:
    """The region a charted point lies on, or ValueError with a sentence to show the user."""
    v = get_view(view)
    fx, fy = float(x), float(y)
    if not (math.isfinite(fx) and math.isfinite(fy)):
        raise ValueError("A point needs a place on the map.")
    if not (0 <= fx <= v.width and 0 <= fy <= v.height):
        raise ValueError(f"That point is outside the {v.noun} map.")
    region = region_at(view, fx, fy)
    if region is None:
        raise ValueError(f"That point is outside every area of the {v.noun} map.")
    return region


@cache
def anchor(region: Region) -> Point:
    """A point (1 decimal) near the region's centre that ``region_at`` resolves to it: where
    a keyboard adds a point, and the tests' proof that no region is hidden by others."""
    x0, y0, x1, y1 = region.shape.bbox
    cx, cy = region.shape.centre
    grid = [
        (float(x), float(y))
        for x in range(int(x0), int(x1) + 2)
        for y in range(int(y0), int(y1) + 2)
    ]
    for x, y in sorted([(round(cx, 1), round(cy, 1)), *grid], key=lambda p: math.dist(p, (cx, cy))):
        if region_at(region.view, x, y) == region:
            return float(x), float(y)
    raise ValueError(f"The {region.area} region of the {region.view} view is hidden by others.")


def area_labels() -> dict[str, str]:
    """Area code -> label from the catalogue: the one helper here that reads the database."""
    from mesoclinic.catalogue.models import BodyArea

    return dict(BodyArea.objects.values_list("code", "label"))


def region_title(region: Region, labels: Mapping[str, str] | None = None) -> str:
    """ "Cheeks (left)": the area's label (from ``labels``, else its code) and side."""
    label = (labels or {}).get(region.area) or region.area.replace("-", " ").capitalize()
    return f"{label} ({region.side})" if region.side else label


def _is_treated(region: Region, treated: Collection[tuple[str, str]]) -> bool:
    # An area charted without a side covers both of its sides.
    return (region.area, region.side) in treated or (region.area, "") in treated


def _get(obj: Any, name: str) -> Any:
    return obj[name] if isinstance(obj, Mapping) else getattr(obj, name)


@dataclass(frozen=True)
class _Placed:
    view: str
    x: float
    y: float
    key: str
    label: str
    region: Region | None


def _placed(points: Iterable[Any]) -> list[_Placed]:
    out = []
    for p in points:
        view, x, y = str(_get(p, "view")), float(_get(p, "x")), float(_get(p, "y"))
        region = region_at(view, x, y) if view in VIEWS else None
        out.append(_Placed(view, x, y, str(_get(p, "key")), str(_get(p, "label")), region))
    return out


# --- drawing: SVG -------------------------------------------------------------------------


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def svg_path(strokes: Iterable[Stroke | Shape]) -> str:
    """SVG path data for lines and shapes."""
    return " ".join(
        op + " ".join(_num(a) for a in args)
        for stroke in strokes
        for op, *args in stroke.commands()
    )


def svg_views(
    points: Iterable[Any],
    treated: Collection[tuple[str, str]],
    *,
    interactive: bool,
    labels: Mapping[str, str] | None = None,
) -> list[dict[str, Any]]:
    """What ``charts/_bodymap.html`` draws: one dict per view, in display order.

    ``points``: objects or dicts with ``view, x, y, key, label`` (a point on an unknown view
    is left out). ``treated``: the (area, side) pairs charted; ("cheeks", "") covers both
    sides. ``labels``: area code -> label, for the regions' titles.
    """
    placed, treated = _placed(points), set(treated)
    views = []
    for v in VIEWS.values():
        regions = []
        for r in v.regions:
            x, y = anchor(r)
            on = _is_treated(r, treated)
            regions.append(
                {
                    "area": r.area,
                    "side": r.side,
                    "view": v.code,
                    "d": svg_path([r.shape]),
                    "title": region_title(r, labels),
                    "treated": on,
                    "classes": "region treated" if on else "region",
                    "x": _num(x),
                    "y": _num(y),
                }
            )
        mine = []
        for p in (p for p in placed if p.view == v.code):
            # The number sits up and to the right of the dot, or to its left near the edge.
            right = p.x < v.width - 16
            where = region_title(p.region, labels) if p.region else ""
            mine.append(
                {
                    "view": p.view,
                    "x": p.x,
                    "y": p.y,
                    "key": p.key,
                    "label": p.label,
                    "area": p.region.area if p.region else "",
                    "side": p.region.side if p.region else "",
                    "title": f"Point {p.label}" + (f": {where}" if where else ""),
                    "cx": _num(p.x),
                    "cy": _num(p.y),
                    "tx": _num(p.x + 6 if right else p.x - 6),
                    "ty": _num(max(p.y - 5, 9)),
                    "anchor": "start" if right else "end",
                }
            )
        views.append(
            {
                "code": v.code,
                "label": v.label,
                "width": _num(v.width),
                "height": _num(v.height),
                "viewbox": f"0 0 {_num(v.width)} {_num(v.height)}",
                "outline": svg_path(v.outline),
                "guides": svg_path(v.guides),
                "regions": regions,
                "points": mine,
                "marks": [{"x": _num(x), "y": _num(y), "text": t} for x, y, t in v.marks],
                "interactive": interactive,
            }
        )
    return views


# --- drawing: PDF -------------------------------------------------------------------------

_GAP = 16.0  # between columns, in view units
_CAPTION = 18.0  # below each view, in view units
# On paper, in points, whatever a view's scale.
_DOT = 1.7
_NUMBER_SIZE = 6.5
_CAPTION_SIZE = 7.5


def _layout() -> list[tuple[View, float, float, float]]:
    """(view, left, top, scale) in layout units: the bodies side by side, then the face over
    the scalp, scaled together to the bodies' height."""
    front, back, face, scalp = (VIEWS[c] for c in ("front", "back", "face", "scalp"))
    k = (front.height - _CAPTION) / (face.height + scalp.height)
    left = 2 * (W + _GAP) + (W - W * k) / 2
    return [
        (front, 0, 0, 1),
        (back, W + _GAP, 0, 1),
        (face, left, 0, k),
        (scalp, left, face.height * k + _CAPTION, k),
    ]


def drawing(
    points: Iterable[Any], treated: Collection[tuple[str, str]], *, width_mm: float
) -> Drawing:
    """The four views for a PDF, ``width_mm`` wide; ``points`` and ``treated`` as for
    ``svg_views``."""
    register_fonts()
    tint = colors.linearlyInterpolatedColor(colors.white, ACCENT, 0, 1, 0.16)
    width, height = 3 * W + 2 * _GAP, VIEWS["front"].height + _CAPTION
    s = width_mm * mm / width
    out = Drawing(width * s, height * s)
    placed, treated = _placed(points), set(treated)

    for v, left, top, k in _layout():

        def at(x: float, y: float, left: float = left, top: float = top, k: float = k) -> Point:
            # View units to points on paper, where y runs upwards.
            return (left + x * k) * s, (height - top - y * k) * s

        def path(strokes: Iterable[Stroke | Shape], **style: Any) -> Path:
            p = Path(**style)
            draw = {"M": p.moveTo, "L": p.lineTo, "C": p.curveTo, "Z": p.closePath}
            for stroke in strokes:
                for op, *args in stroke.commands():
                    draw[op](*(c for i in range(0, len(args), 2) for c in at(*args[i : i + 2])))
            return p

        def text(x: float, y: float, value: str, size: float, color: Any, anchor: str) -> String:
            return String(
                x, y, value, fontName=FONT, fontSize=size, fillColor=color, textAnchor=anchor
            )

        # The silhouette's fill goes under the areas and its line over them, so that an
        # area's dashed edge never shows along the outline.
        for stroke in v.outline:
            out.add(path([stroke], fillColor=colors.white, strokeColor=None))
        for r in v.regions:
            if _is_treated(r, treated):
                out.add(path([r.shape], fillColor=tint, strokeColor=ACCENT, strokeWidth=0.5))
            else:
                dashed = {"strokeColor": RULE, "strokeWidth": 0.35, "strokeDashArray": [1.2, 1.2]}
                out.add(path([r.shape], fillColor=None, **dashed))
        out.add(path(v.outline, fillColor=None, strokeColor=MUTED, strokeWidth=0.7))
        out.add(path(v.guides, fillColor=None, strokeColor=MUTED, strokeWidth=0.4))
        for x, y, letter in v.marks:
            mx, my = at(x, y)
            out.add(text(mx, my - 3, letter, _CAPTION_SIZE, MUTED, "middle"))
        out.add(
            text(
                *at(v.width / 2, v.height + _CAPTION * 0.62 / k),
                v.label,
                _CAPTION_SIZE,
                INK,
                "middle",
            )
        )
        for p in (p for p in placed if p.view == v.code):
            px, py = at(p.x, p.y)
            out.add(
                Circle(px, py, _DOT, fillColor=ACCENT, strokeColor=colors.white, strokeWidth=0.4)
            )
            right = p.x < v.width - 16
            out.add(
                text(
                    px + (2.4 if right else -2.4),
                    py + 1.6,
                    p.label,
                    _NUMBER_SIZE,
                    INK,
                    "start" if right else "end",
                )
            )
    return out
