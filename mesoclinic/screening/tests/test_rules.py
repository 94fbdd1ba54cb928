"""Every screening rule, table-driven: it fires on the data it is about, does not fire just
outside it (day 7 vs day 8 of the stop window, in the clinic's time zone), and fires on a
brand name and on an ingredient synonym."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, time, timedelta

import pytest

from mesoclinic.catalogue.models import BodyArea, ConditionKind, ScreeningRule, Severity
from mesoclinic.clinics.models import Licence, User
from mesoclinic.courses.models import Appointment, WorkingHours
from mesoclinic.patients import services as patients
from mesoclinic.patients.models import Patient
from mesoclinic.screening import services
from mesoclinic.screening.models import Stage
from mesoclinic.screening.tests.conftest import book_session, local


def fired(appointment: Appointment, actor: User) -> dict[str, list[str]]:
    screening = services.run_screening(appointment, Stage.ON_REQUEST, actor)
    found: dict[str, list[str]] = {}
    for finding in screening.findings.select_related("rule"):
        found.setdefault(finding.rule.code, []).append(finding.evidence)
    return found


def medication(
    patient: Patient,
    actor: User,
    name: str,
    *,
    started: date | None = None,
    stopped: date | None = None,
    last_dose_taken: date | None = None,
) -> None:
    patients.add_medication(
        patient,
        name=name,
        started=started,
        stopped=stopped,
        last_dose_taken=last_dose_taken,
        actor=actor,
        request=None,
    )


def condition(patient: Patient, actor: User, kind: str, **fields: object) -> None:
    patients.add_condition(patient, kind=kind, actor=actor, request=None, **fields)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Case:
    name: str
    rule: str
    setup: Callable[[Patient, User, date], None]
    fires: bool
    session: str = "thigh"  # which course the session belongs to

    def __str__(self) -> str:
        return self.name


def dose(name: str, days_before: int) -> Callable[[Patient, User, date], None]:
    return lambda p, u, day: medication(
        p, u, name, last_dose_taken=day - timedelta(days=days_before)
    )


def ongoing(
    name: str, started: int | None = None, stopped: int | None = None
) -> Callable[[Patient, User, date], None]:
    """A medication started and stopped so many days from the session (negative: before)."""

    def setup(p: Patient, u: User, day: date) -> None:
        def shifted(days: int | None) -> date | None:
            return None if days is None else day + timedelta(days=days)

        medication(p, u, name, started=shifted(started), stopped=shifted(stopped))

    return setup


def cond(
    kind: str, area: str | None = None, **fields: object
) -> Callable[[Patient, User, date], None]:
    def setup(p: Patient, u: User, day: date) -> None:
        values = dict(fields)
        for key in ("started", "ended"):
            if key in values:
                values[key] = day + timedelta(days=int(values[key]))  # type: ignore[call-overload]
        if area is not None:
            values["body_area"] = BodyArea.objects.get(code=area)
        condition(p, u, kind, **values)

    return setup


def allergy(substance: str) -> Callable[[Patient, User, date], None]:
    def setup(p: Patient, u: User, day: date) -> None:
        patients.add_allergy(p, substance=substance, actor=u, request=None)

    return setup


def nothing(p: Patient, u: User, day: date) -> None:
    return None


def both(*setups: Callable[[Patient, User, date], None]) -> Callable[[Patient, User, date], None]:
    def setup(p: Patient, u: User, day: date) -> None:
        for each in setups:
            each(p, u, day)

    return setup


NSAID = "nsaid-in-stop-window"
CASES = [
    Case("ibuprofen 3 days before", NSAID, dose("ibuprofen", 3), True),
    Case("ibuprofen on the day", NSAID, dose("Ibuprofen", 0), True),
    Case("ibuprofen day 7 (inside)", NSAID, dose("ibuprofen", 7), True),
    Case("ibuprofen day 8 (outside)", NSAID, dose("ibuprofen", 8), False),
    Case("brand Advil day 2", NSAID, dose("Advil", 2), True),
    Case("brand Aspégic day 5, accents dropped", NSAID, dose("aspegic", 5), True),
    Case("naproxen misspelt day 1", NSAID, dose("Naproxene", 1), True),
    Case("paracetamol day 1 is no NSAID", NSAID, dose("paracetamol", 1), False),
    Case("stopped 4 days before", NSAID, ongoing("diclofenac", started=-30, stopped=-4), True),
    Case("ongoing ibuprofen: pre-care", "nsaid-ongoing", ongoing("ibuprofen", started=-30), True),
    Case(
        "ibuprofen stopped: no pre-care",
        "nsaid-ongoing",
        ongoing("ibuprofen", started=-30, stopped=-20),
        False,
    ),
    Case(
        "apixaban brand Eliquis",
        "anticoagulant-or-antiplatelet",
        ongoing("Eliquis", started=-300),
        True,
    ),
    Case("warfarin", "anticoagulant-or-antiplatelet", ongoing("warfarin", started=-300), True),
    Case(
        "clopidogrel", "anticoagulant-or-antiplatelet", ongoing("clopidogrel", started=-300), True
    ),
    Case(
        "warfarin stopped a month before",
        "anticoagulant-or-antiplatelet",
        ongoing("warfarin", started=-300, stopped=-30),
        False,
    ),
    Case(
        "ibuprofen is no anticoagulant",
        "anticoagulant-or-antiplatelet",
        ongoing("ibuprofen", started=-3),
        False,
    ),
    Case(
        "bleeding disorder",
        "bleeding-disorder",
        cond(ConditionKind.BLEEDING_DISORDER, description="von Willebrand disease"),
        True,
    ),
    Case(
        "pregnant", "pregnancy-or-breastfeeding", cond(ConditionKind.PREGNANCY, started=-60), True
    ),
    Case(
        "pregnancy ended before",
        "pregnancy-or-breastfeeding",
        cond(ConditionKind.PREGNANCY, started=-300, ended=-20),
        False,
    ),
    Case(
        "pregnancy starts after",
        "pregnancy-or-breastfeeding",
        cond(ConditionKind.PREGNANCY, started=1),
        False,
    ),
    Case(
        "breastfeeding",
        "pregnancy-or-breastfeeding",
        cond(ConditionKind.BREASTFEEDING, started=-90),
        True,
    ),
    Case("allergy by synonym Regaine", "allergy-to-ingredient", allergy("Regaine"), True, "hair"),
    Case(
        "allergy by name, in a sentence",
        "allergy-to-ingredient",
        allergy("finasteride tablets"),
        True,
        "hair",
    ),
    Case(
        "allergy by synonym Levocarnitine", "allergy-to-ingredient", allergy("levocarnitine"), True
    ),
    Case("allergy to something else", "allergy-to-ingredient", allergy("penicillin"), False),
    Case(
        "eczema on the thighs",
        "skin-problem-at-area",
        cond(ConditionKind.SKIN, "thighs", description="eczema"),
        True,
    ),
    Case(
        "infection at the vertex, scalp planned",
        "skin-problem-at-area",
        cond(ConditionKind.SKIN, "vertex", description="folliculitis"),
        True,
        "hair",
    ),
    Case(
        "wound on the cheek, thighs planned",
        "skin-problem-at-area",
        cond(ConditionKind.SKIN, "cheeks", description="cut"),
        False,
    ),
    Case(
        "skin condition, area not recorded",
        "skin-problem-at-area",
        cond(ConditionKind.SKIN, description="psoriasis"),
        True,
    ),
    Case(
        "healed skin condition",
        "skin-problem-at-area",
        cond(ConditionKind.SKIN, "thighs", started=-40, ended=-10),
        False,
    ),
    Case(
        "minoxidil with no prescription", "prescription-without-prescriber", nothing, True, "hair"
    ),
    Case("no prescription drug in the mix", "prescription-without-prescriber", nothing, False),
    Case(
        "finasteride, pregnant",
        "antiandrogen-in-pregnancy",
        cond(ConditionKind.PREGNANCY, started=-30),
        True,
        "hair",
    ),
    Case("finasteride, not pregnant", "antiandrogen-in-pregnancy", nothing, False, "hair"),
    Case(
        "no finasteride, pregnant",
        "antiandrogen-in-pregnancy",
        cond(ConditionKind.PREGNANCY, started=-30),
        False,
    ),
    Case(
        "finasteride, may become pregnant",
        "antiandrogen-may-become-pregnant",
        cond(ConditionKind.MAY_BECOME_PREGNANT),
        True,
        "hair",
    ),
    Case(
        "diabetes",
        "condition-for-review",
        cond(ConditionKind.OTHER, description="Type 2 diabetes"),
        True,
    ),
    Case(
        "pacemaker, French accents",
        "condition-for-review",
        cond(ConditionKind.OTHER, description="Stimulateur cardiaque posé 2019"),
        True,
    ),
    Case(
        "heartburn is not heart disease",
        "condition-for-review",
        cond(ConditionKind.OTHER, description="heartburn"),
        False,
    ),
    Case("unknown drug", "unresolved-medication", ongoing("Zyxorin", started=-10), True),
    Case("known drug", "unresolved-medication", ongoing("warfarin", started=-10), False),
]


@pytest.mark.parametrize("case", CASES, ids=str)
def test_rule(
    case: Case,
    request: pytest.FixtureRequest,
    asha: User,
    session_day: date,
) -> None:
    appointment: Appointment = request.getfixturevalue(f"{case.session}_session")
    case.setup(appointment.patient, asha, session_day)

    found = fired(appointment, asha)

    assert (case.rule in found) is case.fires, found


def test_every_rule_of_the_catalogue_has_a_case(catalogue: None) -> None:
    # Tested on their own: the licence below, the earlier serious side effect in
    # test_previous_event.py (it needs signed charts).
    tested = {case.rule for case in CASES} | {"licence-not-valid", "previous-serious-reaction"}
    assert set(ScreeningRule.objects.filter(retired=False).values_list("code", flat=True)) == tested


def test_each_finding_says_what_fired_on_which_data_and_what_to_do(
    thigh_session: Appointment, asha: User, session_day: date
) -> None:
    dose("Nurofen", 3)(thigh_session.patient, asha, session_day)

    screening = services.run_screening(thigh_session, Stage.CHECK_IN, asha)

    finding = screening.findings.get(rule__code=NSAID)
    last = session_day - timedelta(days=3)
    assert finding.evidence == f"Nurofen: last dose {last:%d %b %Y}, 3 days before the session"
    assert finding.severity == Severity.BLOCK and finding.overridable
    assert "bruising" in finding.message
    assert "Move the session" in finding.action
    assert screening.outcome == "block"
    assert screening.ruleset_version.startswith("screening_rules.toml v2 sha256:")
    assert screening.precare_window_days == 7


def test_the_ongoing_nsaid_tells_the_date_to_stop_from(
    thigh_session: Appointment, asha: User, session_day: date
) -> None:
    ongoing("ibuprofen", started=-30)(thigh_session.patient, asha, session_day)

    evidence = fired(thigh_session, asha)["nsaid-ongoing"]

    assert evidence == [
        f"ibuprofen, Anti-inflammatory painkillers (NSAIDs): not to be taken from "
        f"{session_day - timedelta(days=7):%d %b %Y} until after the session"
    ]


@pytest.mark.parametrize(("days_before", "fires"), [(9, True), (10, True), (11, False)])
def test_a_clinic_sets_its_own_stop_window(
    thigh_session: Appointment, asha: User, session_day: date, days_before: int, fires: bool
) -> None:
    clinic = thigh_session.clinic
    clinic.precare_window_days = 10
    clinic.save()
    dose("ibuprofen", days_before)(thigh_session.patient, asha, session_day)

    screening = services.run_screening(thigh_session, Stage.ON_REQUEST, asha)

    assert screening.precare_window_days == 10
    assert screening.findings.filter(rule__code=NSAID).exists() is fires


@pytest.mark.parametrize(("days_before", "fires"), [(7, True), (8, False)])
def test_the_window_counts_in_the_clinics_calendar_not_utc(
    thigh_plan: object,
    bookable_pat: User,
    asha: User,
    days_before: int,
    fires: bool,
) -> None:
    """A session at 00:30 in Paris is still the evening before in UTC: the window counts
    back from the Paris date."""
    plan = thigh_plan
    clinic = bookable_pat.clinic
    assert clinic is not None
    monday = clinic.today() + timedelta(days=21)
    monday += timedelta(days=(-monday.weekday()) % 7)
    WorkingHours.objects.create(
        practitioner=bookable_pat, weekday=monday.weekday(), starts=time(0), ends=time(1)
    )
    starts = local(clinic, monday, 0).replace(minute=30)
    assert starts.astimezone(UTC).date() == monday - timedelta(days=1)
    appointment = book_session(plan, starts, asha)  # type: ignore[arg-type]
    dose("ibuprofen", days_before)(appointment.patient, asha, monday)

    found = fired(appointment, asha)

    assert (NSAID in found) is fires


def test_a_licence_that_lapses_before_the_session_blocks_without_override(
    thigh_session: Appointment, asha: User, session_day: date
) -> None:
    Licence.objects.filter(practitioner=thigh_session.practitioner).update(
        valid_until=session_day - timedelta(days=1)
    )

    screening = services.run_screening(thigh_session, Stage.ON_REQUEST, asha)

    finding = screening.findings.get(rule__code="licence-not-valid")
    assert finding.severity == Severity.BLOCK and not finding.overridable
    assert f"valid on {session_day:%d %b %Y}" in finding.evidence


def test_a_prescription_recorded_before_the_session_clears_the_block(
    hair_session: Appointment, bookable_pat: User, session_day: date
) -> None:
    assert hair_session.plan is not None
    services.record_prescription(
        hair_session.plan,
        prescriber_name="Dr Claire Martin",
        prescriber_registration="RPPS 10003456789",
        issued_on=hair_session.clinic.today(),
        actor=bookable_pat,
    )

    assert "prescription-without-prescriber" not in fired(hair_session, bookable_pat)


def test_a_clean_record_is_clear(thigh_session: Appointment, asha: User) -> None:
    screening = services.run_screening(thigh_session, Stage.ON_REQUEST, asha)

    assert screening.outcome == "clear"
    assert not screening.findings.exists()
