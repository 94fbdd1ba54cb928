"""The adjusted comparison between formulas within one indication.

A plain difference of mean changes mixes the formula with who injected it and with how bad
things were at the start: a practitioner who gets better results, or sees milder cases, makes
the formula they prefer look better. So the comparison fits, on one row per course with a
baseline and an end value (never one per session or measurement: the course is the unit),

    change ~ baseline + C(formula)    with a random intercept per practitioner

(statsmodels ``MixedLM``, REML). The baseline term adjusts for where each course started
(including regression to the mean); the random intercept lets each practitioner have their own
level, so that formulas are compared mostly within practitioners. Each formula's coefficient
is its adjusted difference from the reference formula (the one with the most courses), with a
95% Wald interval.

With fewer than ``MIN_PRACTITIONERS`` practitioners a variance between practitioners cannot be
estimated, and a fit can fail or not converge: then ordinary least squares with a fixed effect
per practitioner answers the same question (within practitioners only), and where even that
cannot separate formula from practitioner the comparison says so instead of a number. Only
formulas with at least ``MIN_COURSES`` such courses take part.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf

from mesoclinic.evidence.stats import CONFIDENCE, MIN_COURSES, Estimate

# A formula's adjusted difference from the reference: (value, low, high) by formula code.
Terms = dict[str, tuple[float, float, float]]

# A variance between practitioners estimated from fewer groups than this is mostly noise.
MIN_PRACTITIONERS = 3


@dataclass(frozen=True)
class CourseChange:
    """One course with a baseline and an end value: the unit the model fits."""

    formula: int | None  # the formula's id
    practitioner: int  # the practitioner's id
    baseline: float
    change: float


class Model(StrEnum):
    MIXED = "mixed"  # the linear mixed model
    FIXED = "fixed"  # least squares with practitioner fixed effects
    NONE = "none"  # no comparison, and the description says why


@dataclass(frozen=True)
class Contrast:
    formula: int
    label: str
    courses: int
    difference: Estimate  # the formula's adjusted mean change minus the reference's


@dataclass(frozen=True)
class Comparison:
    model: Model
    description: str  # which model, what it adjusts for, or why there is none
    reference: int | None = None
    reference_label: str = ""
    reference_courses: int = 0
    contrasts: list[Contrast] = field(default_factory=list)
    courses: int = 0
    practitioners: int = 0
    left_out: list[str] = field(default_factory=list)  # formulas with too few courses


def compare_formulas(rows: Sequence[CourseChange], labels: Mapping[Any, str]) -> Comparison:
    """The adjusted differences between the formulas of ``rows`` (one indication's courses)."""
    per_formula = Counter(row.formula for row in rows if row.formula is not None)
    kept = {key for key, n in per_formula.items() if n >= MIN_COURSES}
    left_out = sorted(labels.get(key, str(key)) for key in per_formula if key not in kept)
    if len(kept) < 2:
        return Comparison(
            Model.NONE,
            f"No adjusted comparison: it needs at least two formulas with {MIN_COURSES} or more "
            "courses with a baseline and an end value each.",
            left_out=left_out,
        )
    # The reference is the formula with most courses (ties by label), so that the contrasts
    # are as precise as the data allow.
    reference = max(kept, key=lambda key: (per_formula[key], labels.get(key, "")))
    others = sorted(kept - {reference}, key=lambda key: labels.get(key, str(key)))
    codes: dict[int | None, str] = {key: f"f{i}" for i, key in enumerate([reference, *others])}
    used = [row for row in rows if row.formula in kept]
    baseline = np.array([row.baseline for row in used], dtype=float)
    data = pd.DataFrame(
        {
            "change": [row.change for row in used],
            # Centred: the same contrasts, a better-conditioned fit.
            "baseline": baseline - baseline.mean(),
            "formula": pd.Categorical(
                [codes[row.formula] for row in used], categories=list(codes.values())
            ),
            "practitioner": pd.Categorical([str(row.practitioner) for row in used]),
        }
    )
    practitioners = data["practitioner"].nunique()
    base = Comparison(
        Model.NONE,
        "",
        reference=reference,
        reference_label=labels.get(reference, str(reference)),
        reference_courses=per_formula[reference],
        courses=len(used),
        practitioners=practitioners,
        left_out=left_out,
    )

    def contrasts(terms: Terms) -> list[Contrast]:
        return [
            Contrast(
                key,
                labels.get(key, str(key)),
                per_formula[key],
                Estimate(*terms[codes[key]], per_formula[key]),
            )
            for key in others
        ]

    fixed_model = _fixed_model(data, practitioners)
    if not _separable(fixed_model):
        # A random intercept would still give a number, but one drawn from the differences
        # between practitioners, not between formulas: no practitioner used both.
        return replace(
            base,
            description=(
                "No adjusted comparison: the formulas cannot be told apart from the "
                "practitioners who use them (too few practitioners used more than one formula)."
            ),
        )
    if practitioners >= MIN_PRACTITIONERS:
        mixed = _mixed(data, list(codes.values()))
        if mixed is not None:
            return replace(
                base,
                model=Model.MIXED,
                description=(
                    "Linear mixed model (statsmodels MixedLM, REML), one row per course: "
                    "change from baseline ~ baseline value + formula, with a random intercept "
                    "per practitioner. Adjusted for the baseline value; accounts for "
                    f"practitioner ({practitioners} practitioners, {len(used)} courses). Each "
                    "difference is from the reference formula, with a 95% Wald interval."
                ),
                contrasts=contrasts(mixed),
            )
        why_not_mixed = "The mixed model could not be fitted or did not converge"
    else:
        why_not_mixed = (
            f"Not enough practitioners for a mixed model ({practitioners}; it needs "
            f"{MIN_PRACTITIONERS})"
        )
    fixed = _fixed(fixed_model, list(codes.values()))
    if fixed is None:
        return replace(
            base, description=f"{why_not_mixed}, and least squares gave no finite estimate."
        )
    practitioner_part = (
        "with a fixed effect per practitioner, so that formulas are compared within practitioners"
        if practitioners > 1
        else "all by one practitioner, so that practitioner cannot differ"
    )
    return replace(
        base,
        model=Model.FIXED,
        description=(
            f"{why_not_mixed}; instead ordinary least squares, one row per course: change from "
            f"baseline ~ baseline value + formula, {practitioner_part} ({len(used)} courses). "
            "Adjusted for the baseline value. Each difference is from the reference formula, "
            "with a 95% t interval."
        ),
        contrasts=contrasts(fixed),
    )


def _mixed(data: pd.DataFrame, codes: list[str]) -> Terms | None:
    with warnings.catch_warnings():
        # Non-convergence is read from the result below; the warnings say the same.
        warnings.simplefilter("ignore")
        try:
            result = smf.mixedlm(
                "change ~ baseline + C(formula)", data, groups=data["practitioner"]
            ).fit(reml=True)
        except (ValueError, np.linalg.LinAlgError):
            return None
        if not result.converged:
            return None
        return _formula_terms(result.params, result.conf_int(alpha=1 - CONFIDENCE), codes)


def _fixed_model(data: pd.DataFrame, practitioners: int) -> Any:
    formula = "change ~ baseline + C(formula)"
    if practitioners > 1:
        formula += " + C(practitioner)"
    return smf.ols(formula, data)


def _separable(model: Any) -> bool:
    """Whether formula can be told from practitioner: least squares answers even when they
    coincide (a pseudo-inverse), so refuse a design whose columns do not separate them, or
    with nothing left for the error."""
    exog = model.exog
    return bool(np.linalg.matrix_rank(exog) == exog.shape[1] and exog.shape[0] > exog.shape[1])


def _fixed(model: Any, codes: list[str]) -> Terms | None:
    result = model.fit()
    return _formula_terms(result.params, result.conf_int(alpha=1 - CONFIDENCE), codes)


def _formula_terms(params: pd.Series, intervals: pd.DataFrame, codes: list[str]) -> Terms | None:
    """The formulas' coefficients with their intervals (the first code is the reference), or
    ``None`` if any is not finite."""
    found = {}
    for code in codes[1:]:
        name = f"C(formula)[T.{code}]"
        value, low, high = params[name], intervals.loc[name, 0], intervals.loc[name, 1]
        if not all(math.isfinite(x) for x in (value, low, high)):
            return None
        found[code] = (float(value), float(low), float(high))
    return found
