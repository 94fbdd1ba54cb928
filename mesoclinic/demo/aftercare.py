"""The demo's follow-up: the 24-hour checks of the charted sessions, the side effects they
found, and one cluster of infections tied to one lot.

Most signed sessions had their 24-hour check by phone a day and a bit later; a few were never
reached, and those older than 72 hours carry the "unanswered" flag. At the check a minority
still have some bruising or swelling (which should have settled by then, so each raises a
flag), a little redness or tenderness; most report nothing. Each of those events resolves a
few days later. Weeks after their sessions, several patients treated from one lot of the
Paris clinic come back with firm, painful nodules that grow a nontuberculous mycobacterium:
the outbreak the evidence pages are to find. Flags older than ten days have been closed by
the practitioner with what was done; the recent ones wait on the dashboard.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone

from mesoclinic.charts.models import Chart, SyringeLot
from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.followup import services
from mesoclinic.followup.models import (
    AdverseEvent,
    Causality,
    EventOutcome,
    Flag,
    FlagAction,
    FlagKind,
    FollowUpChannel,
    Reporter,
)
from mesoclinic.formulas.models import Lot

UNREACHED_SHARE = 0.08
# The chance that each answer of the check is still present, and its grade 1 or 2.
STILL_PRESENT = {"bruising": 0.14, "swelling": 0.08, "redness": 0.1, "pain": 0.06, "itching": 0.03}
MODERATE_SHARE = 0.2
CLOSE_AFTER = timedelta(days=10)
CLUSTER_INFECTIONS = 3
# Nontuberculous mycobacteria appear 1-12 weeks after the injection (DOMAIN.md).
INCUBATION_DAYS = (16, 40)
ORGANISMS = ("Mycobacterium abscessus", "Mycobacterium chelonae", "")
CLOSING = {
    "persisting": (
        FlagAction.CONTACTED,
        "Called the patient: cold packs and arnica advised; settled within three days.",
    ),
    "unanswered": (
        FlagAction.UNREACHABLE,
        "Three calls and an email over a week without an answer; noted for the next visit.",
    ),
    "infection": (
        FlagAction.TREATED,
        "Seen in clinic: drained and sent for culture; referred to infectious diseases for antibiotics.",
    ),
    "severe": (
        FlagAction.TREATED,
        "Reviewed with the infection: treatment and weekly review arranged.",
    ),
    "review": (FlagAction.SEEN, "Seen in clinic and photographed; review in a month."),
    "patient_report": (FlagAction.CONTACTED, "Called the patient back and gave advice."),
}


@dataclass
class AftercareCounts:
    follow_ups: int = 0
    events: int = 0
    infections: int = 0
    open_flags: int = 0
    closed_flags: int = 0
    cluster_lot: str = ""


def _desk(clinic: Clinic) -> User:
    desk = User.objects.filter(clinic=clinic, role=Role.ASSISTANT).order_by("pk").first()
    assert desk is not None
    return desk


def _signed(clinic: Clinic) -> list[Chart]:
    return list(
        Chart.objects.filter(clinic=clinic, signed_at__isnull=False)
        .select_related("clinic", "practitioner", "patient", "appointment")
        .order_by("ended_at", "pk")
    )


def _follow_ups(
    rng: random.Random, clinic: Clinic, charts: list[Chart], now: datetime, counts: AftercareCounts
) -> None:
    desk = _desk(clinic)
    for chart in charts:
        assert chart.ended_at is not None
        answered_at = chart.ended_at + timedelta(hours=rng.uniform(24.5, 30))
        if answered_at > now or rng.random() < UNREACHED_SHARE:
            continue
        answers = {code: 0 for code, _ in services.FOLLOW_UP_QUESTIONS}
        for code, share in STILL_PRESENT.items():
            if rng.random() < share:
                answers[code] = 2 if rng.random() < MODERATE_SHARE else 1
        follow_up = services.record_follow_up(
            chart,
            answers,
            desk,
            FollowUpChannel.PHONE,
            day_off_work=answers["swelling"] == 2,
            answered_at=answered_at,
        )
        counts.follow_ups += 1
        for event in follow_up.adverse_events.all():
            counts.events += 1
            resolved = services.session_day(chart) + timedelta(days=rng.randint(2, 5))
            if resolved <= clinic.today():
                services.update_event(
                    event,
                    {"outcome": EventOutcome.RESOLVED, "resolved_on": resolved},
                    desk,
                    reason="The patient confirmed by phone that it had settled.",
                )


def _cluster_lot(
    clinic: Clinic, charts: list[Chart], today: date
) -> tuple[Lot, list[Chart]] | None:
    """The lot behind the most sessions old enough for an infection to have shown, with
    those sessions, one per patient; None when no session is old enough (a small demo)."""
    exposed: dict[int, dict[int, Chart]] = defaultdict(dict)
    old_enough = {
        c.pk: c
        for c in charts
        if services.session_day(c) <= today - timedelta(days=INCUBATION_DAYS[0] + 5)
    }
    for line in SyringeLot.objects.filter(chart__in=list(old_enough)).select_related("lot"):
        chart = old_enough[line.chart_id]
        exposed[line.lot_id].setdefault(chart.patient_id, chart)
    if not exposed:
        return None
    lot_id = max(exposed, key=lambda pk: (len(exposed[pk]), -pk))
    return Lot.objects.get(pk=lot_id), list(exposed[lot_id].values())


def _infections(
    rng: random.Random, clinic: Clinic, charts: list[Chart], counts: AftercareCounts, today: date
) -> None:
    cluster = _cluster_lot(clinic, charts, today)
    if cluster is None:
        return
    lot, exposed = cluster
    counts.cluster_lot = f"{lot.product.name} lot {lot.lot_number}"
    for n, chart in enumerate(rng.sample(exposed, min(CLUSTER_INFECTIONS, len(exposed)))):
        day = services.session_day(chart)
        # _cluster_lot chose sessions old enough for the shortest incubation.
        latest = min(INCUBATION_DAYS[1], (today - day).days)
        onset = day + timedelta(days=rng.randint(INCUBATION_DAYS[0], latest))
        area = chart.areas.select_related("body_area").first()
        event = services.report_event(
            chart,
            services.EventSpec(
                onset_on=onset,
                grade=3,
                side_effect="infection",
                body_area=area.body_area.code if area else "",
                treatment="Drained and sent for culture; antibiotics from the infectious "
                "diseases team for several months.",
                outcome=EventOutcome.RECOVERING,
                organism=ORGANISMS[n % len(ORGANISMS)],
                notes="Firm, painful red nodules at the injection points, weeks after the session.",
            ),
            chart.practitioner,
            Reporter.STAFF,
        )
        services.assess_causality(event, Causality.PROBABLE, chart.practitioner)
        counts.events += 1
        counts.infections += 1


def _fired_at(flag: Flag, now: datetime) -> datetime:
    """When the flag's rule would have fired, had the clinic been using mesoclinic then."""
    chart_end = flag.chart.ended_at
    assert chart_end is not None
    event = flag.adverse_event
    if event is None:  # unanswered: swept on the hour after its 72 hours
        return chart_end + services.UNANSWERED_AFTER + timedelta(hours=1)
    if event.follow_up is not None:
        return event.follow_up.answered_at
    # Reported at the clinic on the day it began, or now if that is still to come today.
    return min(datetime.combine(event.onset_on, time(10), tzinfo=flag.clinic.tz), now)


def _close_old_flags(
    rng: random.Random, clinic: Clinic, now: datetime, counts: AftercareCounts
) -> None:
    """Close the flags of more than ten days ago, as their practitioner did at the time.

    The services stamp the moment they run; the demo, built in one go, moves the flag's
    raising, its closing and its event's report back to when they would have happened."""
    for flag in Flag.objects.filter(clinic=clinic, closed_at__isnull=True).select_related(
        "assigned_to", "chart", "clinic", "adverse_event__follow_up"
    ):
        fired = _fired_at(flag, now)
        Flag.objects.filter(pk=flag.pk).update(raised_at=fired)
        if flag.adverse_event is not None:
            AdverseEvent.objects.filter(pk=flag.adverse_event.pk).update(reported_at=fired)
        # The outbreak's infections stay open on the dashboard, as do recent flags.
        if flag.kind in (FlagKind.INFECTION, FlagKind.SEVERE) or fired + CLOSE_AFTER > now:
            counts.open_flags += 1
            continue
        action, note = CLOSING[flag.kind]
        services.close_flag(flag, action, note, flag.assigned_to)
        closed = min(fired + timedelta(hours=rng.uniform(2, 72)), now)
        Flag.objects.filter(pk=flag.pk).update(closed_at=closed)
        counts.closed_flags += 1


def build_aftercare(
    rngs: list[random.Random], clinics: list[Clinic], today: date
) -> AftercareCounts:
    """``clinics[0]`` (Paris) gets the infection cluster, its onsets by the demo's ``today``
    (and never after the real one), so that a scan on that day finds it."""
    now = timezone.now()
    counts = AftercareCounts()
    for n, (rng, clinic) in enumerate(zip(rngs, clinics, strict=True)):
        charts = _signed(clinic)
        if not charts:
            continue
        _follow_ups(rng, clinic, charts, now, counts)
        if n == 0:
            _infections(rng, clinic, charts, counts, min(today, clinic.today()))
    # The sweep, run as each unanswered session passed its 72 hours.
    unanswered = Chart.objects.filter(
        signed_at__isnull=False,
        follow_up__isnull=True,
        ended_at__lte=now - services.UNANSWERED_AFTER,
    ).order_by("ended_at")
    for ended_at in unanswered.values_list("ended_at", flat=True):
        services.flag_unanswered(ended_at + services.UNANSWERED_AFTER + timedelta(hours=1))
    for rng, clinic in zip(rngs, clinics, strict=True):
        _close_old_flags(rng, clinic, now, counts)
    return counts
