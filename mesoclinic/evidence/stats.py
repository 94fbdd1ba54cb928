"""The few statistics the evidence pages share, as plain functions of counts and sums, so that
the database does the summing and Python only turns aggregated rows into estimates.

Estimates are floats: they are statistics, not doses or money.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

# Below this many courses (or sessions, for a rate's denominator) a report shows
# "not enough data" instead of a figure: an interval over fewer says almost nothing.
MIN_COURSES = 5
NOT_ENOUGH_DATA = "Not enough data"
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A figure with its 95% interval and the N it stands on."""

    value: float
    low: float
    high: float
    n: int


def mean_interval(n: int, total: float, total_of_squares: float) -> Estimate | None:
    """The mean of ``n`` values from their sum and sum of squares, with the t interval;
    ``None`` below two values, where no interval exists."""
    if n < 2:
        return None
    mean = total / n
    # Guard the tiny negative a float subtraction can leave when all values are equal.
    variance = max((total_of_squares - n * mean * mean) / (n - 1), 0.0)
    half = scipy_stats.t.ppf((1 + CONFIDENCE) / 2, n - 1) * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half, n)


def wilson(events: int, trials: int) -> Estimate | None:
    """A proportion with its Wilson interval, which stays inside 0-1 and behaves at 0 events;
    ``None`` without trials."""
    if trials <= 0:
        return None
    if not 0 <= events <= trials:
        raise ValueError(f"{events} events cannot come from {trials} trials.")
    low, high = proportion_confint(events, trials, alpha=1 - CONFIDENCE, method="wilson")
    return Estimate(events / trials, float(low), float(high), trials)


def binomial_upper_tail(events: int, trials: int, rate: float) -> float:
    """P(X >= events) for X ~ Binomial(trials, rate): the one-sided exact test of an excess."""
    if events <= 0:
        return 1.0
    return float(scipy_stats.binom.sf(events - 1, trials, rate))
