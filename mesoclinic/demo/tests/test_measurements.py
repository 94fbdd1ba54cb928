"""Where the demo measures: each course at a site in the areas it treats, the same site at
every visit, with values of that site's size."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest

from mesoclinic.demo.generator import DEFAULT_PATIENTS, DEFAULT_SEED, build_demo
from mesoclinic.demo.measurements import PROFILES, profile_for
from mesoclinic.demo.tests.test_generator import TODAY
from mesoclinic.outcomes.models import Measurement
from mesoclinic.outcomes.services import site_required

# Every site the demo writes, with the body area it lies in.
SITE_AREAS = {p.site: p.area for profiles in PROFILES.values() for p in profiles if p.site}


def test_a_course_is_read_at_a_site_it_treats() -> None:
    both = profile_for("circumference", {"abdomen", "hips"})
    assert both is not None and both.site == "navel, standing"
    hips = profile_for("circumference", {"hips"})
    assert hips is not None and hips.area == "hips"
    chin = profile_for("circumference", {"submental"})
    assert chin is not None and "neck" in chin.site and chin.baseline[1] < 50
    # A sub-area of a treated area is within reach: the crown of a scalp course.
    crown = profile_for("hair-density", {"scalp", "vertex"})
    assert crown is not None and crown.area == "vertex"


def test_a_scale_without_a_site_reads_any_course_and_an_unread_scale_none() -> None:
    cellulite = profile_for("hexsel-css", {"thighs"})
    assert cellulite is not None and cellulite.site == ""
    assert profile_for("gais", {"face"}) is None


def test_no_site_within_the_treated_areas_is_an_error_not_the_navel() -> None:
    with pytest.raises(ValueError, match="circumference at no site within arms"):
        profile_for("circumference", {"arms"})
    with pytest.raises(ValueError, match="within no area"):
        profile_for("hair-density", set())


@pytest.mark.django_db
@pytest.mark.usefixtures("catalogue")
def test_every_demo_measurement_is_at_a_site_its_course_treats() -> None:
    summary = build_demo(seed=DEFAULT_SEED, patients=DEFAULT_PATIENTS, today=TODAY)
    measurements = list(
        Measurement.objects.select_related("scale", "plan").prefetch_related(
            "plan__areas__sub_areas"
        )
    )
    assert len(measurements) == summary.measurements + summary.history.measurements
    sites: dict[tuple[int, int], set[str]] = defaultdict(set)
    checked = set()
    for m in measurements:
        if site_required(m.scale):
            assert m.site, m
        if not m.site:
            continue
        reach = {
            area.code
            for treated in m.plan.areas.all()
            for area in (treated, *treated.sub_areas.all())
        }
        assert m.site in SITE_AREAS, f"{m.site!r} is no site the demo declares an area for"
        assert SITE_AREAS[m.site] in reach, (m.site, sorted(reach))
        sites[m.plan_id, m.scale_id].add(m.site)
        checked.add(SITE_AREAS[m.site])
    # One site a series: values compare only at the same place.
    assert all(len(found) == 1 for found in sites.values())
    # The old mistake: the double-chin course was measured at the navel, at a waist's size.
    assert {"abdomen", "hips", "thighs", "submental", "vertex", "face"} <= checked
    chin = [m for m in measurements if m.site and SITE_AREAS[m.site] == "submental"]
    assert all(m.scale.code == "circumference" and m.value < Decimal(50) for m in chin)
