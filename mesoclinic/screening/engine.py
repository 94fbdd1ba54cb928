"""The rules engine: every active screening rule of the catalogue, evaluated against the
patient's record, the course plan and the session date. Pure reads; storing the result is
``services.run_screening``'s job.

Each check of ``ScreeningCheck`` has one evaluator here. An evaluator returns a ``Hit`` per
thing it fired on: a stable subject key (so an override can be matched to the same data
later) and the evidence in words.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cached_property

from django.apps import apps
from django.db.models import Q

from mesoclinic.catalogue.models import (
    BodyArea,
    ConditionKind,
    DataFile,
    PreCareRule,
    ScreeningCheck,
    ScreeningRule,
    Severity,
    normalise_name,
)
from mesoclinic.clinics.licences import licence_check
from mesoclinic.clinics.models import User
from mesoclinic.courses.models import CoursePlan
from mesoclinic.formulas.models import FormulaVersion, Ingredient
from mesoclinic.formulas.services import allergens_for, composition
from mesoclinic.patients.models import Condition, Medication, Patient

RULES_FILE = "screening_rules.toml"
SEVERITY_ORDER = {Severity.BLOCK: 0, Severity.WARN: 1, Severity.INFORM: 2}


def ruleset_version() -> str:
    """The version of the rules file loaded, with the start of its SHA-256."""
    loaded = DataFile.objects.filter(name=RULES_FILE).first()
    if loaded is None:
        return "not loaded"
    return f"{RULES_FILE} v{loaded.version} sha256:{loaded.sha256[:12]}"


@dataclass(frozen=True)
class Hit:
    subject: str
    evidence: str


@dataclass(frozen=True)
class Result:
    rule: ScreeningRule
    hit: Hit

    @property
    def severity(self) -> str:
        return self.rule.severity


@dataclass
class Facts:
    """What the rules read, fetched once per run."""

    patient: Patient
    session_date: date
    practitioner: User
    window_days: int
    plan: CoursePlan | None = None
    medications: list[Medication] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)

    @classmethod
    def gather(
        cls,
        patient: Patient,
        session_date: date,
        practitioner: User,
        plan: CoursePlan | None,
    ) -> Facts:
        return cls(
            patient=patient,
            session_date=session_date,
            practitioner=practitioner,
            window_days=patient.clinic.nsaid_window_days(),
            plan=plan,
            medications=list(patient.medications.prefetch_related("drug_classes")),
            conditions=[
                condition
                for condition in patient.conditions.select_related("body_area")
                if condition.active_on(session_date)
            ],
        )

    @property
    def version(self) -> FormulaVersion | None:
        return self.plan.formula_version if self.plan is not None else None

    @cached_property
    def ingredients(self) -> list[Ingredient]:
        if self.version is None:
            return []
        found = {line.ingredient.pk: line.ingredient for line in composition(self.version)}
        return sorted(found.values(), key=lambda ingredient: ingredient.name)

    @cached_property
    def planned_areas(self) -> list[BodyArea]:
        return list(self.plan.areas.all()) if self.plan is not None else []

    def taking_on_session_date(self, medication: Medication) -> bool:
        day = self.session_date
        return (medication.started is None or medication.started <= day) and (
            medication.stopped is None or medication.stopped >= day
        )

    def conditions_of(self, kinds: Iterable[str]) -> list[Condition]:
        wanted = set(kinds)
        return [condition for condition in self.conditions if condition.kind in wanted]


def _day(day: date) -> str:
    return f"{day:%d %b %Y}"


def _days_before(days: int) -> str:
    return "the day before the session" if days == 1 else f"{days} days before the session"


def _in_classes(medication: Medication, codes: set[str]) -> bool:
    return any(drug_class.code in codes for drug_class in medication.drug_classes.all())


def _drug_taken_in_window(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    precare = PreCareRule.objects.get(code=rule.parameters["precare_rule"])
    codes = set(precare.drug_classes.values_list("code", flat=True))
    hits = []
    for medication in facts.medications:
        if not _in_classes(medication, codes):
            continue
        last = medication.last_dose_taken or medication.stopped
        if last is None:
            continue
        days = (facts.session_date - last).days
        # Day 0 (taken on the day) to day N of an N-day window are inside it.
        if 0 <= days <= facts.window_days:
            hits.append(
                Hit(
                    f"medication:{medication.pk}:{last.isoformat()}",
                    f"{medication.name}: last dose {_day(last)}, {_days_before(days)}"
                    if days
                    else f"{medication.name}: taken on the day of the session",
                )
            )
    return hits


def _drug_ongoing(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    codes = set(rule.parameters["drug_classes"])
    hits = []
    for medication in facts.medications:
        if not (_in_classes(medication, codes) and facts.taking_on_session_date(medication)):
            continue
        classes = ", ".join(c.label for c in medication.drug_classes.all() if c.code in codes)
        stop_from = facts.session_date - timedelta(days=facts.window_days)
        evidence = f"{medication.name}, {classes}"
        if rule.severity == Severity.INFORM:
            # The pre-care advice: the day from which not to take it.
            evidence += f": not to be taken from {_day(stop_from)} until after the session"
        hits.append(Hit(f"medication:{medication.pk}", evidence))
    return hits


def _unresolved_drug(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    return [
        Hit(f"medication:{m.pk}", f"{m.name}: not matched to any drug class")
        for m in facts.medications
        if facts.taking_on_session_date(m) and not m.drug_classes.all()
    ]


def _condition_text(condition: Condition) -> str:
    text = condition.get_kind_display()
    if condition.description:
        text += f": {condition.description}"
    if condition.started:
        text += f", since {_day(condition.started)}"
    if condition.ended:
        text += f", until {_day(condition.ended)}"
    return text


def _condition_active(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    return [
        Hit(f"condition:{c.pk}", _condition_text(c))
        for c in facts.conditions_of(rule.parameters["condition_kinds"])
    ]


def _condition_mentions(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    terms = [normalise_name(term) for term in rule.parameters["terms"]]
    hits = []
    for condition in facts.conditions:
        text = normalise_name(condition.description)
        named = [term for term in terms if re.search(rf"\b{re.escape(term)}\b", text)]
        if named:
            hits.append(Hit(f"condition:{condition.pk}", _condition_text(condition)))
    return hits


def _allergy_to_formula(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    if facts.version is None:
        return []
    return [
        Hit(
            f"allergy:{match.allergy.pk}:ingredient:{match.ingredient.pk}",
            f"Allergy to {match.allergy.substance!r}; {facts.version} contains "
            f"{match.ingredient.name} (matched as {match.matched_name!r})",
        )
        for match in allergens_for(facts.patient, facts.version)
    ]


def _lineage(area: BodyArea) -> set[int]:
    """The area and every area it lies within."""
    seen: set[int] = set()
    current: BodyArea | None = area
    while current is not None and current.pk not in seen:
        seen.add(current.pk)
        current = current.parent
    return seen


def _skin_at_area(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    skin = facts.conditions_of([ConditionKind.SKIN])
    if not skin:
        return []
    planned = facts.planned_areas
    hits = []
    for condition in skin:
        text = _condition_text(condition)
        if condition.body_area is None:
            # Where it is was not recorded: it may be where the needles go.
            hits.append(Hit(f"condition:{condition.pk}", f"{text}; where it is is not recorded"))
            continue
        where = _lineage(condition.body_area)
        # The same area, an area inside a planned one, or a planned area inside it.
        overlapping = [a for a in planned if a.pk in where or condition.body_area.pk in _lineage(a)]
        if overlapping or not planned:
            areas = ", ".join(a.label for a in overlapping) or "no areas planned yet"
            hits.append(
                Hit(
                    f"condition:{condition.pk}",
                    f"{text}, at {condition.body_area.label} (planned: {areas})",
                )
            )
    return hits


def _prescription_missing(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    needing = [i for i in facts.ingredients if i.needs_prescriber]
    if not needing or facts.plan is None:
        return []
    prescribed = facts.plan.prescriptions.filter(issued_on__lte=facts.session_date).exists()
    if prescribed:
        return []
    names = ", ".join(i.name for i in needing)
    return [
        Hit(
            f"plan:{facts.plan.pk}:prescription",
            f"{facts.version} contains {names}; no prescription recorded on or before "
            f"{_day(facts.session_date)}",
        )
    ]


def _ingredient_with_condition(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    wanted = {normalise_name(name) for name in rule.parameters["ingredients"]}
    drugs = [i for i in facts.ingredients if i.normalised_names & wanted]
    conditions = facts.conditions_of(rule.parameters["condition_kinds"])
    if not drugs or not conditions:
        return []
    names = ", ".join(i.name for i in drugs)
    return [
        Hit(
            f"condition:{c.pk}",
            f"{facts.version} contains {names}; {_condition_text(c)}",
        )
        for c in conditions
    ]


def _previous_serious_event(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    if facts.version is None:
        return []
    # Adverse events belong to the follow-up app, later in the flow than screening: looked up
    # by name rather than imported, so that screening does not depend on it.
    events = (
        apps.get_model("followup", "AdverseEvent")
        ._default_manager.filter(
            Q(serious=True) | Q(grade__gte=3),
            patient=facts.patient,
            retracted_at__isnull=True,
            chart__formula_version__formula=facts.version.formula_id,
            onset_on__lte=facts.session_date,
        )
        .select_related("side_effect", "chart__formula_version__formula")
        .order_by("onset_on", "pk")
    )
    hits = []
    for event in events:
        seriousness = ", serious" if event.serious else ""
        causality = (
            f"; causality judged {event.get_causality_display().lower()}"
            if event.causality
            else "; causality not yet assessed"
        )
        hits.append(
            Hit(
                f"adverse-event:{event.pk}",
                f"{event.label}, grade {event.grade}{seriousness}, from {_day(event.onset_on)} "
                f"after a session with {event.chart.formula_version}{causality}",
            )
        )
    return hits


def _licence(rule: ScreeningRule, facts: Facts) -> list[Hit]:
    check = licence_check(facts.practitioner, facts.session_date)
    if check.ok:
        return []
    return [Hit(f"practitioner:{facts.practitioner.pk}", check.reason)]


EVALUATORS: dict[str, Callable[[ScreeningRule, Facts], list[Hit]]] = {
    ScreeningCheck.DRUG_TAKEN_IN_WINDOW: _drug_taken_in_window,
    ScreeningCheck.DRUG_ONGOING: _drug_ongoing,
    ScreeningCheck.UNRESOLVED_DRUG: _unresolved_drug,
    ScreeningCheck.CONDITION_ACTIVE: _condition_active,
    ScreeningCheck.CONDITION_MENTIONS: _condition_mentions,
    ScreeningCheck.ALLERGY_TO_FORMULA: _allergy_to_formula,
    ScreeningCheck.SKIN_AT_AREA: _skin_at_area,
    ScreeningCheck.PRESCRIPTION_MISSING: _prescription_missing,
    ScreeningCheck.INGREDIENT_WITH_CONDITION: _ingredient_with_condition,
    ScreeningCheck.LICENCE: _licence,
    ScreeningCheck.PREVIOUS_SERIOUS_EVENT: _previous_serious_event,
}


def evaluate(facts: Facts, rules: Iterable[ScreeningRule] | None = None) -> list[Result]:
    """Every rule that fires, most severe first."""
    if rules is None:
        rules = ScreeningRule.objects.filter(retired=False)
    results = [
        Result(rule, hit) for rule in rules for hit in EVALUATORS[rule.check_kind](rule, facts)
    ]
    return sorted(results, key=lambda r: (SEVERITY_ORDER[Severity(r.severity)], r.rule.label))
