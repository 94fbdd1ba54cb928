"""Safety evidence: how often side effects follow a session, by what was given and who gave it,
how long they last, and whether bruising and swelling settle within 24 hours as the seed says.

The units:

- a **session** is a signed chart of one of the scope's clinics, dated by its appointment's
  start in the clinic's own calendar (as ``followup.services.session_day`` dates it);
- a **course** is a plan with at least one such session;
- a session (course) **has** a side effect when at least one adverse event of that kind, not
  retracted, hangs on it (on one of its sessions). A session with two bruises, or with two
  lots in one syringe, still counts once: every count below is of distinct sessions.

Every figure is a grouped query: Python receives one row per side effect, formula, lot, month
or number of days, never one per session, and turns those counts into Wilson intervals.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    QuerySet,
)
from django.db.models.functions import TruncMonth
from scipy import stats as scipy_stats

from mesoclinic.catalogue.models import SideEffect
from mesoclinic.charts.models import Chart, Device, Syringe, SyringeLot
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.evidence.filters import Filters, practitioner_label, pseudonym
from mesoclinic.evidence.stats import CONFIDENCE, MIN_COURSES, Estimate, wilson
from mesoclinic.followup.models import RESOLVED_OUTCOMES, AdverseEvent

# The seed's claim: bruising and swelling settle within 24 hours.
SEED_CLAIM_CODES = ("bruising", "swelling")
# Dates of onset and resolution are kept to the day, so "within 24 hours" can only be read as
# "resolved on the day it began or the next".
WITHIN_DAYS = 1
# The 24-hour follow-up asks whether each side effect is still there. Answered from 24 to 48
# hours after the session ended, it is the next day's check; answered earlier it says nothing
# about 24 hours, and a "none" answered later says nothing about the first day.
CHECK_FROM = timedelta(hours=24)
CHECK_UNTIL = timedelta(hours=48)
OTHER_KEY = "other"
OTHER_LABEL = "Other (not yet coded)"


# --- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """Units (sessions or courses) with at least one side effect, of ``units``; the estimate
    is ``None`` below MIN_COURSES units, where the page says "not enough data"."""

    label: str
    events: int
    units: int
    estimate: Estimate | None

    @property
    def enough(self) -> bool:
        return self.estimate is not None

    # Percentages for the page and the plots; the CSV keeps proportions.
    @property
    def percent(self) -> float | None:
        return None if self.estimate is None else 100 * self.estimate.value

    @property
    def low_percent(self) -> float | None:
        return None if self.estimate is None else 100 * self.estimate.low

    @property
    def high_percent(self) -> float | None:
        return None if self.estimate is None else 100 * self.estimate.high


def rate(label: str, events: int, units: int) -> Rate:
    return Rate(label, events, units, wilson(events, units) if units >= MIN_COURSES else None)


@dataclass(frozen=True)
class SideEffectRates:
    code: str
    label: str
    per_session: Rate
    per_course: Rate


@dataclass(frozen=True)
class Grouping:
    """The rate of any side effect per session, one row per formula, lot, device..."""

    key: str
    title: str
    unit_note: str
    rows: list[Rate]


@dataclass(frozen=True)
class MonthRate:
    month: date  # the first day of the month, in the clinics' calendars
    rate: Rate


@dataclass(frozen=True)
class Quantiles:
    median: float
    q1: float
    q3: float
    # The distribution-free 95% interval of the median (order statistics); None when too few
    # values for one.
    median_low: float | None
    median_high: float | None


@dataclass(frozen=True)
class Resolution:
    """Days from onset to resolution of one side effect's events."""

    code: str
    label: str
    resolved: int  # with a resolution date: the N of the quantiles
    resolved_undated: int  # marked resolved, the date not recorded
    unresolved: int  # ongoing, recovering or unknown
    quantiles: Quantiles | None  # None below MIN_COURSES resolved events


@dataclass(frozen=True)
class WithinADay:
    """The seed's claim from the events' dates: of the events resolved with a date, the share
    resolved on the day they began or the next."""

    code: str
    label: str
    share: Rate  # events: resolved within a day; units: resolved with a date
    later: int
    resolved_undated: int
    unresolved: int


@dataclass(frozen=True)
class NextDayCheck:
    """The seed's claim from the 24-hour follow-up: of the sessions checked the next day
    (24 to 48 hours after they ended), the share where the side effect was still there."""

    code: str
    label: str
    still_present: Rate  # events: sessions with it present at the check; units: checked


@dataclass(frozen=True)
class FollowUpTiming:
    """How many sessions' follow-ups fall in the next-day window, and how many do not."""

    answered: int
    in_window: int
    earlier: int
    later: int


@dataclass(frozen=True)
class SafetyReport:
    sessions: int
    courses: int
    any_per_session: Rate
    any_per_course: Rate
    by_side_effect: list[SideEffectRates]
    groupings: list[Grouping]
    by_month: list[MonthRate]
    resolution: list[Resolution]
    within_a_day: list[WithinADay]
    next_day_check: list[NextDayCheck]
    follow_up_timing: FollowUpTiming

    @property
    def month_rates(self) -> list[Rate]:
        return [m.rate for m in self.by_month]


# --- pure statistics of aggregated rows ------------------------------------------------------


def _order_statistic(ordered: list[tuple[int, int]], index: int) -> int:
    """The value at 0-based ``index`` of the sorted values given as (value, count) pairs."""
    seen = 0
    for value, count in ordered:
        seen += count
        if index < seen:
            return value
    raise IndexError(index)


def quantile(counts: Mapping[int, int], p: float) -> float:
    """The ``p`` quantile of values given as value -> how many, interpolating linearly
    between order statistics (numpy's default), without expanding them."""
    ordered = sorted((value, count) for value, count in counts.items() if count > 0)
    n = sum(count for _, count in ordered)
    if n == 0:
        raise ValueError("No values.")
    position = p * (n - 1)
    below = math.floor(position)
    low = _order_statistic(ordered, below)
    if position == below:
        return float(low)
    high = _order_statistic(ordered, below + 1)
    return low + (position - below) * (high - low)


def median_interval(counts: Mapping[int, int]) -> tuple[float, float] | None:
    """The distribution-free interval of the median: order statistics j and n + 1 - j with
    P(Binomial(n, 1/2) <= j - 1) <= 2.5%, so that it holds the median with at least 95%
    probability whatever the distribution; ``None`` when n is too small for any j."""
    n = sum(counts.values())
    tail = (1 - CONFIDENCE) / 2
    j = int(scipy_stats.binom.ppf(tail, n, 0.5))
    if scipy_stats.binom.cdf(j, n, 0.5) <= tail:
        j += 1
    if j < 1:
        return None
    ordered = sorted((value, count) for value, count in counts.items() if count > 0)
    return float(_order_statistic(ordered, j - 1)), float(_order_statistic(ordered, n - j))


def quantiles(counts: Mapping[int, int]) -> Quantiles | None:
    """Median, quartiles and the median's interval; ``None`` below MIN_COURSES values."""
    if sum(counts.values()) < MIN_COURSES:
        return None
    interval = median_interval(counts)
    return Quantiles(
        median=quantile(counts, 0.5),
        q1=quantile(counts, 0.25),
        q3=quantile(counts, 0.75),
        median_low=interval[0] if interval else None,
        median_high=interval[1] if interval else None,
    )


# --- the scope -------------------------------------------------------------------------------


def _time_zones(clinic_ids: Iterable[int]) -> dict[str, list[int]]:
    """The scope's clinics by time zone, so that each is dated in its own calendar."""
    zones: dict[str, list[int]] = defaultdict(list)
    for pk, zone in Clinic.objects.filter(pk__in=list(clinic_ids)).values_list("pk", "time_zone"):
        zones[zone].append(pk)
    return dict(zones)


def _midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(zone))


def _period(filters: Filters, zones: dict[str, list[int]]) -> Q:
    """Sessions whose day, in their clinic's calendar, lies in the period (both ends kept)."""
    within = Q(pk__in=[])
    for zone, ids in zones.items():
        q = Q(clinic_id__in=ids)
        if filters.start is not None:
            q &= Q(appointment__starts_at__gte=_midnight(filters.start, zone))
        if filters.end is not None:
            q &= Q(appointment__starts_at__lt=_midnight(filters.end + timedelta(days=1), zone))
        within |= q
    return within


def sessions(filters: Filters) -> QuerySet[Chart]:
    """The signed sessions the report counts (a queryset: never listed, only aggregated)."""
    charts = Chart.objects.filter(signed_at__isnull=False, clinic_id__in=filters.clinic_ids)
    if filters.indication is not None:
        charts = charts.filter(plan__indication=filters.indication)
    if filters.practitioner is not None:
        charts = charts.filter(practitioner=filters.practitioner)
    if filters.start is not None or filters.end is not None:
        charts = charts.filter(_period(filters, _time_zones(filters.clinic_ids)))
    return charts.order_by()


def current_events() -> QuerySet[AdverseEvent]:
    """Adverse events not retracted: one recorded in error stays in the record, out of counts."""
    return AdverseEvent.objects.filter(retracted_at__isnull=True).order_by()


def _has_event(chart_field: str) -> Q:
    # An uncorrelated IN: the database hashes the charts with an event once, rather than
    # probing the events once per session as a correlated EXISTS would.
    return Q(**{f"{chart_field}__in": current_events().values("chart_id")})


# --- the queries -----------------------------------------------------------------------------


def _side_effect_rates(
    scope: QuerySet[Chart], n_sessions: int, n_courses: int
) -> list[SideEffectRates]:
    counted = {
        row["side_effect__code"] or OTHER_KEY: row
        for row in current_events()
        .filter(chart__in=scope)
        .values("side_effect__code")
        .annotate(
            sessions=Count("chart", distinct=True),
            courses=Count("chart__plan", distinct=True),
        )
    }
    labels = dict(SideEffect.objects.order_by("label").values_list("code", "label"))
    if OTHER_KEY in counted:
        labels[OTHER_KEY] = OTHER_LABEL
    rows = []
    for code, label in labels.items():
        row = counted.get(code, {"sessions": 0, "courses": 0})
        rows.append(
            SideEffectRates(
                code=code,
                label=label,
                per_session=rate(label, row["sessions"], n_sessions),
                per_course=rate(label, row["courses"], n_courses),
            )
        )
    # The most frequent first; ties (often zeros) in the catalogue's order.
    return sorted(rows, key=lambda row: -row.per_session.events)


def _rates(rows: Iterable[dict[str, Any]], label_of: Any) -> list[Rate]:
    rates = [rate(label_of(row), row["with_event"], row["sessions"]) for row in rows]
    return sorted(rates, key=lambda r: (-r.units, r.label))


def _by_chart_field(scope: QuerySet[Chart], *fields: str) -> QuerySet[Any]:
    # One row per group of sessions; the joins are to-one, so every chart counts once.
    return (
        scope.values(*fields)
        .annotate(sessions=Count("pk"), with_event=Count("pk", filter=_has_event("pk")))
        .order_by()
    )


def _by_chart_part(parts: QuerySet[Any], *fields: str) -> QuerySet[Any]:
    # A session with several syringes or lot lines in one group counts once: distinct charts.
    return (
        parts.values(*fields)
        .annotate(
            sessions=Count("chart", distinct=True),
            with_event=Count("chart", distinct=True, filter=_has_event("chart")),
        )
        .order_by()
    )


def _practitioner_labels(ids: Iterable[int], pseudonymous: bool) -> dict[int, str]:
    users = User.objects.in_bulk(list(ids))
    return {pk: practitioner_label(user, pseudonymous=pseudonymous) for pk, user in users.items()}


def _groupings(scope: QuerySet[Chart], filters: Filters) -> list[Grouping]:
    several_clinics = len(filters.clinic_ids) > 1
    clinic_names = dict(Clinic.objects.filter(pk__in=filters.clinic_ids).values_list("pk", "name"))

    def of_clinic(name: str, clinic_id: int) -> str:
        # Formulas and products are a clinic's own: across clinics, equal names are not equal.
        return f"{name} ({clinic_names[clinic_id]})" if several_clinics else name

    formulas = _by_chart_field(
        scope,
        "formula_version__formula_id",
        "formula_version__formula__name",
        "formula_version__formula__clinic_id",
    )
    lines = SyringeLot.objects.filter(chart__in=scope)
    products = _by_chart_part(
        lines, "lot__product_id", "lot__product__name", "lot__product__clinic_id"
    )
    lots = _by_chart_part(
        lines, "lot_id", "lot__lot_number", "lot__product__name", "lot__product__clinic_id"
    )
    syringes = Syringe.objects.filter(chart__in=scope)
    devices = _by_chart_part(syringes, "device")
    injectors = _by_chart_part(
        syringes.filter(device=Device.INJECTOR), "injector_id", "chart__clinic_id"
    )
    practitioners = list(_by_chart_field(scope, "practitioner_id"))
    names = _practitioner_labels(
        (row["practitioner_id"] for row in practitioners), filters.pseudonymous
    )
    device_labels = dict(Device.choices)

    # A lot or serial number can be traced to one clinic's batch or gun, and so to its
    # patients: researchers get a coded label.
    def lot_label(row: dict[str, Any]) -> str:
        number = row["lot__lot_number"]
        return pseudonym("Lot", row["lot_id"]) if filters.pseudonymous else number

    def injector_label(row: dict[str, Any]) -> str:
        serial = row["injector_id"]
        if not serial:
            return "Number not recorded"
        return (
            pseudonym("Injector", f"{row['chart__clinic_id']}:{serial}")
            if filters.pseudonymous
            else serial
        )

    return [
        Grouping(
            "formula",
            "Formula",
            "All versions of a formula together.",
            _rates(
                formulas,
                lambda r: of_clinic(
                    r["formula_version__formula__name"], r["formula_version__formula__clinic_id"]
                ),
            ),
        ),
        Grouping(
            "product",
            "Product",
            "A session counts under every product drawn into its syringes.",
            _rates(
                products, lambda r: of_clinic(r["lot__product__name"], r["lot__product__clinic_id"])
            ),
        ),
        Grouping(
            "lot",
            "Lot",
            "A session counts under every lot it used, once however many syringes held it.",
            _rates(
                lots,
                lambda r: of_clinic(
                    f"{lot_label(r)} of {r['lot__product__name']}", r["lot__product__clinic_id"]
                ),
            ),
        ),
        Grouping(
            "device",
            "Device",
            "A session that used both a syringe and an injector gun counts under both.",
            _rates(devices, lambda r: device_labels.get(r["device"], r["device"])),
        ),
        Grouping(
            "injector",
            "Injector gun",
            "Sessions with an injector gun, by the gun's serial or asset number"
            + (" (coded, as are lot numbers)." if filters.pseudonymous else "."),
            _rates(
                injectors,
                lambda r: of_clinic(injector_label(r), r["chart__clinic_id"]),
            ),
        ),
        Grouping(
            "practitioner",
            "Practitioner",
            "The practitioner who gave the session."
            + (" Practitioners are numbered, not named." if filters.pseudonymous else ""),
            _rates(practitioners, lambda r: names[r["practitioner_id"]]),
        ),
    ]


def _by_month(scope: QuerySet[Chart], zones: dict[str, list[int]]) -> list[MonthRate]:
    """Sessions and sessions with a side effect per month of the session's day, each clinic's
    month in its own calendar (one grouped query per time zone, summed)."""
    sessions_by_month: dict[date, int] = defaultdict(int)
    events_by_month: dict[date, int] = defaultdict(int)
    for zone, ids in zones.items():
        rows = (
            scope.filter(clinic_id__in=ids)
            .annotate(month=TruncMonth("appointment__starts_at", tzinfo=ZoneInfo(zone)))
            .values("month")
            .annotate(sessions=Count("pk"), with_event=Count("pk", filter=_has_event("pk")))
            .order_by()
        )
        for row in rows:
            month = row["month"]
            day = month.date() if isinstance(month, datetime) else month
            sessions_by_month[day] += row["sessions"]
            events_by_month[day] += row["with_event"]
    return [
        MonthRate(month, rate(f"{month:%Y-%m}", events_by_month[month], sessions_by_month[month]))
        for month in sorted(sessions_by_month)
    ]


def _resolution(
    scope: QuerySet[Chart], labels: dict[str, str]
) -> tuple[list[Resolution], list[WithinADay]]:
    """Days from onset to resolution per side effect, as counts per (side effect, days):
    the quantiles are computed from those few rows, not from the events."""
    events = current_events().filter(chart__in=scope)
    days = ExpressionWrapper(F("resolved_on") - F("onset_on"), output_field=DurationField())
    histograms: dict[str, dict[int, int]] = defaultdict(dict)
    for row in (
        events.filter(resolved_on__isnull=False)
        .annotate(days=days)
        .values("side_effect__code", "days")
        .annotate(n=Count("pk"))
        .order_by()
    ):
        code = row["side_effect__code"] or OTHER_KEY
        span = row["days"]
        whole_days = span.days if isinstance(span, timedelta) else int(span)
        histograms[code][whole_days] = histograms[code].get(whole_days, 0) + row["n"]
    pending: dict[str, dict[str, int]] = {
        row["side_effect__code"] or OTHER_KEY: {
            "undated": row["undated"],
            "unresolved": row["unresolved"],
        }
        for row in events.filter(resolved_on__isnull=True)
        .values("side_effect__code")
        .annotate(
            undated=Count("pk", filter=Q(outcome__in=RESOLVED_OUTCOMES)),
            unresolved=Count("pk", filter=~Q(outcome__in=RESOLVED_OUTCOMES)),
        )
        .order_by()
    }
    resolution = []
    for code in sorted(
        histograms.keys() | pending.keys(), key=lambda c: labels.get(c, OTHER_LABEL)
    ):
        counts = histograms.get(code, {})
        left = pending.get(code, {"undated": 0, "unresolved": 0})
        resolution.append(
            Resolution(
                code=code,
                label=labels.get(code, OTHER_LABEL),
                resolved=sum(counts.values()),
                resolved_undated=left["undated"],
                unresolved=left["unresolved"],
                quantiles=quantiles(counts),
            )
        )
    return resolution, _within_a_day(histograms, pending, labels)


def _within_a_day(
    histograms: dict[str, dict[int, int]],
    pending: dict[str, dict[str, int]],
    labels: dict[str, str],
) -> list[WithinADay]:
    rows = []
    totals = {"within": 0, "resolved": 0, "undated": 0, "unresolved": 0}
    for code in SEED_CLAIM_CODES:
        counts = histograms.get(code, {})
        left = pending.get(code, {"undated": 0, "unresolved": 0})
        within = sum(n for days, n in counts.items() if days <= WITHIN_DAYS)
        resolved = sum(counts.values())
        label = labels.get(code, code)
        rows.append(
            WithinADay(
                code,
                label,
                rate(label, within, resolved),
                resolved - within,
                left["undated"],
                left["unresolved"],
            )
        )
        for key, value in (
            ("within", within),
            ("resolved", resolved),
            ("undated", left["undated"]),
            ("unresolved", left["unresolved"]),
        ):
            totals[key] += value
    label = " or ".join(labels.get(code, code).lower() for code in SEED_CLAIM_CODES).capitalize()
    rows.append(
        WithinADay(
            "+".join(SEED_CLAIM_CODES),
            label,
            rate(label, totals["within"], totals["resolved"]),
            totals["resolved"] - totals["within"],
            totals["undated"],
            totals["unresolved"],
        )
    )
    return rows


def _next_day_check(
    scope: QuerySet[Chart], labels: dict[str, str]
) -> tuple[list[NextDayCheck], FollowUpTiming]:
    """Sessions whose follow-up was answered the next day, and of those, how many still had
    bruising or swelling then. A side effect still present at the follow-up is recorded as an
    adverse event linked to it (``record_follow_up``), so the current (not retracted) events
    linked to a follow-up are its "still present" answers, corrections included."""
    answered = Q(follow_up__isnull=False)
    earlier = Q(follow_up__answered_at__lt=F("ended_at") + CHECK_FROM)
    later = Q(follow_up__answered_at__gte=F("ended_at") + CHECK_UNTIL)
    in_window = answered & ~earlier & ~later

    def present(code: str) -> Q:
        at_check = current_events().filter(follow_up__isnull=False, side_effect__code=code)
        return Q(pk__in=at_check.values("chart_id"))

    counts = scope.aggregate(
        answered=Count("pk", filter=answered),
        in_window=Count("pk", filter=in_window),
        earlier=Count("pk", filter=answered & earlier),
        later=Count("pk", filter=answered & later),
        **{
            f"present_{i}": Count("pk", filter=in_window & present(code))
            for i, code in enumerate(SEED_CLAIM_CODES)
        },
    )
    checks = [
        NextDayCheck(
            code,
            labels.get(code, code),
            rate(labels.get(code, code), counts[f"present_{i}"], counts["in_window"]),
        )
        for i, code in enumerate(SEED_CLAIM_CODES)
    ]
    timing = FollowUpTiming(
        answered=counts["answered"],
        in_window=counts["in_window"],
        earlier=counts["earlier"],
        later=counts["later"],
    )
    return checks, timing


def safety_report(filters: Filters) -> SafetyReport:
    """The safety evidence of the scope's clinics under ``filters``."""
    scope = sessions(filters)
    has_event = _has_event("pk")
    totals = scope.aggregate(
        sessions=Count("pk"),
        courses=Count("plan", distinct=True),
        sessions_with=Count("pk", filter=has_event),
        courses_with=Count("plan", distinct=True, filter=has_event),
    )
    labels = dict(SideEffect.objects.values_list("code", "label"))
    resolution, within_a_day = _resolution(scope, labels)
    checks, timing = _next_day_check(scope, labels)
    return SafetyReport(
        sessions=totals["sessions"],
        courses=totals["courses"],
        any_per_session=rate("Any side effect", totals["sessions_with"], totals["sessions"]),
        any_per_course=rate("Any side effect", totals["courses_with"], totals["courses"]),
        by_side_effect=_side_effect_rates(scope, totals["sessions"], totals["courses"]),
        groupings=_groupings(scope, filters),
        by_month=_by_month(scope, _time_zones(filters.clinic_ids)),
        resolution=resolution,
        within_a_day=within_a_day,
        next_day_check=checks,
        follow_up_timing=timing,
    )
