"""Recording what happened after a session, and the flags it raises for a practitioner.

Views, the API, the portal and the demo call these; each checks what it is given, refuses bad
input with a ``ValidationError`` that says why, and changes nothing when it refuses.

- ``record_follow_up``: the answers to the 24-hour check, once per signed chart; each side
  effect still present becomes an adverse event.
- ``report_event``, ``update_event``, ``assess_causality``, ``retract_event``: an adverse
  event and its life; every version is kept in its history.
- ``flags_for``: the one place the flag rules live. ``flag_unanswered``: the 72-hour sweep.
- ``close_flag``: a flag ends only with the action taken and a note, by a practitioner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from mesoclinic.catalogue.models import SideEffect
from mesoclinic.charts.models import Chart
from mesoclinic.clinics import audit
from mesoclinic.clinics.models import STAFF_ROLES, AuditAction, Clinic, Role, User
from mesoclinic.clinics.permissions import ROLE_PERMISSIONS, Perm
from mesoclinic.followup.models import (
    RESOLVED_OUTCOMES,
    AdverseEvent,
    Causality,
    EventOutcome,
    Flag,
    FlagAction,
    FlagKind,
    FollowUp,
    FollowUpChannel,
    Grade,
    Reporter,
)
from mesoclinic.patients import accounts

# The short list the 24-hour check asks about, in the order it is asked: catalogue codes and
# the question in plain words.
FOLLOW_UP_QUESTIONS: tuple[tuple[str, str], ...] = (
    ("bruising", "Any bruising?"),
    ("swelling", "Any swelling?"),
    ("redness", "Any redness?"),
    ("pain", "Any pain?"),
    ("itching", "Any itching?"),
    ("infection", "Any sign of infection: heat, pus, redness that spreads, fever?"),
)
FOLLOW_UP_AFTER = timedelta(hours=24)
UNANSWERED_AFTER = timedelta(hours=72)
# Past this, the 24-hour check can no longer be made: older sessions (a clinic's history from
# before it used mesoclinic) are neither due nor flagged.
FOLLOW_UP_WITHIN = timedelta(days=30)
INFECTION = "infection"
SERIOUS_FROM = Grade.LIFE_THREATENING
SEVERE_FROM = Grade.SEVERE
MIN_NOTE = 10
EVENT_FIELDS = ("outcome", "resolved_on", "treatment", "grade", "serious", "organism", "notes")


@dataclass
class EventSpec:
    """An adverse event as reported. ``side_effect`` is a catalogue code; only when none
    fits, ``other_description`` says what it was. ``body_area`` is a code of an area treated
    at the session, or empty when it is not tied to one."""

    onset_on: date
    grade: int
    side_effect: str = ""
    other_description: str = ""
    body_area: str = ""
    serious: bool = False
    treatment: str = ""
    outcome: str = EventOutcome.ONGOING
    resolved_on: date | None = None
    day_off_work: bool = False
    organism: str = ""
    notes: str = ""


@dataclass(frozen=True)
class DueFollowUp:
    chart: Chart
    ended_at: datetime
    due_at: datetime
    overdue_at: datetime
    overdue: bool


# --- who may act -------------------------------------------------------------------------


def _holds(actor: User, perm: Perm) -> bool:
    # The role's permission, without the request's second-factor check: the views and the
    # API have made that check, and the portal and the worker have no second factor.
    return perm in ROLE_PERMISSIONS.get(actor.role, frozenset())


def patient_user_owns(chart: Chart, actor: User) -> bool:
    """Whether ``actor`` is the portal account of the chart's patient."""
    return accounts.owns(actor, chart.patient_id)


def _require_staff(actor: User, clinic_id: int, perm: Perm) -> None:
    if actor.role not in STAFF_ROLES or actor.clinic_id != clinic_id or not _holds(actor, perm):
        raise ValidationError(f"Your role does not allow this ({perm}).")


def _require_reporter(chart: Chart, actor: User) -> Reporter:
    """Staff of the chart's clinic, or the chart's own patient."""
    if actor.role == Role.PATIENT:
        if not patient_user_owns(chart, actor):
            raise ValidationError("A patient may report side effects only of their own sessions.")
        return Reporter.PATIENT
    _require_staff(actor, chart.clinic_id, Perm.FOLLOWUP_RECORD)
    return Reporter.STAFF


def _require_signed(chart: Chart) -> None:
    if chart.signed_at is None or chart.ended_at is None:
        raise ValidationError(
            "The session's chart is not signed yet: side effects are recorded against a "
            "signed chart."
        )


def session_day(chart: Chart) -> date:
    """The day of the session in the clinic's time zone."""
    return timezone.localdate(chart.appointment.starts_at, chart.clinic.tz)


# --- the flag rules ----------------------------------------------------------------------


def _still_present_after(event: AdverseEvent, hours: int, now: datetime) -> int | None:
    """How many whole hours after the session ended the event was known to be present, when
    that is at least ``hours``; else None."""
    ended = event.chart.ended_at
    assert ended is not None
    if event.outcome in RESOLVED_OUTCOMES:
        # Resolved on a later day than the one it should have settled by: it outlasted it.
        if event.resolved_on is None:
            return None
        settle_day = timezone.localdate(ended + timedelta(hours=hours), event.clinic.tz)
        if event.resolved_on <= settle_day:
            return None
        return hours
    elapsed = int((now - ended).total_seconds() // 3600)
    return elapsed if elapsed >= hours else None


def _rules(event: AdverseEvent, now: datetime) -> list[tuple[str, str]]:
    """(kind, reason) for every rule that fires on ``event`` as it stands at ``now``."""
    fired: list[tuple[str, str]] = []
    effect = event.side_effect
    label = event.label
    if effect is not None and effect.settles_within_hours:
        present = _still_present_after(event, effect.settles_within_hours, now)
        if present is not None:
            fired.append(
                (
                    FlagKind.PERSISTING,
                    f"{label} still present {present} hours after the session ended; it is "
                    f"expected to settle within {effect.settles_within_hours} hours.",
                )
            )
    if effect is not None and effect.code == INFECTION:
        organism = f", organism: {event.organism}" if event.organism else ""
        fired.append(
            (
                FlagKind.INFECTION,
                f"Possible infection at the treated skin (grade {event.grade}{organism}).",
            )
        )
    elif effect is not None and effect.always_flag:
        fired.append((FlagKind.REVIEW, f"{label} is always reviewed by a practitioner."))
    if event.grade >= SEVERE_FROM:
        fired.append(
            (FlagKind.SEVERE, f"{label} graded {Grade(event.grade).label.lower()} ({event.grade}).")
        )
    if event.reporter == Reporter.PATIENT:
        fired.append((FlagKind.PATIENT_REPORT, f"{label} reported by the patient."))
    return fired


def flags_for(
    event: AdverseEvent,
    *,
    now: datetime,
    actor: User | None = None,
    request: HttpRequest | None = None,
) -> list[Flag]:
    """Raise the flags ``event`` calls for as it stands at ``now`` (the moment it was known
    to be present): a flag already raised for the same rule is returned, not raised again.
    A retracted event raises none."""
    if event.retracted_at is not None:
        return []
    flags = []
    for kind, reason in _rules(event, now):
        flag, created = Flag.objects.get_or_create(
            adverse_event=event,
            kind=kind,
            defaults={
                "clinic_id": event.clinic_id,
                "patient_id": event.patient_id,
                "chart_id": event.chart_id,
                "reason": reason,
                "assigned_to_id": event.chart.practitioner_id,
            },
        )
        if created:
            audit.record(
                AuditAction.CREATE, request=request, actor=actor, obj=flag, kind=kind, raised=True
            )
        flags.append(flag)
    return flags


def _unanswered(now: datetime) -> QuerySet[Chart]:
    return Chart.objects.filter(
        signed_at__isnull=False,
        ended_at__gt=now - FOLLOW_UP_WITHIN,
        ended_at__lte=now - UNANSWERED_AFTER,
        follow_up__isnull=True,
    ).exclude(flags__kind=FlagKind.UNANSWERED)


def flag_unanswered(now: datetime | None = None, *, clinic: Clinic | None = None) -> list[Flag]:
    """One flag for each signed session of the last 30 days whose 24-hour check is still
    unanswered 72 hours after it ended; a session already flagged is not flagged again. Returns the flags raised now.
    The worker sweeps every clinic; a clinic's dashboard sweeps only its own."""
    now = now or timezone.now()
    raised = []
    charts = _unanswered(now)
    if clinic is not None:
        charts = charts.filter(clinic=clinic)
    for chart in charts.select_related("clinic", "appointment"):
        hours = int((now - chart.ended_at).total_seconds() // 3600)  # type: ignore[operator]
        flag, created = Flag.objects.get_or_create(
            chart=chart,
            kind=FlagKind.UNANSWERED,
            defaults={
                "clinic_id": chart.clinic_id,
                "patient_id": chart.patient_id,
                "reason": f"No answer to the 24-hour follow-up {hours} hours after the session.",
                "assigned_to_id": chart.practitioner_id,
            },
        )
        if created:
            audit.record(AuditAction.CREATE, obj=flag, kind=flag.kind, raised=True)
            raised.append(flag)
    return raised


# --- follow-ups --------------------------------------------------------------------------


def _side_effects(codes: list[str]) -> dict[str, SideEffect]:
    found = {effect.code: effect for effect in SideEffect.objects.filter(code__in=codes)}
    unknown = sorted(set(codes) - found.keys())
    if unknown:
        raise ValidationError(f"Not a side effect of the catalogue: {', '.join(unknown)}.")
    return found


def _check_answers(answers: dict[str, int]) -> list[str]:
    problems = []
    missing = [code for code, _ in FOLLOW_UP_QUESTIONS if code not in answers]
    if missing:
        problems.append(
            f"Answer every question (0 when there is none): {', '.join(missing)} is missing."
        )
    for code, grade in answers.items():
        if isinstance(grade, bool) or not isinstance(grade, int) or not 0 <= grade <= 5:
            problems.append(f"The answer for {code} is a grade from 0 (none) to 5.")
    return problems


def record_follow_up(
    chart: Chart,
    answers: dict[str, int],
    actor: User,
    channel: str,
    *,
    day_off_work: bool = False,
    notes: str = "",
    answered_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> FollowUp:
    """The answers to the 24-hour check of a signed session, given once: each side effect
    still present (grade 1-5) becomes an adverse event reported at the follow-up, with the
    flags its rules raise."""
    now = timezone.now()
    answered_at = answered_at or now
    reporter = _require_reporter(chart, actor)
    _require_signed(chart)
    problems = _check_answers(answers)
    if channel not in FollowUpChannel.values:
        problems.append("Choose how the follow-up was answered.")
    assert chart.ended_at is not None
    if answered_at < chart.ended_at:
        problems.append("The follow-up cannot be answered before the session ended.")
    if answered_at > now:
        problems.append("The follow-up cannot be answered in the future.")
    if problems:
        raise ValidationError(problems)
    effects = _side_effects(list(answers))
    with transaction.atomic():
        if FollowUp.objects.filter(chart=chart).exists():
            raise ValidationError("This session's follow-up is already answered; it is kept.")
        try:
            # The unique chart catches a concurrent answer that the check above missed.
            with transaction.atomic():
                follow_up = FollowUp.objects.create(
                    clinic_id=chart.clinic_id,
                    patient_id=chart.patient_id,
                    chart=chart,
                    channel=channel,
                    answered_at=answered_at,
                    answered_by=actor,
                    answers=dict(answers),
                    day_off_work=day_off_work,
                    notes=notes.strip(),
                )
        except IntegrityError:
            raise ValidationError(
                "This session's follow-up is already answered; it is kept."
            ) from None
        audit.record(
            AuditAction.CREATE, request=request, actor=actor, obj=follow_up, channel=channel
        )
        for code, grade in answers.items():
            if grade == 0:
                continue
            event = AdverseEvent(
                clinic_id=chart.clinic_id,
                patient_id=chart.patient_id,
                chart=chart,
                side_effect=effects[code],
                onset_on=session_day(chart),
                grade=grade,
                serious=grade >= SERIOUS_FROM,
                outcome=EventOutcome.ONGOING,
                day_off_work=day_off_work,
                reporter=reporter,
                reported_by=actor,
                follow_up=follow_up,
            )
            _save(event, actor, "Reported at the 24-hour follow-up.")
            audit.record(
                AuditAction.CREATE, request=request, actor=actor, obj=event, follow_up=follow_up.pk
            )
            flags_for(event, now=answered_at, actor=actor, request=request)
    return follow_up


def due_follow_ups(clinic: Clinic, now: datetime) -> list[DueFollowUp]:
    """Signed sessions of ``clinic`` from 24 hours to 30 days past their end with no answered
    follow-up, the longest waiting first; those past 72 hours are overdue. A session whose
    "unanswered" flag a practitioner has closed (the patient could not be reached) is no
    longer due: the decision is on that flag."""
    charts = (
        Chart.objects.filter(
            clinic=clinic,
            signed_at__isnull=False,
            ended_at__gt=now - FOLLOW_UP_WITHIN,
            ended_at__lte=now - FOLLOW_UP_AFTER,
            follow_up__isnull=True,
        )
        # One condition on one flag row: closed flags of other kinds do not count.
        .exclude(
            Exists(
                Flag.objects.filter(
                    chart=OuterRef("pk"), kind=FlagKind.UNANSWERED, closed_at__isnull=False
                )
            )
        )
        .select_related("patient", "practitioner", "appointment", "clinic")
    )
    due = []
    for chart in charts.order_by("ended_at", "pk"):
        assert chart.ended_at is not None
        overdue_at = chart.ended_at + UNANSWERED_AFTER
        due.append(
            DueFollowUp(
                chart=chart,
                ended_at=chart.ended_at,
                due_at=chart.ended_at + FOLLOW_UP_AFTER,
                overdue_at=overdue_at,
                overdue=now >= overdue_at,
            )
        )
    return due


# --- adverse events ----------------------------------------------------------------------


def _save(event: AdverseEvent, actor: User, reason: str) -> None:
    # The history row names who changed the event and why.
    event._history_user = actor  # type: ignore[attr-defined]
    event._change_reason = reason  # type: ignore[attr-defined]
    event.save()


def _check_event(event: AdverseEvent, today: date) -> list[str]:
    """What is wrong with ``event`` as it would be stored."""
    problems = []
    first_day = session_day(event.chart)
    if event.onset_on < first_day:
        problems.append(
            f"The onset ({event.onset_on:%d %b %Y}) cannot be before the session "
            f"({first_day:%d %b %Y})."
        )
    if event.onset_on > today:
        problems.append("The onset cannot be in the future.")
    if isinstance(event.grade, bool) or event.grade not in Grade.values:
        problems.append("The grade is 1 to 5.")
    elif event.grade >= SERIOUS_FROM:
        # Life-threatening or fatal is serious by definition.
        event.serious = True
    if event.outcome not in EventOutcome.values:
        problems.append("Choose an outcome.")
    if event.resolved_on is not None:
        if event.outcome not in RESOLVED_OUTCOMES:
            problems.append(
                "A resolution date goes with a resolved outcome (resolved, resolved with a "
                "lasting effect, or fatal)."
            )
        if event.resolved_on < event.onset_on:
            problems.append("It cannot have resolved before it began.")
        if event.resolved_on > today:
            problems.append("The resolution date cannot be in the future.")
    is_infection = event.side_effect is not None and event.side_effect.code == INFECTION
    if event.organism.strip() and not is_infection:
        problems.append("An organism is recorded only for an infection.")
    for name, limit in (("other_description", 300), ("organism", 200)):
        if len(getattr(event, name)) > limit:
            problems.append(f"The {name.replace('_', ' ')} is at most {limit} characters.")
    return problems


def report_event(
    chart: Chart,
    spec: EventSpec,
    actor: User,
    reporter: str,
    *,
    request: HttpRequest | None = None,
) -> AdverseEvent:
    """An adverse event after a signed session, reported by staff or by the patient (whose
    own session it must be), with the flags its rules raise."""
    actor_reporter = _require_reporter(chart, actor)
    if reporter not in Reporter.values:
        raise ValidationError("Say who reported it: clinic staff or the patient.")
    if actor_reporter == Reporter.PATIENT and reporter != Reporter.PATIENT:
        raise ValidationError("A patient reports as the patient.")
    _require_signed(chart)
    problems = []
    side_effect = None
    if spec.side_effect and spec.other_description.strip():
        problems.append("Choose a side effect, or describe it as other, not both.")
    elif spec.side_effect:
        side_effect = SideEffect.objects.filter(code=spec.side_effect, retired=False).first()
        if side_effect is None:
            problems.append(f"Not a side effect of the catalogue: {spec.side_effect}.")
    elif not spec.other_description.strip():
        problems.append("Choose a side effect, or describe it as other.")
    area = None
    if spec.body_area:
        treated = {
            row.body_area.code: row.body_area for row in chart.areas.select_related("body_area")
        }
        area = treated.get(spec.body_area)
        if area is None:
            problems.append(
                f"{spec.body_area} was not treated at this session; choose one of "
                f"{', '.join(sorted(treated)) or 'its areas'}."
            )
    event = AdverseEvent(
        clinic_id=chart.clinic_id,
        patient_id=chart.patient_id,
        chart=chart,
        side_effect=side_effect,
        other_description="" if side_effect else spec.other_description.strip(),
        body_area=area,
        onset_on=spec.onset_on,
        grade=spec.grade,
        serious=spec.serious,
        treatment=spec.treatment.strip(),
        outcome=spec.outcome,
        resolved_on=spec.resolved_on,
        day_off_work=spec.day_off_work,
        organism=spec.organism.strip(),
        reporter=reporter,
        reported_by=actor,
        notes=spec.notes.strip(),
    )
    problems += _check_event(event, chart.clinic.today())
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        _save(event, actor, "Reported.")
        audit.record(AuditAction.CREATE, request=request, actor=actor, obj=event, reporter=reporter)
        flags_for(event, now=timezone.now(), actor=actor, request=request)
    return event


def _locked(event: AdverseEvent) -> AdverseEvent:
    # Held for the change, so that two updates at once do not each overwrite the other.
    return (
        AdverseEvent.objects.select_for_update(of=("self",))
        .select_related("chart__clinic", "chart__appointment", "clinic", "side_effect")
        .get(pk=event.pk)
    )


def version_of(event: AdverseEvent) -> int:
    """The event's latest version, as its history numbers it."""
    latest = event.history.order_by("-history_id").values_list("history_id", flat=True).first()  # type: ignore[attr-defined]
    return int(latest or 0)


def update_event(
    event: AdverseEvent,
    changes: dict[str, Any],
    actor: User,
    *,
    reason: str,
    seen_version: int | None = None,
    request: HttpRequest | None = None,
) -> AdverseEvent:
    """Change how the event stands (outcome, resolution, treatment, grade, seriousness,
    organism, notes), with the reason; the version it replaces stays in its history. A
    change that makes a rule fire (a grade raised to 3) raises that flag.

    ``seen_version`` is the version the person read (``version_of``): a form sends every
    field, so saving over a version someone else changed meanwhile would silently undo
    their change; it is refused instead."""
    _require_staff(actor, event.clinic_id, Perm.FOLLOWUP_RECORD)
    unknown = sorted(set(changes) - set(EVENT_FIELDS))
    if unknown:
        raise ValidationError(f"These cannot be changed: {', '.join(unknown)}.")
    if not reason.strip():
        raise ValidationError("Say why it changes.")
    with transaction.atomic():
        current = _locked(event)
        if current.retracted_at is not None:
            raise ValidationError("This event was retracted; it is kept as it was.")
        if seen_version is not None and seen_version != version_of(current):
            raise ValidationError(
                "Someone changed this event after you opened it: read how it stands now "
                "and enter your change again."
            )
        changed = {
            name: value.strip() if isinstance(value, str) else value
            for name, value in changes.items()
            if getattr(current, name) != value
        }
        if not changed:
            return current
        for name, value in changed.items():
            setattr(current, name, value)
        problems = _check_event(current, current.clinic.today())
        if problems:
            raise ValidationError(problems)
        _save(current, actor, reason.strip())
        audit.record(
            AuditAction.UPDATE,
            request=request,
            actor=actor,
            obj=current,
            fields=sorted(changed),
            reason=reason.strip(),
        )
        flags_for(current, now=timezone.now(), actor=actor, request=request)
    return current


def assess_causality(
    event: AdverseEvent, causality: str, actor: User, request: HttpRequest | None = None
) -> AdverseEvent:
    """The practitioner's judgement of whether the treatment caused the event."""
    _require_staff(actor, event.clinic_id, Perm.CAUSALITY_ASSESS)
    if causality not in Causality.values:
        raise ValidationError("Choose a causality category.")
    with transaction.atomic():
        current = _locked(event)
        if current.retracted_at is not None:
            raise ValidationError("This event was retracted; it is kept as it was.")
        current.causality = causality
        current.causality_by = actor
        current.causality_at = timezone.now()
        _save(current, actor, f"Causality assessed: {Causality(causality).label}.")
        audit.record(
            AuditAction.UPDATE, request=request, actor=actor, obj=current, causality=causality
        )
    return current


def retract_event(
    event: AdverseEvent, reason: str, actor: User, request: HttpRequest | None = None
) -> AdverseEvent:
    """An event recorded in error is retracted, never deleted: it stays, marked, with why.
    Its flags stay open until a practitioner closes them."""
    _require_staff(actor, event.clinic_id, Perm.FOLLOWUP_RECORD)
    if len(reason.strip()) < MIN_NOTE:
        raise ValidationError(f"Say why it is retracted, in at least {MIN_NOTE} characters.")
    with transaction.atomic():
        current = _locked(event)
        if current.retracted_at is not None:
            raise ValidationError("This event is already retracted.")
        current.retracted_at = timezone.now()
        current.retracted_by = actor
        current.retraction_reason = reason.strip()
        _save(current, actor, f"Retracted: {reason.strip()}")
        audit.record(AuditAction.UPDATE, request=request, actor=actor, obj=current, retracted=True)
    return current


# --- flags -------------------------------------------------------------------------------


def close_flag(
    flag: Flag, action: str, note: str, actor: User, request: HttpRequest | None = None
) -> Flag:
    """Close a flag with the action taken and a note, once. Nothing closes a flag by itself:
    an answered follow-up leaves its "unanswered" flag for a practitioner to close."""
    _require_staff(actor, flag.clinic_id, Perm.FLAG_CLOSE)
    problems = []
    if action not in FlagAction.values:
        problems.append("Choose the action taken.")
    if len(note.strip()) < MIN_NOTE:
        problems.append(f"Say what was done, in at least {MIN_NOTE} characters.")
    if problems:
        raise ValidationError(problems)
    with transaction.atomic():
        current = Flag.objects.select_for_update(of=("self",)).get(pk=flag.pk)
        if current.closed_at is not None:
            raise ValidationError(
                f"This flag was closed already, by {current.closed_by} on "
                f"{timezone.localtime(current.closed_at):%d %b %Y %H:%M}."
            )
        current.closed_at = timezone.now()
        current.closed_by = actor
        current.action = action
        current.action_note = note.strip()
        current._history_user = actor  # type: ignore[attr-defined]
        current.save()
        audit.record(
            AuditAction.UPDATE, request=request, actor=actor, obj=current, flag_action=action
        )
    return current
