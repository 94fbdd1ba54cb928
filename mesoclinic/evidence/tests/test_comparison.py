"""The adjusted comparison's choice of model, and the coverage of the outcome intervals over
simulated registries with planted truth.

The simulations run in memory (numpy), with the structure of ``evidence.testing``'s registry
and more that a clinic's data has: practitioners with their own effect on the change, their
own case mix (baseline) and their own preferences among formulas (so that a plain difference
between formulas is confounded), regression to the mean, and drop-out at random. They go
through the same functions as the page: ``effects.summarise`` turns a formula's n, sum and sum
of squares into its mean change and interval, ``comparison.compare_formulas`` fits the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from mesoclinic.evidence import comparison
from mesoclinic.evidence.comparison import CourseChange, Model, compare_formulas
from mesoclinic.evidence.effects import Counts, summarise
from mesoclinic.evidence.stats import MIN_COURSES

LABELS = {1: "Formula A", 2: "Formula B", 3: "Formula C"}


def _rows(
    rng: np.random.Generator,
    plan: list[tuple[int, int, int]],  # (formula, practitioner, courses)
    effects: dict[int, float],
    practitioner_effects: dict[int, float] | None = None,
) -> list[CourseChange]:
    rows = []
    for formula, practitioner, courses in plan:
        shift = (practitioner_effects or {}).get(practitioner, 0.0)
        for _ in range(courses):
            baseline = rng.normal(8, 2)
            change = effects[formula] + shift - 0.3 * (baseline - 8) + rng.normal(0, 1)
            rows.append(CourseChange(formula, practitioner, baseline, change))
    return rows


def test_one_formula_is_no_comparison() -> None:
    rows = _rows(np.random.default_rng(1), [(1, 10, 20), (2, 10, MIN_COURSES - 1)], {1: -2, 2: -1})
    result = compare_formulas(rows, LABELS)
    assert result.model is Model.NONE
    assert result.contrasts == []
    assert "at least two formulas" in result.description
    assert result.left_out == ["Formula B"]


def test_mixed_model_with_enough_practitioners() -> None:
    rng = np.random.default_rng(2)
    plan = [(f, p, 8) for f in (1, 2, 3) for p in (10, 11, 12, 13)]
    rows = _rows(rng, plan, {1: -2, 2: -1, 3: -2}, {10: 1.0, 11: -1.0, 12: 0.5, 13: 0.0})
    rows += _rows(rng, [(1, 10, 4)], {1: -2})  # Formula A the largest: the reference
    result = compare_formulas(rows, LABELS)
    assert result.model is Model.MIXED
    assert (
        "MixedLM" in result.description
        and "random intercept per practitioner" in result.description
    )
    assert "Adjusted for the baseline value" in result.description
    assert (result.reference, result.reference_label, result.reference_courses) == (
        1,
        "Formula A",
        36,
    )
    assert (result.courses, result.practitioners) == (100, 4)
    by_label = {c.label: c for c in result.contrasts}
    assert set(by_label) == {"Formula B", "Formula C"}
    b = by_label["Formula B"].difference
    assert b.low < 1 < b.high and b.n == 32
    assert by_label["Formula C"].difference.low < 0 < by_label["Formula C"].difference.high


def test_few_practitioners_fall_back_to_fixed_effects() -> None:
    rng = np.random.default_rng(3)
    rows = _rows(rng, [(f, p, 8) for f in (1, 2) for p in (10, 11)], {1: -2, 2: -1}, {10: 2.0})
    result = compare_formulas(rows, LABELS)
    assert result.model is Model.FIXED
    assert result.description.startswith("Not enough practitioners for a mixed model (2;")
    assert "fixed effect per practitioner" in result.description
    (contrast,) = result.contrasts
    assert contrast.difference.low < contrast.difference.value < contrast.difference.high


def test_one_practitioner_is_least_squares_without_practitioner_term() -> None:
    rows = _rows(np.random.default_rng(4), [(1, 10, 10), (2, 10, 10)], {1: -2, 2: -1})
    result = compare_formulas(rows, LABELS)
    assert result.model is Model.FIXED
    assert "all by one practitioner" in result.description


def test_formula_confounded_with_practitioner_is_no_comparison() -> None:
    # Each practitioner uses one formula only: least squares with practitioner effects cannot
    # tell them apart, and says so rather than return the pseudo-inverse's arbitrary answer.
    rows = _rows(np.random.default_rng(5), [(1, 10, 10), (2, 11, 10)], {1: -2, 2: -1})
    result = compare_formulas(rows, LABELS)
    assert result.model is Model.NONE
    assert "cannot be told apart from the practitioners" in result.description


def test_with_enough_practitioners_still_no_mixed_model_when_none_used_two_formulas() -> None:
    # Four practitioners, two on each formula: a random intercept would fit and credit the
    # practitioners' own difference to the formulas. No formula effect is planted.
    rng = np.random.default_rng(8)
    plan = [(1, 10, 8), (1, 11, 8), (2, 12, 8), (2, 13, 8)]
    rows = _rows(rng, plan, {1: -1, 2: -1}, {12: 1.5, 13: 1.5})
    result = compare_formulas(rows, LABELS)
    assert result.model is Model.NONE
    assert not result.contrasts
    assert "cannot be told apart from the practitioners" in result.description


def test_a_mixed_model_that_fails_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comparison, "_mixed", lambda data, codes: None)
    rng = np.random.default_rng(6)
    rows = _rows(rng, [(f, p, 6) for f in (1, 2) for p in (10, 11, 12)], {1: -2, 2: -1})
    result = compare_formulas(rows, LABELS)
    assert result.model is Model.FIXED
    assert result.description.startswith("The mixed model could not be fitted or did not converge")


def test_courses_without_a_formula_take_no_part() -> None:
    rng = np.random.default_rng(7)
    rows = _rows(rng, [(1, 10, 10), (2, 10, 10)], {1: -2, 2: -1})
    rows += [CourseChange(None, 10, 8.0, 5.0)] * 10
    assert compare_formulas(rows, LABELS).courses == 20


# --- coverage over simulated registries --------------------------------------------------------

SEEDS = 200
EFFECTS = np.array([-2.0, -1.0, -1.5])  # planted mean change of each formula, alike for all
BETA = -0.3  # regression to the mean: a worse start, a larger fall


@dataclass
class Simulated:
    rows: list[CourseChange]  # complete courses
    counts: dict[int, Counts]  # by formula, as the database would sum them
    mean_truth: dict[int, float]  # the planted mean change of the formula's courses


def simulate(seed: int) -> Simulated:
    """One clinic: 8 practitioners, 150 courses, 3 formulas, 10% without baseline and a fifth
    of the rest without end, at random."""
    rng = np.random.default_rng(seed)
    practitioners, courses, mu = 8, 150, 8.0
    u = rng.normal(0, 0.8, practitioners)  # practitioner's effect on the change
    d = rng.normal(0, 1.0, practitioners)  # practitioner's case mix: their patients' baseline
    preference = rng.dirichlet(np.ones(3), practitioners)  # each one's choice among formulas
    who = rng.integers(0, practitioners, courses)
    formula = np.array([rng.choice(3, p=preference[p]) for p in who])
    baseline = mu + d[who] + rng.normal(0, 1.5, courses)
    change = EFFECTS[formula] + u[who] + BETA * (baseline - mu) + rng.normal(0, 1.2, courses)
    has_baseline = rng.random(courses) >= 0.10
    complete = has_baseline & (rng.random(courses) >= 0.20)
    # A formula's courses come from practitioner p with probability proportional to p's
    # preference for it (practitioners see equally many patients): its expected change.
    weights = preference / preference.sum(axis=0)
    mean_truth = {f: float(EFFECTS[f] + weights[:, f] @ (u + BETA * d)) for f in range(3)}
    counts = {}
    for f in range(3):
        mine = formula == f
        done = change[mine & complete]
        counts[f] = Counts(
            courses=int(mine.sum()),
            without_baseline=int((mine & ~has_baseline).sum()),
            ended_without_end=int((mine & has_baseline & ~complete).sum()),
            complete=len(done),
            change_sum=float(done.sum()),
            change_sum_of_squares=float((done**2).sum()),
        )
    rows = [
        CourseChange(int(formula[i]), int(who[i]), float(baseline[i]), float(change[i]))
        for i in np.flatnonzero(complete)
    ]
    return Simulated(rows, counts, mean_truth)


def test_intervals_cover_the_planted_truth_in_95_percent_of_registries() -> None:
    means_in = means = contrasts_in = contrasts = mixed = 0
    for seed in range(SEEDS):
        world = simulate(seed)
        for f, counts in world.counts.items():
            estimate = summarise(f, str(f), counts, has_share=False).change
            if estimate is not None:
                means += 1
                means_in += estimate.low <= world.mean_truth[f] <= estimate.high
        result = compare_formulas(world.rows, {f: f"F{f}" for f in range(3)})
        mixed += result.model is Model.MIXED
        for contrast in result.contrasts:
            truth = EFFECTS[contrast.formula] - EFFECTS[result.reference]
            contrasts += 1
            contrasts_in += contrast.difference.low <= truth <= contrast.difference.high
    mean_coverage, contrast_coverage = means_in / means, contrasts_in / contrasts
    print(
        f"\nCoverage over {SEEDS} registries: per-formula mean change {mean_coverage:.3f} "
        f"({means} intervals); mixed-model contrast {contrast_coverage:.3f} ({contrasts} "
        f"intervals); mixed model used in {mixed} of {SEEDS}."
    )
    assert mixed >= 0.95 * SEEDS
    assert means >= 2.9 * SEEDS and contrasts >= 1.9 * SEEDS
    # About 95%: within the binomial range for this many intervals (not all independent
    # within a registry). For comparison, a plain difference of means between formulas
    # (least squares on formula alone) covers the planted contrast in about 85% of them.
    assert 0.92 <= mean_coverage <= 0.98
    assert 0.91 <= contrast_coverage <= 0.99
