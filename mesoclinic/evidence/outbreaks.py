"""Outbreak alerts: infections clustered on a shared exposure, tested against the clinic's
background rate.

Exposures. Each signed session (a ``charts.Chart`` with ``signed_at``) exposes its patient to
units of four kinds:

- a product **lot** (``SyringeLot.lot``);
- a **multi-dose vial**: the uses of a multi-dose product's lot from one recorded opening
  (``SyringeLot.opens_unit``) up to the next opening of the same lot, in session order. This
  is the vial itself, not a clinic day: a vial kept in the fridge serves patients on several
  days. Uses before a lot's first recorded opening belong to no vial (the lot unit still counts
  them), so that a clinic that never records openings does not test each lot twice;
- an **injector** gun (``Syringe.injector_id`` with ``device="injector"``), per clinic;
- a **clinic day**: every signed session of the clinic on one day of its calendar.

A session's day is its appointment's start in the clinic's time zone (as
``followup.services.session_day``).

Infections. A current (not retracted) ``followup.AdverseEvent`` coded ``"infection"`` is
attributed to a unit when its patient had a session with that unit from
``INCUBATION_MAX_DAYS`` (84, twelve weeks) to ``INCUBATION_MIN_DAYS`` (1) days before the onset:
nontuberculous mycobacteria appear 1 day to 12 weeks after the injection (DOMAIN.md). A course
has a session every two weeks or so, so one infection is attributed to every lot, day and
device of the sessions of its last twelve weeks; which of them it came from is what the
comparison between units tells.

The test. A scan on day D looks at the sessions of the ``LOOKBACK_DAYS`` (168) days up to D:
two incubation periods, so that an infection that began up to twelve weeks ago is matched
with sessions up to twelve weeks before it. For each unit with a session in that window it
counts, in the database (grouped queries), its sessions, its exposed patients m and those of
them with an attributed infection x (onset by D). The background is per patient: of the
clinic's patients with a signed session in the ``BACKGROUND_DAYS`` (365) up to D, the share
with an infection attributed to one of those sessions, the unit's own m and x left out, with a
prior of ``PRIOR_INFECTED`` infected in ``PRIOR_PATIENTS`` patients added (1 in 200, about one
infection in 1,000 sessions): a clinic with no other infection has a small rate, not zero,
against which two infections are not yet proof. The test is the one-sided exact binomial
P(X >= x) for X ~ Binomial(m, rate) (``stats.binomial_upper_tail``).

Why per patient and not per session: an infection is attributed to all of a patient's
sessions in the twelve weeks before it, so against a rate of infections per session the
expected count of a unit is too small by about the number of sessions a course has in twelve
weeks. The simulations of ``tests/test_outbreaks.py`` measure it: with a background of 3
infections in 1,000 sessions, a per-session rate alerted in about a quarter of the scans of
registries without an outbreak, the per-patient rate in about 3%.

Multiplicity. A unit is alerted when x >= ``MIN_INFECTIONS`` (2) and its p-value is below its
kind's threshold: ``FAMILY_ALPHA`` (5%) shared between the kinds by ``KIND_WEIGHTS`` (lots half,
vials and clinic days a fifth each, injectors a tenth: lots and multi-dose vials are where the
published outbreaks came from) and within a kind evenly between its units (a weighted
Bonferroni correction). So, as far as the binomial model holds, at most a 5% chance per scan
that a clinic without an outbreak gets an alert. That bound is per scan, not per clinic: a
clinic is scanned again and again, on overlapping windows, and the chances add up.
``tests/test_outbreaks.py`` measures both on 200 simulated registries at 1 infection in 1,000
sessions: about 1.3% of scans alerted (the binomial is discrete and Bonferroni conservative),
and about 4.5% of the registries (9 of 200) had an alert at some scan over six months of scans
every two weeks and at each infection's onset. It measures too how soon a planted contaminated
lot is alerted (by its second or third infection in about three registries in four, else
mostly its fourth).

The decision (``assess``, ``assess_all``) is a pure function of those counts, so that the
simulations run it on hundreds of registries in memory; the database part only counts.

Alerts. ``scan(clinic)`` raises an ``OutbreakAlert`` for each alerted unit without an open one,
and recounts every open alert from the start of the window it was raised on to the scan's day
(its window only widens while it is open, so no session it counted drops out), adding newly
exposed patients to its contact tasks. Its counts mostly grow, but not always: an infection
retracted, or its onset corrected out of the incubation, makes them fall.

A closed alert holds back re-alerting only for the infections it counted: an infection of a
patient it counted as infected, with onset by the day it was closed. A unit with a closed
alert is raised again, on the counts of the current window as any unit, when at least one of
the infections attributed to it in that window is not held back: another patient's, even one
recorded late with an earlier onset (the person who closed the alert did not know of it), or
a later infection of a patient it counted. So an injector gun or a lot in use for months,
closed after a cluster of 4, is alerted on a new cluster of 2 a window later (a comparison
with the count it was closed with would compare counts of different windows), while a rescan
of the same infections raises nothing. A scan is idempotent: run twice on the same data it
changes nothing the second time. It runs after
an infection is recorded or changed (a ``post_save`` receiver, once the transaction commits),
from the alerts page ("Scan now") and from ``mesoclinic scan_outbreaks``.

The contact list of an alert is necessarily one row per exposed patient: it names them.

Clusters, for display only. One contaminated lot raises alerts on the lots used in the same
sessions and on its patients' clinic days too, counting the same infected patients. The
alerts page lists an open alert whose infected patients are all counted by a stronger open
alert (``explained_by``) under that one (``open_clusters``), so that staff investigate the
strongest exposure first. Detection and the test of each alert are unchanged by it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Case, Count, F, Max, Min, Q, QuerySet, Value, When
from django.db.models.functions import Cast, TruncDate, TruncWeek
from django.http import HttpRequest
from django.utils import timezone
from simple_history.utils import bulk_create_with_history

from mesoclinic.charts.models import Chart, Device, Syringe, SyringeLot
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, Clinic, User
from mesoclinic.evidence.models import AlertContact, AlertStatus, ExposureKind, OutbreakAlert
from mesoclinic.evidence.stats import binomial_upper_tail
from mesoclinic.followup.models import AdverseEvent
from mesoclinic.formulas.models import Lot

INFECTION = "infection"  # the catalogue's side-effect code
INCUBATION_MIN_DAYS = 1
INCUBATION_MAX_DAYS = 84
LOOKBACK_DAYS = 2 * INCUBATION_MAX_DAYS
BACKGROUND_DAYS = 365
# The prior: as if the clinic had also treated 200 patients, one of them infected (about one
# infection in 1,000 sessions, at five or six sessions a course).
PRIOR_INFECTED = 1
PRIOR_PATIENTS = 200
MIN_INFECTIONS = 2
FAMILY_ALPHA = 0.05
# Weighted Bonferroni: the share of FAMILY_ALPHA each kind of exposure spends, split evenly
# among the units of that kind; the shares of kinds with no unit go to the others.
KIND_WEIGHTS = {
    ExposureKind.LOT: 0.5,
    ExposureKind.VIAL: 0.2,
    ExposureKind.INJECTOR: 0.1,
    ExposureKind.DAY: 0.2,
}


# --- the decision: a pure function of counts --------------------------------------------------


@dataclass(frozen=True)
class UnitCounts:
    kind: str  # an ExposureKind value
    key: str
    sessions: int
    patients: int  # exposed patients: the binomial's trials
    infected: int  # exposed patients with an infection attributed to the unit


@dataclass(frozen=True)
class Background:
    """The clinic's year up to the scan: patients with a signed session, and those of them
    with an infection within the incubation after one of those sessions."""

    patients: int
    infected: int


@dataclass(frozen=True)
class Assessment:
    unit: UnitCounts
    rate: float  # infected per treated patient, the unit's patients left out, with the prior
    threshold: float
    units_tested: int

    @property
    def expected(self) -> float:
        return self.unit.patients * self.rate

    @cached_property
    def p_value(self) -> float:
        return binomial_upper_tail(self.unit.infected, self.unit.patients, self.rate)

    @property
    def alert(self) -> bool:
        # The p-value only when it can matter: a scan tests hundreds of units.
        return self.unit.infected >= MIN_INFECTIONS and self.p_value < self.threshold


def background_rate(year: Background, unit: UnitCounts) -> float:
    infected = max(year.infected - unit.infected, 0)
    patients = max(year.patients - unit.patients, 0)
    return (infected + PRIOR_INFECTED) / (patients + PRIOR_PATIENTS)


def thresholds(units: list[UnitCounts]) -> dict[str, float]:
    """Each kind's p-value threshold: its weight's share of FAMILY_ALPHA over its units."""
    per_kind = Counter(unit.kind for unit in units)
    weight = sum(KIND_WEIGHTS[ExposureKind(kind)] for kind in per_kind)
    return {
        kind: FAMILY_ALPHA * KIND_WEIGHTS[ExposureKind(kind)] / weight / count
        for kind, count in per_kind.items()
    }


def assess(unit: UnitCounts, year: Background, threshold: float, units_tested: int) -> Assessment:
    return Assessment(unit, background_rate(year, unit), threshold, units_tested)


def assess_all(units: list[UnitCounts], year: Background) -> list[Assessment]:
    limits = thresholds(units)
    return [assess(unit, year, limits[unit.kind], len(units)) for unit in units]


# --- counting in the database --------------------------------------------------------------


def _attributed(chart: str, end: date) -> Q:
    """On a row with the alias ``day`` (its session's day): an infection of the session's
    patient that began within the incubation after it, and by ``end``."""
    event = f"{chart}patient__adverse_events__"
    # Cast back to a date: a date plus days is a timestamp on PostgreSQL and text on SQLite.
    after = Cast(F("day") + timedelta(days=INCUBATION_MIN_DAYS), models.DateField())
    before = Cast(F("day") + timedelta(days=INCUBATION_MAX_DAYS), models.DateField())
    return (
        Q(
            **{
                f"{event}side_effect__code": INFECTION,
                f"{event}retracted_at__isnull": True,
                f"{event}onset_on__lte": end,
            }
        )
        & Q(**{f"{event}onset_on__gte": after})
        & Q(**{f"{event}onset_on__lte": before})
    )


@dataclass(frozen=True)
class _Source:
    """The rows that carry one kind of exposure, each row one session's exposure to a unit."""

    rows: QuerySet[Any]
    chart: str  # the path from a row to its chart
    unit: Any  # the expression naming a row's unit (None: no unit of this kind)


_KEY = models.CharField(max_length=120)


def _midnight(day: date, clinic: Clinic) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clinic.tz)


class Window:
    """The exposures of a clinic's signed sessions from ``start`` to ``end`` (days, both
    included), counted per unit in the database."""

    def __init__(self, clinic: Clinic, start: date, end: date) -> None:
        self.clinic, self.start, self.end = clinic, start, end

    def sessions(self) -> QuerySet[Chart]:
        return self._rows(Chart, "")

    @cached_property
    def sources(self) -> dict[str, _Source]:
        found: dict[str, _Source] = {
            ExposureKind.LOT: _Source(
                self._rows(SyringeLot, "chart__"), "chart__", Cast("lot_id", _KEY)
            ),
            ExposureKind.INJECTOR: _Source(
                self._rows(Syringe, "chart__")
                .filter(device=Device.INJECTOR)
                .exclude(injector_id=""),
                "chart__",
                F("injector_id"),
            ),
            ExposureKind.DAY: _Source(self._rows(Chart, ""), "", Cast("day", _KEY)),
        }
        vial = self._vial()
        if vial is not None:
            rows = self._rows(SyringeLot, "chart__").filter(lot__product__multi_dose=True)
            found[ExposureKind.VIAL] = _Source(rows, "chart__", vial)
        return found

    def _rows(self, model: type[models.Model], chart: str) -> QuerySet[Any]:
        # Bounds on the stored moment, which an index can serve: the clinic's local midnights.
        starts_at = f"{chart}appointment__starts_at"
        return model._default_manager.filter(
            **{
                f"{chart}clinic": self.clinic,
                f"{chart}signed_at__isnull": False,
                f"{starts_at}__gte": _midnight(self.start, self.clinic),
                f"{starts_at}__lt": _midnight(self.end + timedelta(days=1), self.clinic),
            }
        ).alias(day=TruncDate(starts_at, tzinfo=self.clinic.tz))

    def _vial(self) -> Case | None:
        """Each multi-dose lot line's vial, as "lot-opening line": the latest opening of the
        same lot at or before its session. One ``When`` per opening of the lots used in the
        window: a portable CASE instead of a window function, which one cannot group by."""
        used = self._rows(SyringeLot, "chart__").filter(lot__product__multi_dose=True)
        openings = list(
            SyringeLot.objects.filter(
                chart__clinic=self.clinic,
                chart__signed_at__isnull=False,
                opens_unit=True,
                lot_id__in=used.values("lot_id"),
            )
            .order_by("lot_id", "chart__appointment__starts_at", "pk")
            .values_list("lot_id", "pk", "chart__appointment__starts_at")
        )
        whens = []
        for i, (lot_id, pk, at) in enumerate(openings):
            bounds: dict[str, Any] = {"lot_id": lot_id, "chart__appointment__starts_at__gte": at}
            following = openings[i + 1] if i + 1 < len(openings) else None
            if following is not None and following[0] == lot_id:
                bounds["chart__appointment__starts_at__lt"] = following[2]
            whens.append(When(**bounds, then=Value(f"{lot_id}-{pk}")))
        return Case(*whens, default=None, output_field=_KEY) if whens else None

    def counts(self, kind: str | None = None, key: str | None = None) -> list[UnitCounts]:
        """One row per unit (of ``kind``, only ``key`` when given): sessions, patients,
        infected patients."""
        found = []
        for source_kind, source in self.sources.items():
            if kind is not None and source_kind != kind:
                continue
            c = source.chart
            rows = source.rows.annotate(unit=source.unit).exclude(unit=None)
            if key is not None:
                rows = rows.filter(unit=key)
            grouped = (
                rows.values("unit")
                .annotate(
                    n_sessions=Count(f"{c}id", distinct=True),
                    n_patients=Count(f"{c}patient", distinct=True),
                    n_infected=Count(f"{c}patient", distinct=True, filter=_attributed(c, self.end)),
                )
                .order_by("unit")
            )
            found += [
                UnitCounts(
                    source_kind,
                    r["unit"],
                    r["n_sessions"],
                    r["n_patients"],
                    r["n_infected"],
                )
                for r in grouped
            ]
        return found

    def exposed(self, kind: str, key: str) -> list[dict[str, Any]]:
        """The unit's exposed patients, one row each: first and last session day, sessions,
        and the onsets of their first and last attributed infections (None: not infected)."""
        source = self.sources.get(kind)
        if source is None:
            return []
        c = source.chart
        return list(
            source.rows.annotate(unit=source.unit)
            .filter(unit=key)
            .values(patient_pk=F(f"{c}patient"))
            .annotate(
                first=Min("day"),
                last=Max("day"),
                n_sessions=Count(f"{c}id", distinct=True),
                onset=Min(f"{c}patient__adverse_events__onset_on", filter=_attributed(c, self.end)),
                last_onset=Max(
                    f"{c}patient__adverse_events__onset_on", filter=_attributed(c, self.end)
                ),
            )
            .order_by("patient_pk")
        )


def background(clinic: Clinic, as_of: date) -> Background:
    """The clinic's year up to ``as_of``, in one grouped query."""
    sessions = Window(clinic, as_of - timedelta(days=BACKGROUND_DAYS - 1), as_of).sessions()
    # Grouped by the clinic (one group), as an aggregate() cannot read the session's day.
    rows = sessions.values("clinic").annotate(
        patients=Count("patient", distinct=True),
        infected=Count("patient", distinct=True, filter=_attributed("", as_of)),
    )
    counts = next(iter(rows.order_by()), {"patients": 0, "infected": 0})
    return Background(patients=counts["patients"], infected=counts["infected"])


# --- alerts --------------------------------------------------------------------------------


def _describe(clinic: Clinic, kind: str, key: str) -> dict[str, Any]:
    """The alert's label and the fields that identify its unit."""
    if kind == ExposureKind.LOT:
        lot = Lot.objects.select_related("product").get(pk=int(key))
        return {"lot": lot, "label": f"{lot.product.name} lot {lot.lot_number}"}
    if kind == ExposureKind.VIAL:
        lot_id, opening_id = (int(part) for part in key.split("-"))
        lot = Lot.objects.select_related("product").get(pk=lot_id)
        opening = SyringeLot.objects.select_related("chart__appointment").get(pk=opening_id)
        opened = timezone.localdate(opening.chart.appointment.starts_at, clinic.tz)
        label = f"Vial of {lot.product.name} lot {lot.lot_number} opened on {opened:%Y-%m-%d}"
        return {"lot": lot, "day": opened, "label": label}
    if kind == ExposureKind.INJECTOR:
        return {"injector_id": key, "label": f"Injector gun {key}"}
    day = date.fromisoformat(key)
    return {"day": day, "label": f"Sessions of {day:%Y-%m-%d}"}


def _figures(assessment: Assessment) -> dict[str, Any]:
    unit = assessment.unit
    return {
        "infections": unit.infected,
        "exposed_patients": unit.patients,
        "sessions": unit.sessions,
        "expected": assessment.expected,
        "p_value": assessment.p_value,
        "background_rate": assessment.rate,
    }


def _sync_contacts(alert: OutbreakAlert, window: Window) -> None:
    """Every exposed patient has a contact task; its exposure figures follow the data, its
    status and note are the staff's."""
    existing = {contact.patient_id: contact for contact in alert.contacts.all()}
    new = []
    for row in window.exposed(alert.kind, alert.key):
        values = {
            "infected": row["onset"] is not None,
            "onset_on": row["onset"],
            "first_exposed_on": row["first"],
            "last_exposed_on": row["last"],
            "sessions": row["n_sessions"],
        }
        contact = existing.get(row["patient_pk"])
        if contact is None:
            new.append(AlertContact(alert=alert, patient_id=row["patient_pk"], **values))
        elif any(getattr(contact, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(contact, name, value)
            contact.save()
    if new:
        bulk_create_with_history(new, AlertContact)


def _refresh(alert: OutbreakAlert, clinic: Clinic, year: Background, as_of: date) -> None:
    """Recount an open alert from the start of its window to ``as_of``; saved (and so in
    its history) only when a figure changed."""
    window = Window(clinic, alert.window_start, as_of)
    for unit in window.counts(alert.kind, alert.key):
        figures = _figures(assess(unit, year, alert.threshold, alert.units_tested))
        if any(getattr(alert, name) != value for name, value in figures.items()):
            for name, value in figures.items():
                setattr(alert, name, value)
            alert.counted_to = as_of
            alert.save()
    _sync_contacts(alert, window)


def _held_back(clinic: Clinic) -> dict[tuple[str, str], dict[int, date]]:
    """Per unit with a closed alert: each patient a closed alert of it counted as infected,
    and the latest day such an alert was closed (in the clinic's calendar). An infection of
    that patient with onset by that day was counted."""
    held: dict[tuple[str, str], dict[int, date]] = {}
    rows = AlertContact.objects.filter(
        alert__clinic=clinic, alert__status=AlertStatus.CLOSED, infected=True
    ).values_list("alert__kind", "alert__key", "patient_id", "alert__closed_at")
    for kind, key, patient_id, closed_at in rows.order_by():
        closed_on = timezone.localdate(closed_at, clinic.tz)
        patients = held.setdefault((kind, key), {})
        patients[patient_id] = max(closed_on, patients.get(patient_id, closed_on))
    return held


def _has_new_infection(window: Window, unit: UnitCounts, held: dict[int, date]) -> bool:
    """Whether an infection attributed to the unit in the window is one no closed alert of
    the unit counted: another patient's, or begun after the alert was closed."""
    for row in window.exposed(unit.kind, unit.key):
        last = row["last_onset"]
        if last is not None and (row["patient_pk"] not in held or last > held[row["patient_pk"]]):
            return True
    return False


def scan(clinic: Clinic, *, as_of: date | None = None) -> list[OutbreakAlert]:
    """Raise the alerts the clinic's data calls for on ``as_of`` (default: its today) and
    recount the open ones; returns the open alerts, newest first."""
    as_of = as_of or clinic.today()
    start = as_of - timedelta(days=LOOKBACK_DAYS)
    with transaction.atomic():
        # One scan of a clinic at a time (PostgreSQL; SQLite writes one at a time anyway).
        list(Clinic.objects.select_for_update().filter(pk=clinic.pk).values_list("pk"))
        year = background(clinic, as_of)
        open_alerts = {
            (alert.kind, alert.key): alert
            for alert in OutbreakAlert.objects.filter(clinic=clinic, status=AlertStatus.OPEN)
        }
        for alert in open_alerts.values():
            _refresh(alert, clinic, year, as_of)
        held_back = _held_back(clinic)
        window = Window(clinic, start, as_of)
        for assessment in assess_all(window.counts(), year):
            unit = assessment.unit
            if not assessment.alert or (unit.kind, unit.key) in open_alerts:
                continue
            held = held_back.get((unit.kind, unit.key))
            if held is not None and not _has_new_infection(window, unit, held):
                continue  # only infections a closed alert of the unit already counted
            alert = OutbreakAlert.objects.create(
                clinic=clinic,
                kind=unit.kind,
                key=unit.key,
                window_start=start,
                counted_to=as_of,
                threshold=assessment.threshold,
                units_tested=assessment.units_tested,
                **_describe(clinic, unit.kind, unit.key),
                **_figures(assessment),
            )
            _sync_contacts(alert, window)
            open_alerts[(unit.kind, unit.key)] = alert
    return sorted(open_alerts.values(), key=lambda alert: alert.pk, reverse=True)


def scan_after_commit(clinic_id: int) -> None:
    """Scan once the transaction that recorded an infection commits; a failure is logged and
    does not undo or refuse the recording (the next scan catches up)."""

    def run() -> None:
        scan(Clinic.objects.get(pk=clinic_id))

    transaction.on_commit(run, robust=True)


def on_event_saved(sender: type[AdverseEvent], instance: AdverseEvent, **kwargs: Any) -> None:
    """``post_save`` of an adverse event: an infection recorded, changed or retracted."""
    if kwargs.get("raw") or instance.side_effect is None:
        return
    if instance.side_effect.code == INFECTION:
        scan_after_commit(instance.clinic_id)


# --- what people do with an alert ----------------------------------------------------------


def close_alert(
    alert: OutbreakAlert, note: str, actor: User, *, request: HttpRequest | None = None
) -> OutbreakAlert:
    note = note.strip()
    if not note:
        raise ValidationError("Say why the alert is closed and what was done, for the record.")
    with transaction.atomic():
        alert = OutbreakAlert.objects.select_for_update().get(pk=alert.pk)
        if not alert.is_open:
            raise ValidationError("This alert is already closed.")
        alert.status = AlertStatus.CLOSED
        alert.closed_by = actor
        alert.closed_at = timezone.now()
        alert.close_note = note
        alert.save()
        audit.record(AuditAction.UPDATE, request=request, actor=actor, obj=alert, status="closed")
    return alert


def quarantine_reason(alert: OutbreakAlert) -> str:
    return (
        f"Outbreak alert {alert.pk}: {alert.infections} of {alert.exposed_patients} exposed "
        f"patients with an infection, {alert.expected:.2f} expected "
        f"(p = {alert.p_value:.2g})."
    )


def format_p(p: float) -> str:
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def explanation(alert: OutbreakAlert) -> list[str]:
    """The alert's test and numbers in plain words, one paragraph each."""
    one_in = round(1 / alert.background_rate) if alert.background_rate else 0
    kind = ExposureKind(alert.kind).label.lower()
    return [
        f"{alert.infections} of the {alert.exposed_patients} patients who had a session with "
        f"{alert.label} ({kind}) from {alert.window_start:%Y-%m-%d} to "
        f"{alert.counted_to:%Y-%m-%d}, {alert.sessions} sessions in all, had an infection that "
        f"began {INCUBATION_MIN_DAYS} day to {INCUBATION_MAX_DAYS // 7} weeks after one of "
        "those sessions.",
        f"The clinic's background is about 1 infected patient in {one_in} treated over the "
        f"year before (with the others' infections and a prior of {PRIOR_INFECTED} in "
        f"{PRIOR_PATIENTS}): {alert.expected:.2f} infected would be expected among "
        f"{alert.exposed_patients} patients.",
        f"If this {kind} carried no extra risk, {alert.infections} or more infected among them "
        f"would happen by chance with a probability of {format_p(alert.p_value)} (one-sided "
        f"exact binomial test). The scan that raised the alert tested {alert.units_tested} "
        f"exposures and alerts below {format_p(alert.threshold)}, so that a clinic without an "
        f"outbreak gets an alert in at most {FAMILY_ALPHA:.0%} of scans.",
        "This is an association in time, not proof of the source: the same patients had other "
        "lots, days and devices in the same weeks, and some of those may be alerted too.",
    ]


def shared_alerts(alert: OutbreakAlert) -> QuerySet[OutbreakAlert]:
    """The clinic's other open alerts that count some of the same infected patients."""
    infected = alert.contacts.filter(infected=True).values("patient_id")
    return (
        OutbreakAlert.objects.filter(
            clinic_id=alert.clinic_id,
            status=AlertStatus.OPEN,
            contacts__infected=True,
            contacts__patient_id__in=infected,
        )
        .exclude(pk=alert.pk)
        .annotate(shared=Count("contacts", distinct=True))
        .order_by("p_value", "pk")
    )


# On equal p-values, the kind that published outbreaks most often came from first.
KIND_ORDER = (ExposureKind.LOT, ExposureKind.VIAL, ExposureKind.INJECTOR, ExposureKind.DAY)


# A product alert can be acted on (a lot is quarantined from its alert): it is never listed
# under an injector or clinic-day alert, however much stronger.
PRODUCT_KINDS = (ExposureKind.LOT, ExposureKind.VIAL)


def strength(alert: OutbreakAlert) -> tuple[float, int, int]:
    """Sort key, strongest alert first: the smallest p-value, then the kind, then the oldest."""
    return (alert.p_value, KIND_ORDER.index(ExposureKind(alert.kind)), alert.pk)


def explained_by(
    alerts: Iterable[OutbreakAlert], infected: Mapping[int, Set[int]]
) -> dict[int, OutbreakAlert]:
    """For each alert (by pk) whose infected patients (``infected[alert.pk]``) are all
    counted by a stronger one of ``alerts``: the strongest such alert.

    A lot used in the same sessions as a contaminated one, and the days of those sessions,
    count the same infected patients: one cluster seen through several exposures, the
    strongest the one to investigate first. Nothing here says which exposure is the source.
    An alert with no infected patient left (its infections retracted) shares none, so it is
    explained by no other, and a lot or vial alert is never explained by an injector or day
    alert. The explaining alert is never itself explained: an alert stronger than it that may
    explain it and counts all its patients would count this alert's too, may explain it as
    well, and be chosen instead.
    """
    ranked = sorted(alerts, key=strength)
    found: dict[int, OutbreakAlert] = {}
    for position, alert in enumerate(ranked):
        mine = infected.get(alert.pk, set())
        if not mine:
            continue
        for stronger in ranked[:position]:
            if alert.kind in PRODUCT_KINDS and stronger.kind not in PRODUCT_KINDS:
                continue  # the lot's page holds the quarantine: it must stay in view
            if mine <= infected.get(stronger.pk, set()):
                found[alert.pk] = stronger
                break
    return found


@dataclass(frozen=True)
class Cluster:
    alert: OutbreakAlert  # explained by no other open alert
    explains: list[OutbreakAlert]  # open alerts whose infected patients it counts, strongest first

    @property
    def pks(self) -> set[int]:
        return {self.alert.pk, *(other.pk for other in self.explains)}


def open_clusters(clinic: Clinic) -> list[Cluster]:
    """The clinic's open alerts, strongest first, each with the weaker ones it explains
    (``explained_by``) under it instead of in the list. Closed alerts take no part: their
    counts stopped when they were closed."""
    alerts = list(OutbreakAlert.objects.filter(clinic=clinic, status=AlertStatus.OPEN))
    infected: dict[int, set[int]] = {}
    rows = AlertContact.objects.filter(alert__in=alerts, infected=True).values_list(
        "alert_id", "patient_id"
    )
    for alert_id, patient_id in rows.order_by():
        infected.setdefault(alert_id, set()).add(patient_id)
    explained = explained_by(alerts, infected)
    ranked = sorted(alerts, key=strength)
    return [
        Cluster(alert, [other for other in ranked if explained.get(other.pk) == alert])
        for alert in ranked
        if alert.pk not in explained
    ]


def cluster_of(alert: OutbreakAlert) -> Cluster | None:
    """The open cluster the alert heads or is explained in (None for a closed alert)."""
    if not alert.is_open:
        return None
    clusters = open_clusters(alert.clinic)
    # None too when the alert was closed since the caller read it.
    return next((c for c in clusters if alert == c.alert or alert in c.explains), None)


def infections_by_week(alerts: Iterable[OutbreakAlert]) -> list[tuple[int, date, int]]:
    """(alert, Monday of the week, infected contacts) by week of onset."""
    return list(
        AlertContact.objects.filter(alert__in=list(alerts), infected=True)
        .annotate(week=TruncWeek("onset_on"))
        .values_list("alert_id", "week")
        .annotate(infections=Count("pk"))
        .order_by("week", "alert_id")
    )
