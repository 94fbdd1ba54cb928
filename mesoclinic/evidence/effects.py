"""Outcome evidence: how each indication's primary scale changed over the courses of the
scope's clinics, overall and by formula, ingredient class, practitioner and technique.

The unit is the course (``courses.CoursePlan``), its values paired by site: at each site
(``Measurement.site``; a scale measured as a whole has the one blank site) the baseline is the
mean of the course's current (not retracted) measurements on the indication's primary scale at
time point baseline, the end the same at time point end. Only the sites with both count: the
course's change is the mean over them of end minus baseline, its baseline the mean over them of
the baseline, so a site measured at one time point only never shifts the change. A course with
a baseline but no end at any of its baseline's sites is counted as without an end value. It is
"improved" when the change goes the scale's better way by at least the scale's minimal
important difference; a scale without a better direction or without a published difference
gives no share. Global improvement is the practitioner's and the patient's GAIS at the end
(the latest of each): 1 to 3 on the 1-5 scale ("improved" or better), 2 to 4 on the reversed
0-4 variant.

Nothing is dropped silently: courses without a baseline, and courses with a baseline but no
end value (still running, or ended or stopped without one), are counted beside every figure.
A figure whose N is below ``MIN_COURSES`` is replaced by "not enough data", its counts kept.

The database does the work, in one statement: common table expressions describe one row per
course (the scope's courses from an ORM query; their paired baseline and end values and GAIS
flags from grouped passes over their measurements), computed once (MATERIALIZED), and every
grouping is a ``GROUP BY`` over them, joined to the course's ingredient classes or techniques
where a course counts in several groups, all in one ``UNION ALL``, so that Python receives one
row per group. The SQL is portable between SQLite (3.35+) and PostgreSQL (12+). The adjusted
comparison (``comparison``) is the one place that reads one row per course (its formula,
practitioner, baseline and change), because a mixed model fits course by course; it never
reads sessions or measurements.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.db import connection
from django.db.models import (
    Case,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    When,
)
from django.db.models.functions import Coalesce

from mesoclinic.catalogue.models import Direction, Indication, IngredientClass, OutcomeScale
from mesoclinic.charts.models import AreaTreatment, Chart, Technique
from mesoclinic.clinics.models import Clinic, User
from mesoclinic.courses.models import CoursePlan, CourseStatus
from mesoclinic.evidence.comparison import Comparison, CourseChange, compare_formulas
from mesoclinic.evidence.filters import Filters, practitioner_label
from mesoclinic.evidence.stats import MIN_COURSES, NOT_ENOUGH_DATA, Estimate, mean_interval, wilson
from mesoclinic.formulas.models import Formula, FormulaComponent
from mesoclinic.outcomes.models import Measurement, Rater, TimePoint

# The GAIS levels that read "improved" or better, by variant (catalogue outcome_scales.toml).
GAIS_IMPROVED = {"gais": ("lte", 3), "gais-reversed": ("gte", 2)}
RUNNING = (CourseStatus.PLANNED, CourseStatus.ACTIVE)
# Values have three decimals; a change that equals the difference after averaging sites
# (7.333... - 5.333...) must count, whatever the last binary digit.
TOLERANCE = "0.000001"
NO_FORMULA = "No formula in the plan"

PERIOD_RULE = (
    "A course belongs to the period by the day of its first baseline measurement on the primary "
    "scale, in its clinic's calendar; a course without one by the day of its first signed "
    "session, or, with none, the day it was planned."
)
VALUES_RULE = (
    "Values are paired by site: at each site, baseline and end are the means of the course's "
    "current (not retracted) measurements on the primary scale at the baseline and "
    "end-of-course time points, and only sites measured at both count. Change is the mean over "
    "those sites of end minus baseline. A course whose end was measured only at other sites "
    "than its baseline counts as without an end value. (A course's own page compares each "
    "reading with the last baseline reading at its site, so where a baseline was read twice its "
    "change there can differ slightly from the one counted here.)"
)
GAIS_RULE = (
    "Global improvement: the share of courses whose GAIS at the end (the latest rating by the "
    "practitioner, or by the patient) reads improved or better: 1 to 3 on the 1-5 GAIS, "
    "2 to 4 on its reversed 0-4 variant."
)


@dataclass(frozen=True)
class Counts:
    """One group's aggregated row, as the database returns it."""

    courses: int = 0
    without_baseline: int = 0
    running_without_end: int = 0  # a baseline, no end, the course planned or active
    ended_without_end: int = 0  # a baseline, no end, the course completed or stopped
    complete: int = 0  # a baseline and an end value
    change_sum: float = 0.0
    change_sum_of_squares: float = 0.0
    improved: int = 0  # complete courses improved by at least the MID
    practitioner_rated: int = 0  # courses with a practitioner's GAIS at the end
    practitioner_improved: int = 0
    patient_rated: int = 0
    patient_improved: int = 0


@dataclass(frozen=True)
class GroupRow:
    key: Hashable
    label: str
    counts: Counts
    change: Estimate | None  # None: not enough data
    improved: Estimate | None  # None: not enough data, or no rule for the scale
    practitioner_gais: Estimate | None
    patient_gais: Estimate | None

    @property
    def enough(self) -> bool:
        return self.counts.complete >= MIN_COURSES


def summarise(key: Hashable, label: str, counts: Counts, *, has_share: bool) -> GroupRow:
    """A group's figures from its counts; each below ``MIN_COURSES`` of its own N is None."""
    enough = counts.complete >= MIN_COURSES

    def share(events: int, trials: int) -> Estimate | None:
        return wilson(events, trials) if trials >= MIN_COURSES else None

    return GroupRow(
        key=key,
        label=label,
        counts=counts,
        change=(
            mean_interval(counts.complete, counts.change_sum, counts.change_sum_of_squares)
            if enough
            else None
        ),
        improved=share(counts.improved, counts.complete) if has_share else None,
        practitioner_gais=share(counts.practitioner_improved, counts.practitioner_rated),
        patient_gais=share(counts.patient_improved, counts.patient_rated),
    )


@dataclass(frozen=True)
class Grouping:
    key: str
    title: str
    column: str  # what a row is: "Formula", "Practitioner"...
    note: str
    rows: list[GroupRow]


@dataclass(frozen=True)
class IndicationReport:
    indication: Indication
    scale: OutcomeScale
    has_share: bool
    improvement_rule: str  # what "improved" means on this scale, or why there is no share
    scale_note: str  # a caveat on the primary scale itself, if any
    overall: GroupRow
    groupings: list[Grouping]
    comparison: Comparison

    @property
    def by_formula(self) -> Grouping:
        return self.groupings[0]


@dataclass(frozen=True)
class OutcomeReport:
    filters: Filters
    indications: list[IndicationReport]
    period_rule: str = PERIOD_RULE
    values_rule: str = VALUES_RULE
    gais_rule: str = GAIS_RULE


# --- the rules in words ----------------------------------------------------------------------


def improvement_rule(scale: OutcomeScale) -> tuple[bool, str]:
    """Whether the scale gives a share improved, and the rule (or the reason there is none)."""
    if scale.direction == Direction.NEITHER:
        return False, (
            f"{scale.label} has no better direction (it is a context measure), so no share of "
            "improved courses is given."
        )
    mid = scale.minimal_important_difference
    if mid is None:
        return False, (
            f"No minimal important difference is published for {scale.label}, so no share of "
            "improved courses is given: read the mean change and its interval."
        )
    way = "fall" if scale.direction == Direction.LOWER_IS_BETTER else "rise"
    unit = f" {scale.unit}" if scale.unit else ""
    return True, (
        f"Improved: a {way} of at least {mid.normalize():f}{unit} from baseline to end, the "
        "smallest change patients were found to notice."
    )


def scale_note(scale: OutcomeScale) -> str:
    if scale.code in GAIS_IMPROVED:
        return (
            "This indication's primary scale rates the change since the start itself, so "
            "courses have no baseline on it and no change to compute: read the global "
            "improvement columns."
        )
    return ""


# --- the per-course query --------------------------------------------------------------------


def _period(filters: Filters) -> Q:
    """Course dates within the period, each clinic's days in its own time zone."""
    if filters.start is None and filters.end is None:
        return Q()
    within = Q(pk__in=[])
    for clinic in Clinic.objects.filter(pk__in=filters.clinic_ids):
        bounds = Q(clinic_id=clinic.pk)
        if filters.start is not None:
            bounds &= Q(course_at__gte=datetime.combine(filters.start, time.min, clinic.tz))
        if filters.end is not None:
            after = filters.end + timedelta(days=1)
            bounds &= Q(course_at__lt=datetime.combine(after, time.min, clinic.tz))
        within |= bounds
    return within


def _scope(filters: Filters) -> QuerySet[Any, Any]:
    """The courses of the scope and filters, with what their rows need besides measurements."""
    courses = CoursePlan.objects.filter(clinic_id__in=filters.clinic_ids)
    if filters.indication is not None:
        courses = courses.filter(indication=filters.indication)
    if filters.practitioner is not None:
        courses = courses.filter(practitioner=filters.practitioner)
    if filters.start is not None or filters.end is not None:
        first_session = (
            Chart.objects.filter(
                plan=OuterRef("pk"), signed_at__isnull=False, started_at__isnull=False
            )
            .order_by("started_at")
            .values("started_at")[:1]
        )
        first_baseline = (
            Measurement.objects.filter(
                plan=OuterRef("pk"),
                retracted_at__isnull=True,
                scale=OuterRef("indication__primary_scale"),
                time_point=TimePoint.BASELINE,
            )
            .order_by("measured_at")
            .values("measured_at")[:1]
        )
        courses = courses.annotate(
            course_at=Coalesce(Subquery(first_baseline), Subquery(first_session), "created_at")
        ).filter(_period(filters))
    return courses.order_by().values(
        "id",
        "indication_id",
        "practitioner_id",
        "formula_version_id",
        "status",
        formula_id=F("formula_version__formula_id"),
        better=Case(
            When(indication__primary_scale__direction=Direction.HIGHER_IS_BETTER, then=1),
            When(indication__primary_scale__direction=Direction.LOWER_IS_BETTER, then=-1),
            default=None,
            output_field=IntegerField(),
        ),
        mid=F("indication__primary_scale__minimal_important_difference"),
        scale_id=F("indication__primary_scale_id"),
    )


_OPS = {"lte": "<=", "gte": ">="}
_GAIS_FLAG = "CASE {} ELSE 0 END".format(
    " ".join(
        f"WHEN g.code = '{code}' AND m.value {_OPS[op]} {limit} THEN 1"
        for code, (op, limit) in GAIS_IMPROVED.items()
    )
)
_GAIS_CODES = ", ".join(f"'{code}'" for code in GAIS_IMPROVED)
_M = Measurement._meta.db_table
_S = OutcomeScale._meta.db_table
_BASELINE, _END = TimePoint.BASELINE.value, TimePoint.END.value
_PRACTITIONER, _PATIENT = Rater.PRACTITIONER.value, Rater.PATIENT.value
# Common table expressions ending in ``c``, one row per course. Each course's measurements are
# read once, in two grouped passes (the means by site, which ``v`` pairs per course; the latest
# GAIS by ROW_NUMBER): correlated subqueries, which PostgreSQL re-ran for every mention of a
# column once the derived table was inlined into the grouped queries, cost many times more at
# scale. MATERIALIZED makes
# PostgreSQL (12+) and SQLite (3.35+) compute ``c`` once for every grouping that reads it.
_COURSE_CTES = f"""
scope AS MATERIALIZED ({{scope}}),
sites AS (
    SELECT m.plan_id,
           AVG(CASE WHEN m.time_point = '{_BASELINE}' THEN m.value END) AS baseline_value,
           AVG(CASE WHEN m.time_point = '{_END}' THEN m.value END) AS end_value
    FROM scope JOIN {_M} m ON m.plan_id = scope.id AND m.scale_id = scope.scale_id
    WHERE m.retracted_at IS NULL AND m.time_point IN ('{_BASELINE}', '{_END}')
    GROUP BY m.plan_id, m.site
),
v AS (
    SELECT plan_id,
           MAX(CASE WHEN baseline_value IS NOT NULL THEN 1 END) AS has_baseline,
           AVG(CASE WHEN end_value IS NOT NULL THEN baseline_value END) AS baseline_value,
           AVG(CASE WHEN baseline_value IS NOT NULL THEN end_value END) AS end_value
    FROM sites GROUP BY plan_id
),
ranked AS (
    SELECT m.plan_id, m.rater, {_GAIS_FLAG} AS flag,
           ROW_NUMBER() OVER (
               PARTITION BY m.plan_id, m.rater ORDER BY m.measured_at DESC, m.id DESC
           ) AS n
    FROM scope JOIN {_M} m ON m.plan_id = scope.id JOIN {_S} g ON g.id = m.scale_id
    WHERE m.retracted_at IS NULL AND m.time_point = '{_END}'
      AND m.rater IN ('{_PRACTITIONER}', '{_PATIENT}') AND g.code IN ({_GAIS_CODES})
),
gais AS (
    SELECT plan_id,
           MAX(CASE WHEN rater = '{_PRACTITIONER}' THEN flag END) AS practitioner_gais,
           MAX(CASE WHEN rater = '{_PATIENT}' THEN flag END) AS patient_gais
    FROM ranked WHERE n = 1 GROUP BY plan_id
),
c AS MATERIALIZED (
    SELECT scope.id, scope.indication_id, scope.practitioner_id, scope.formula_version_id,
           scope.status, scope.formula_id, scope.better, scope.mid,
           v.has_baseline, v.baseline_value, v.end_value,
           gais.practitioner_gais, gais.patient_gais
    FROM scope
    LEFT JOIN v ON v.plan_id = scope.id
    LEFT JOIN gais ON gais.plan_id = scope.id
)"""  # noqa: S608 (our own constants)


@dataclass(frozen=True)
class CourseRows:
    """The SQL of the per-course rows: common table expressions ending in ``c`` (id,
    indication_id, practitioner_id, formula_version_id, status, formula_id, better, mid,
    has_baseline (1, or NULL without a baseline), baseline_value and end_value (over the paired
    sites, both NULL without one), practitioner_gais, patient_gais), with their parameters."""

    ctes: str
    params: tuple[Any, ...]


def course_rows(filters: Filters) -> CourseRows:
    """One row per course of the scope: the SQL every grouping aggregates (never read row by
    row, except by the comparison)."""
    sql, params = _scope(filters).query.sql_with_params()
    return CourseRows(_COURSE_CTES.format(scope=sql), tuple(params))


# --- the grouped query -----------------------------------------------------------------------

# Paired values exist together: a course is complete when its end value is there. One with a
# baseline and no end at a baseline site has no end value, whatever other sites it has.
_COMPLETE = "c.end_value IS NOT NULL"
_NO_END = "c.has_baseline IS NOT NULL AND c.end_value IS NULL"
_RUNNING = ", ".join(f"'{status}'" for status in RUNNING)
_CHANGE = "(c.end_value - c.baseline_value)"
# The columns of ``Counts``, in order.
_SUMS = f"""
    COUNT(*),
    SUM(CASE WHEN c.has_baseline IS NULL THEN 1 ELSE 0 END),
    SUM(CASE WHEN {_NO_END} AND c.status IN ({_RUNNING}) THEN 1 ELSE 0 END),
    SUM(CASE WHEN {_NO_END} AND c.status NOT IN ({_RUNNING}) THEN 1 ELSE 0 END),
    SUM(CASE WHEN {_COMPLETE} THEN 1 ELSE 0 END),
    SUM(CASE WHEN {_COMPLETE} THEN {_CHANGE} END),
    SUM(CASE WHEN {_COMPLETE} THEN {_CHANGE} * {_CHANGE} END),
    SUM(CASE WHEN {_COMPLETE} AND c.better * {_CHANGE} >= c.mid - {TOLERANCE} THEN 1 ELSE 0 END),
    COUNT(c.practitioner_gais),
    SUM(c.practitioner_gais),
    COUNT(c.patient_gais),
    SUM(c.patient_gais)
"""
# Every grouping in one statement over the course rows computed once: (grouping, indication,
# integer key, text key, the counts). A course counts in several ingredient classes or
# techniques through the joins.
_GROUPINGS = f"""
SELECT 'overall', c.indication_id, NULL, NULL, {_SUMS} FROM c GROUP BY c.indication_id
UNION ALL
SELECT 'formula', c.indication_id, c.formula_id, NULL, {_SUMS}
FROM c GROUP BY c.indication_id, c.formula_id
UNION ALL
SELECT 'practitioner', c.indication_id, c.practitioner_id, NULL, {_SUMS}
FROM c GROUP BY c.indication_id, c.practitioner_id
UNION ALL
SELECT 'class', c.indication_id, j.class_id, NULL, {_SUMS}
FROM c JOIN classes j ON j.version_id = c.formula_version_id
GROUP BY c.indication_id, j.class_id
UNION ALL
SELECT 'technique', c.indication_id, NULL, j.technique, {_SUMS}
FROM c JOIN techniques j ON j.plan_id = c.id
GROUP BY c.indication_id, j.technique
"""  # noqa: S608 (our own constants)


def _counts(values: Sequence[Any]) -> Counts:
    ints = [int(v or 0) for v in values]
    return Counts(
        courses=ints[0],
        without_baseline=ints[1],
        running_without_end=ints[2],
        ended_without_end=ints[3],
        complete=ints[4],
        change_sum=float(values[5] or 0),
        change_sum_of_squares=float(values[6] or 0),
        improved=ints[7],
        practitioner_rated=ints[8],
        practitioner_improved=ints[9],
        patient_rated=ints[10],
        patient_improved=ints[11],
    )


def _grouped(filters: Filters) -> dict[str, dict[tuple[int, Hashable], Counts]]:
    """``Counts`` by grouping, then by (indication, key), from one statement; the overall
    grouping's key is None."""
    courses = course_rows(filters)
    class_sql, class_params = _class_links(filters).query.sql_with_params()
    technique_sql, technique_params = _technique_links(filters).query.sql_with_params()
    sql = (
        f"WITH {courses.ctes}, classes AS ({class_sql}), techniques AS ({technique_sql})"
        f"{_GROUPINGS}"
    )
    found: dict[str, dict[tuple[int, Hashable], Counts]] = {
        name: {} for name in ("overall", *(g[0] for g in GROUPINGS))
    }
    with connection.cursor() as cursor:
        cursor.execute(sql, (*courses.params, *class_params, *technique_params))
        for name, indication, number, text, *values in cursor.fetchall():
            found[name][indication, number if text is None else text] = _counts(values)
    return found


def _class_links(filters: Filters) -> QuerySet[Any, Any]:
    """(version, ingredient class) once each: a component's own ingredient, or the
    ingredients of its product."""
    return (
        FormulaComponent.objects.filter(version__formula__clinic_id__in=filters.clinic_ids)
        .annotate(
            class_id=Coalesce(
                "ingredient__ingredient_class_id",
                "product__contents__ingredient__ingredient_class_id",
            )
        )
        .filter(class_id__isnull=False)
        .order_by()
        .values("version_id", "class_id")
        .distinct()
    )


def _technique_links(filters: Filters) -> QuerySet[Any, Any]:
    """(course, technique) once each, from the area treatments of signed charts."""
    return (
        AreaTreatment.objects.filter(
            chart__clinic_id__in=filters.clinic_ids,
            chart__signed_at__isnull=False,
            chart__plan__isnull=False,
        )
        .order_by()
        .values("technique", plan_id=F("chart__plan_id"))
        .distinct()
    )


def _change_rows(courses: CourseRows) -> dict[int, list[CourseChange]]:
    """The complete courses, one row each, by indication: what the mixed model fits."""
    found: dict[int, list[CourseChange]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH {courses.ctes} SELECT c.indication_id, c.formula_id, c.practitioner_id, "  # noqa: S608 (our own SQL)
            f"c.baseline_value, c.end_value FROM c WHERE {_COMPLETE} ORDER BY c.id",
            courses.params,
        )
        for indication, formula, practitioner, baseline_value, end_value in cursor.fetchall():
            baseline = float(baseline_value)
            found.setdefault(indication, []).append(
                CourseChange(
                    formula=formula,
                    practitioner=practitioner,
                    baseline=baseline,
                    change=float(end_value) - baseline,
                )
            )
    return found


# --- labels ----------------------------------------------------------------------------------


def _labels(grouping: str, keys: Iterable[Hashable], filters: Filters) -> dict[Hashable, str]:
    found: list[Any] = [key for key in keys if key is not None]
    if grouping == "formula":
        labels: dict[Hashable, str] = {None: NO_FORMULA}
        several = len(filters.clinic_ids) > 1
        for formula in Formula.objects.filter(pk__in=found).select_related("clinic"):
            # Two clinics may name different formulas alike.
            labels[formula.pk] = (
                f"{formula.name} ({formula.clinic.name})" if several else formula.name
            )
        return labels
    if grouping == "class":
        return dict(IngredientClass.objects.filter(pk__in=found).values_list("pk", "label"))
    if grouping == "practitioner":
        return {
            user.pk: practitioner_label(user, pseudonymous=filters.pseudonymous)
            for user in User.objects.filter(pk__in=found)
        }
    return {key: Technique(key).label for key in found if key in Technique.values}


GROUPINGS = (
    ("formula", "By formula", "Formula", "A course counts under the formula its plan names."),
    (
        "class",
        "By ingredient class",
        "Ingredient class",
        "A course counts once in each ingredient class its formula version contains, directly or "
        "in a product, so the rows overlap; courses without a formula are not in this table.",
    ),
    ("practitioner", "By practitioner", "Practitioner", "The practitioner the course plan names."),
    (
        "technique",
        "By technique",
        "Technique",
        "A course counts under each technique used in its signed sessions, so the rows overlap; "
        "courses without a signed session are not in this table.",
    ),
)


def _order(rows: list[GroupRow]) -> list[GroupRow]:
    return sorted(rows, key=lambda row: (-row.counts.complete, -row.counts.courses, row.label))


def outcome_report(filters: Filters) -> OutcomeReport:
    """The outcome evidence for the scope and filters (see the module's docstring)."""
    if not filters.clinic_ids:  # a registry without clinics yet: nothing to group
        return OutcomeReport(filters=filters, indications=[])
    grouped = _grouped(filters)
    overall = grouped.pop("overall")
    if filters.indication is not None:
        indications = [filters.indication]
    else:
        indications = list(
            Indication.objects.filter(pk__in={ind for ind, _ in overall})
            .select_related("primary_scale")
            .order_by("label")
        )
    labels = {
        name: _labels(name, {key for _, key in rows}, filters) for name, rows in grouped.items()
    }
    changes = _change_rows(course_rows(filters))
    reports = []
    for indication in indications:
        scale = indication.primary_scale
        has_share, rule = improvement_rule(scale)
        groupings = []
        for name, title, column, note in GROUPINGS:
            rows = [
                summarise(key, labels[name].get(key, str(key)), counts, has_share=has_share)
                for (ind, key), counts in grouped[name].items()
                if ind == indication.pk
            ]
            groupings.append(Grouping(name, title, column, note, _order(rows)))
        reports.append(
            IndicationReport(
                indication=indication,
                scale=scale,
                has_share=has_share,
                improvement_rule=rule,
                scale_note=scale_note(scale),
                overall=summarise(
                    "all",
                    "All courses",
                    overall.get((indication.pk, None), Counts()),
                    has_share=has_share,
                ),
                groupings=groupings,
                comparison=compare_formulas(changes.get(indication.pk, []), labels["formula"]),
            )
        )
    return OutcomeReport(filters=filters, indications=reports)


# --- the CSV ---------------------------------------------------------------------------------

CSV_HEADER = (
    "indication",
    "primary_scale",
    "grouping",
    "group",
    "courses",
    "without_baseline",
    "baseline_no_end_running",
    "baseline_no_end_ended",
    "with_baseline_and_end",
    "mean_change",
    "mean_change_low95",
    "mean_change_high95",
    "improved_share",
    "improved_low95",
    "improved_high95",
    "gais_practitioner_rated",
    "gais_practitioner_improved_share",
    "gais_practitioner_low95",
    "gais_practitioner_high95",
    "gais_patient_rated",
    "gais_patient_improved_share",
    "gais_patient_low95",
    "gais_patient_high95",
    "adjusted_difference_from",
    "adjusted_difference",
    "adjusted_low95",
    "adjusted_high95",
    "model",
)


def _figures(estimate: Estimate | None, *, shown: bool = True) -> list[object]:
    if not shown:
        return ["", "", ""]
    if estimate is None:
        return [NOT_ENOUGH_DATA, "", ""]
    return [round(estimate.value, 4), round(estimate.low, 4), round(estimate.high, 4)]


def csv_rows(report: OutcomeReport) -> list[list[object]]:
    """The tables of the page, one line per group, then the adjusted comparison's lines."""
    lines: list[list[object]] = []
    for part in report.indications:
        head = [part.indication.label, part.scale.label]
        for grouping, row in [("All courses", part.overall)] + [
            (g.title, row) for g in part.groupings for row in g.rows
        ]:
            c = row.counts
            lines.append(
                [
                    *head,
                    grouping,
                    row.label,
                    c.courses,
                    c.without_baseline,
                    c.running_without_end,
                    c.ended_without_end,
                    c.complete,
                    *_figures(row.change),
                    *_figures(row.improved, shown=part.has_share),
                    c.practitioner_rated,
                    *_figures(row.practitioner_gais),
                    c.patient_rated,
                    *_figures(row.patient_gais),
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
        comparison = part.comparison
        for contrast in comparison.contrasts:
            lines.append(
                [
                    *head,
                    "Adjusted comparison",
                    contrast.label,
                    "",
                    "",
                    "",
                    "",
                    contrast.courses,
                    *[""] * 14,
                    comparison.reference_label,
                    *_figures(contrast.difference),
                    comparison.model.value,
                ]
            )
    return lines
