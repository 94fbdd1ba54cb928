"""The body map's geometry against the catalogue, the sides, the SVG data and the PDF drawing.
No database: the catalogue is read from its TOML file."""

from __future__ import annotations

import math
import re
import tomllib
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from django.template.loader import render_to_string
from hypothesis import given
from hypothesis import strategies as st
from reportlab.graphics import renderPDF
from reportlab.lib.units import mm

from mesoclinic.charts import bodymap
from mesoclinic.charts.bodymap import Ellipse, Polygon, Region

CATALOGUE = Path(bodymap.__file__).resolve().parents[1] / "catalogue" / "data" / "body_areas.toml"
AREAS = {a["code"]: a for a in tomllib.loads(CATALOGUE.read_text())["body_area"]}
ALL_REGIONS = [r for v in bodymap.VIEWS.values() for r in v.regions]


def found(view: str, x: float, y: float) -> tuple[str, str] | None:
    region = bodymap.region_at(view, x, y)
    return (region.area, region.side) if region else None


# --- the catalogue ------------------------------------------------------------------------


@pytest.mark.parametrize("code", sorted(AREAS))
def test_every_catalogue_area_has_its_regions(code: str) -> None:
    area = AREAS[code]
    regions = bodymap.regions_for(code)
    assert any(r.view == area["view"] for r in regions), "none on the area's own view"
    if area.get("paired", False):
        for view in {r.view for r in regions}:
            assert {r.side for r in regions if r.view == view} == {"left", "right"}
    else:
        assert {r.side for r in regions} == {""}


def test_regions_name_only_catalogue_areas_and_parents_match() -> None:
    assert {r.area for r in ALL_REGIONS} == set(AREAS)
    parents = {code: a["parent"] for code, a in AREAS.items() if "parent" in a}
    assert parents == bodymap.PARENTS


def test_views_and_their_boxes() -> None:
    sizes = {v.code: (v.width, v.height) for v in bodymap.VIEWS.values()}
    assert sizes == {
        "front": (200, 420),
        "back": (200, 420),
        "face": (200, 240),
        "scalp": (200, 200),
    }
    for region in ALL_REGIONS:
        x0, y0, x1, y1 = region.shape.bbox
        view = bodymap.VIEWS[region.view]
        assert min(x0, y0) >= 0 and x1 <= view.width and y1 <= view.height, region


def test_no_region_is_hidden_by_others() -> None:
    for region in ALL_REGIONS:
        x, y = bodymap.anchor(region)
        assert bodymap.region_at(region.view, x, y) == region
        assert (round(x, 1), round(y, 1)) == (x, y)


# --- finding a point's region ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "x", "y", "expected"),
    [
        ("face", 100, 55, ("forehead", "")),
        ("face", 66, 126, ("cheeks", "right")),
        ("face", 134, 126, ("cheeks", "left")),
        ("face", 82, 140, ("nasolabial-folds", "right")),
        ("face", 100, 110, ("face", "")),  # the nose: face, no sub-area
        ("face", 100, 170, ("chin", "")),
        ("face", 100, 192, ("submental", "")),
        ("face", 100, 215, ("neck", "")),
        ("face", 100, 20, None),  # hair
        ("face", 5, 5, None),
        ("front", 100, 36, ("face", "")),
        ("front", 100, 165, ("abdomen", "")),
        ("front", 54, 122, ("arms", "right")),
        ("front", 70, 200, ("hips", "right")),
        ("front", 118, 250, ("thighs", "left")),
        ("front", 82, 345, ("legs", "right")),
        ("front", 100, 110, None),  # the chest is no catalogue area
        ("front", 10, 400, None),
        ("back", 100, 36, ("scalp", "")),
        ("back", 54, 122, ("arms", "left")),
        ("back", 83, 205, ("buttocks", "left")),
        ("back", 125, 168, ("hips", "right")),
        ("back", 82, 260, ("thighs", "left")),
        ("scalp", 100, 126, ("vertex", "")),
        ("scalp", 100, 80, ("scalp", "")),
        ("scalp", 100, 36, None),  # the forehead, in front of the hairline
    ],
)
def test_region_at_hand_picked_points(
    view: str, x: float, y: float, expected: tuple[str, str] | None
) -> None:
    assert found(view, x, y) == expected


def test_a_sub_area_wins_over_its_parent() -> None:
    face = bodymap.regions_for("face")
    face_view = next(r for r in face if r.view == "face")
    for code in ("forehead", "cheeks", "nasolabial-folds", "chin"):
        for region in bodymap.regions_for(code):
            x, y = bodymap.anchor(region)
            assert face_view.contains(x, y), f"{code} lies on the face"
            assert bodymap.region_at("face", x, y) == region
    vertex = bodymap.regions_for("vertex")[0]
    assert bodymap.regions_for("scalp", "")[1].contains(*bodymap.anchor(vertex))


def test_the_smaller_region_wins_among_equals() -> None:
    # The nasolabial band overlaps nothing but the face: the cheek ends at its edge.
    fold = bodymap.regions_for("nasolabial-folds", "right")[0]
    cheek = bodymap.regions_for("cheeks", "right")[0]
    assert fold.shape.area < cheek.shape.area
    assert bodymap.region_at("face", *bodymap.anchor(fold)) == fold


def test_sides_are_the_patients() -> None:
    # Facing the viewer (front, face) the patient's right is on the viewer's left; from
    # behind (back) and from above (scalp), the patient's left is.
    on_viewers_left = {"front": "right", "face": "right", "back": "left", "scalp": "left"}
    paired = [r for r in ALL_REGIONS if r.side]
    assert {r.view for r in paired} == {"front", "back", "face"}
    for region in paired:
        x, _ = bodymap.anchor(region)
        expected = on_viewers_left[region.view]
        assert (region.side == expected) == (x < 100), region
    for view in bodymap.VIEWS.values():
        (_, _, left), (_, _, right) = sorted(view.marks)
        assert left == on_viewers_left[view.code][0].upper()
        assert {left, right} == {"L", "R"}


def test_paired_regions_mirror_each_other() -> None:
    # Off every edge (no vertex is on these odd fractions), a point and its mirror image lie
    # on the same area, on opposite sides.
    other = {"left": "right", "right": "left", "": ""}
    for view in bodymap.VIEWS.values():
        for i in range(67):
            for j in range(int(view.height / 3)):
                x, y = 0.37 + 3 * i, 0.53 + 3 * j
                here, there = found(view.code, x, y), found(view.code, 200 - x, y)
                assert (here and (here[0], other[here[1]])) == there, (view.code, x, y)


def test_regions_for() -> None:
    assert [(r.view, r.side) for r in bodymap.regions_for("cheeks", "left")] == [("face", "left")]
    arms = bodymap.regions_for("arms")
    assert sorted((r.view, r.side) for r in arms) == [
        ("back", "left"),
        ("back", "right"),
        ("front", "left"),
        ("front", "right"),
    ]
    assert bodymap.regions_for("knees") == []


def test_unknown_view() -> None:
    with pytest.raises(ValueError, match="Unknown body map view 'side'"):
        bodymap.region_at("side", 1, 1)


# --- checking a charted point ---------------------------------------------------------------


def test_check_point_returns_the_region() -> None:
    region = bodymap.check_point("face", Decimal("134.0"), Decimal("126.5"))
    assert (region.area, region.side) == ("cheeks", "left")


@pytest.mark.parametrize(
    ("view", "x", "y", "message"),
    [
        ("face", 5, 5, "That point is outside every area of the face map."),
        ("front", 100, 110, "That point is outside every area of the front body map."),
        ("face", 100, 241, "That point is outside the face map."),
        ("scalp", -1, 100, "That point is outside the scalp map."),
        ("face", math.nan, 10, "A point needs a place on the map."),
        ("top", 10, 10, "Unknown body map view 'top': use one of front, back, face, scalp."),
    ],
)
def test_check_point_refuses(view: str, x: float, y: float, message: str) -> None:
    with pytest.raises(ValueError) as error:
        bodymap.check_point(view, x, y)
    assert str(error.value) == message


# --- shapes ---------------------------------------------------------------------------------


def test_polygon_is_exact_on_a_concave_shape() -> None:
    # An L: the square (0,0)-(10,10) without its top-right quarter.
    ell = Polygon(((0, 0), (5, 0), (5, 5), (10, 5), (10, 10), (0, 10)))
    assert ell.contains(2, 2) and ell.contains(8, 8) and ell.contains(2, 8)
    assert not ell.contains(8, 2)  # the notch
    assert not ell.contains(-0.01, 5) and not ell.contains(10.01, 8)
    assert ell.area == 75
    assert ell.bbox == (0, 0, 10, 10)


@given(st.floats(-5, 15), st.floats(-5, 15))
def test_polygon_agrees_with_a_rectangle(x: float, y: float) -> None:
    box = Polygon(((1, 2), (9, 2), (9, 7), (1, 7)))
    if x not in (1, 9) and y not in (2, 7):  # off the edges, where either answer is fair
        assert box.contains(x, y) == (1 < x < 9 and 2 < y < 7)


@given(st.floats(-5, 25), st.floats(-5, 25))
def test_ellipse_is_exact(x: float, y: float) -> None:
    shape = Ellipse(10, 10, 8, 4)
    assert shape.contains(x, y) == (((x - 10) / 8) ** 2 + ((y - 10) / 4) ** 2 < 1)


@st.composite
def view_points(draw: st.DrawFn) -> tuple[str, float, float]:
    view = bodymap.VIEWS[draw(st.sampled_from(list(bodymap.VIEWS)))]
    x = draw(st.floats(0, view.width))
    y = draw(st.floats(0, view.height))
    return view.code, x, y


@given(view_points())
def test_region_at_is_total_and_right(point: tuple[str, float, float]) -> None:
    view, x, y = point
    region = bodymap.region_at(view, x, y)
    if region is None:
        assert not any(r.contains(x, y) for r in bodymap.VIEWS[view].regions)
        return
    assert isinstance(region, Region) and region.view == view
    assert region.contains(x, y)
    rivals = [r for r in bodymap.VIEWS[view].regions if r.contains(x, y)]
    assert region.precedence == min(r.precedence for r in rivals)


# --- SVG ------------------------------------------------------------------------------------

POINTS = [
    {"view": "face", "x": 100, "y": 55, "key": "1", "label": "1"},
    {"view": "face", "x": Decimal("66.0"), "y": Decimal("126.0"), "key": "2", "label": "2"},
    {"view": "front", "x": 100, "y": 165, "key": "3", "label": "3"},
    {"view": "front", "x": 195, "y": 10, "key": "4", "label": "4"},  # on no area
    {"view": "side", "x": 1, "y": 1, "key": "5", "label": "5"},  # on no view: left out
]
TREATED = {("forehead", ""), ("cheeks", ""), ("thighs", "left")}


def test_svg_views_places_points_and_marks_treated_regions() -> None:
    views = {v["code"]: v for v in bodymap.svg_views(POINTS, TREATED, interactive=True)}
    assert list(views) == ["front", "back", "face", "scalp"]
    face = views["face"]
    assert face["viewbox"] == "0 0 200 240"
    assert face["outline"].startswith("M") and face["guides"]
    assert [(p["key"], p["area"], p["side"]) for p in face["points"]] == [
        ("1", "forehead", ""),
        ("2", "cheeks", "right"),
    ]
    assert [(p["key"], p["area"]) for p in views["front"]["points"]] == [
        ("3", "abdomen"),
        ("4", ""),
    ]
    assert views["front"]["points"][1]["anchor"] == "end"  # its number stays inside the box
    assert not views["back"]["points"] and not views["scalp"]["points"]

    def treated(view: str) -> set[tuple[str, str]]:
        return {(r["area"], r["side"]) for r in views[view]["regions"] if r["treated"]}

    assert treated("face") == {("forehead", ""), ("cheeks", "left"), ("cheeks", "right")}
    assert treated("front") == treated("back") == {("thighs", "left")}
    region = next(r for r in face["regions"] if r["area"] == "cheeks" and r["side"] == "left")
    assert region["classes"] == "region treated"
    assert region["d"].startswith("M") and region["d"].endswith("Z")
    assert region["title"] == "Cheeks (left)"
    assert found("face", float(region["x"]), float(region["y"])) == ("cheeks", "left")


def test_svg_views_uses_the_labels_given() -> None:
    views = bodymap.svg_views(
        POINTS, set(), interactive=False, labels={"cheeks": "Joues", "nasolabial-folds": "Plis"}
    )
    face = next(v for v in views if v["code"] == "face")
    titles = {r["title"] for r in face["regions"]}
    assert {"Joues (left)", "Plis (right)", "Forehead", "Submental"} <= titles
    assert face["points"][1]["title"] == "Point 2: Joues (right)"
    assert not any(r["treated"] for v in views for r in v["regions"])


def test_the_template_draws_every_region_and_point() -> None:
    views = bodymap.svg_views(POINTS, TREATED, interactive=True)
    html = render_to_string(
        "charts/_bodymap.html", {"bodymap_views": views, "bodymap_form_id": "chart-form"}
    )
    assert html.count('class="region') == len(ALL_REGIONS)
    assert html.count('class="region treated"') == 5  # forehead, 2 cheeks, 2 left thighs
    assert html.count('<circle class="point"') == 4
    assert html.count('data-form="chart-form"') == 4
    assert html.count('role="group"') == 4
    assert 'data-area="nasolabial-folds" data-side="left" data-view="face"' in html
    assert "<title>Cheeks (left) (charted)</title>" in html
    assert re.search(r"charts/bodymap\.(\w+\.)?js", html)
    assert re.search(r"charts/bodymap\.(\w+\.)?css", html)
    assert 'tabindex="0"' in html


def test_the_template_shown_only_has_no_controls() -> None:
    views = bodymap.svg_views(POINTS, TREATED, interactive=False)
    html = render_to_string("charts/_bodymap.html", {"bodymap_views": views})
    assert html.count('class="region') == len(ALL_REGIONS)
    for control in ("bodymap.js", "data-form", "tabindex", 'role="button"', "point-hit"):
        assert control not in html
    assert "<figcaption>Face and neck</figcaption>" in html


# --- PDF ------------------------------------------------------------------------------------


def test_drawing_fits_the_width_and_renders_to_pdf() -> None:
    figure = bodymap.drawing(POINTS, TREATED, width_mm=170)
    assert figure.width == pytest.approx(170 * mm)
    assert 0 < figure.height < figure.width
    data = renderPDF.drawToString(figure)
    assert data.startswith(b"%PDF")
    document = pdfium.PdfDocument(data)
    try:
        page = document[0]
        assert page.get_size() == pytest.approx((figure.width, figure.height), abs=1)
        text = page.get_textpage().get_text_range()
        for caption in ("Front", "Back", "Face and neck", "Scalp (from above)"):
            assert caption in text
        assert "3" in text and "5" not in text  # point 5 is on no view
    finally:
        document.close()


def test_drawing_scales_with_the_width() -> None:
    small = bodymap.drawing([], set(), width_mm=80)
    large = bodymap.drawing([], set(), width_mm=160)
    assert small.width == pytest.approx(80 * mm)
    assert large.height == pytest.approx(2 * small.height)
