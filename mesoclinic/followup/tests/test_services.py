"""The follow-up's rules: which flags fire and which do not, a follow-up answered once, an
adverse event checked and kept with its history, flags closed only with an action."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from mesoclinic.charts import services as charts
from mesoclinic.charts.models import Chart
from mesoclinic.charts.testing import ready_session
from mesoclinic.clinics.models import AuditEvent, Role, User
from mesoclinic.clinics.testing import create_user
from mesoclinic.courses.models import CoursePlan
from mesoclinic.followup import services
from mesoclinic.followup.models import (
    AdverseEvent,
    Causality,
    EventOutcome,
    Flag,
    FlagAction,
    FlagKind,
    FollowUp,
    FollowUpChannel,
    KeptRecordError,
    Reporter,
)
from mesoclinic.followup.services import EventSpec
from mesoclinic.followup.testing import hours_ago, no_answers, signed_chart
from mesoclinic.formulas.models import Lot
from mesoclinic.patients.models import PortalAccount

NOTE = "Called the patient: cold packs, review in two days."


def kinds(flags: list[Flag]) -> list[str]:
    return sorted(flag.kind for flag in flags)


def event_from_follow_up(chart: Chart, actor: User, **present: int) -> AdverseEvent:
    follow_up = services.record_follow_up(
        chart, no_answers(**present), actor, FollowUpChannel.PHONE
    )
    return follow_up.adverse_events.get()


def report(
    chart: Chart, actor: User, reporter: str = Reporter.STAFF, **fields: object
) -> AdverseEvent:
    values: dict[str, object] = {
        "onset_on": services.session_day(chart),
        "grade": 1,
        "side_effect": "redness",
    }
    return services.report_event(chart, EventSpec(**(values | fields)), actor, reporter)  # type: ignore[arg-type]


# --- the flag rules ----------------------------------------------------------------------


def test_swelling_still_present_24_hours_after_the_session_is_flagged(
    day_old_chart: Chart, asha: User, bookable_pat: User
) -> None:
    event = event_from_follow_up(day_old_chart, asha, swelling=2)

    flag = event.flags.get()
    assert flag.kind == FlagKind.PERSISTING
    assert flag.reason == (
        "Swelling still present 30 hours after the session ended; it is expected to settle "
        "within 24 hours."
    )
    assert flag.assigned_to == bookable_pat
    assert flag.is_open


def test_swelling_still_present_before_24_hours_is_not_flagged_until_24(
    chart: Chart, asha: User
) -> None:
    event = event_from_follow_up(chart, asha, swelling=1)
    assert not event.flags.exists()
    assert chart.ended_at is not None

    assert services.flags_for(event, now=chart.ended_at + timedelta(hours=23, minutes=59)) == []
    assert kinds(services.flags_for(event, now=chart.ended_at + timedelta(hours=24))) == [
        FlagKind.PERSISTING
    ]


def test_an_answer_of_none_records_nothing_and_raises_nothing(
    day_old_chart: Chart, asha: User
) -> None:
    follow_up = services.record_follow_up(day_old_chart, no_answers(), asha, FollowUpChannel.PHONE)

    assert not follow_up.adverse_events.exists()
    assert not Flag.objects.exists()


def test_swelling_resolved_by_the_day_it_should_settle_is_not_flagged_and_later_is(
    old_chart: Chart, pat: User
) -> None:
    day = services.session_day(old_chart)
    settled = report(
        old_chart, pat, side_effect="swelling", outcome=EventOutcome.RESOLVED, resolved_on=day
    )
    lasted = report(
        old_chart,
        pat,
        side_effect="bruising",
        outcome=EventOutcome.RESOLVED,
        resolved_on=old_chart.clinic.today(),
    )

    assert not settled.flags.exists()
    assert kinds(list(lasted.flags.all())) == [FlagKind.PERSISTING]


def test_an_infection_is_always_flagged_even_mild_and_early(chart: Chart, asha: User) -> None:
    event = event_from_follow_up(chart, asha, infection=1)

    flag = event.flags.get()
    assert flag.kind == FlagKind.INFECTION
    assert flag.reason == "Possible infection at the treated skin (grade 1)."


def test_scars_are_always_reviewed(chart: Chart, pat: User) -> None:
    event = report(chart, pat, side_effect="scars")
    assert [(f.kind, f.reason) for f in event.flags.all()] == [
        (FlagKind.REVIEW, "Scars is always reviewed by a practitioner.")
    ]


def test_grade_3_is_flagged_severe_and_grade_2_is_not(chart: Chart, asha: User) -> None:
    moderate = report(chart, asha, side_effect="pain", grade=2)
    severe = report(chart, asha, side_effect="redness", grade=3)

    assert not moderate.flags.exists()
    assert [(f.kind, f.reason) for f in severe.flags.all()] == [
        (FlagKind.SEVERE, "Redness graded 3 severe (3).")
    ]


def test_a_patient_s_report_is_flagged_for_review(chart: Chart, asha: User) -> None:
    event = report(chart, asha, Reporter.PATIENT, side_effect="itching")
    assert kinds(list(event.flags.all())) == [FlagKind.PATIENT_REPORT]


def test_the_rules_raise_each_flag_once(day_old_chart: Chart, asha: User) -> None:
    event = event_from_follow_up(day_old_chart, asha, bruising=3)
    assert kinds(list(event.flags.all())) == [FlagKind.PERSISTING, FlagKind.SEVERE]

    again = services.flags_for(event, now=timezone.now())

    assert kinds(again) == [FlagKind.PERSISTING, FlagKind.SEVERE]
    assert Flag.objects.count() == 2


def test_a_retracted_event_raises_no_flag(chart: Chart, asha: User) -> None:
    event = report(chart, asha, side_effect="pain", grade=2)
    services.retract_event(event, "Entered for the wrong patient.", asha)
    event.refresh_from_db()
    event.grade = 3
    assert services.flags_for(event, now=timezone.now()) == []


# --- unanswered follow-ups ---------------------------------------------------------------


def test_a_follow_up_unanswered_72_hours_after_is_flagged_once(chart: Chart) -> None:
    assert chart.ended_at is not None

    assert services.flag_unanswered(chart.ended_at + timedelta(hours=71, minutes=59)) == []
    raised = services.flag_unanswered(chart.ended_at + timedelta(hours=72))
    again = services.flag_unanswered(chart.ended_at + timedelta(hours=96))

    assert [(flag.chart, flag.kind) for flag in raised] == [(chart, FlagKind.UNANSWERED)]
    assert raised[0].reason == "No answer to the 24-hour follow-up 72 hours after the session."
    assert raised[0].assigned_to_id == chart.practitioner_id
    assert again == []
    assert Flag.objects.count() == 1


def test_an_answered_follow_up_is_not_flagged_unanswered(chart: Chart, asha: User) -> None:
    services.record_follow_up(chart, no_answers(), asha, FollowUpChannel.PHONE)
    assert chart.ended_at is not None
    assert services.flag_unanswered(chart.ended_at + timedelta(days=5)) == []


def test_answering_late_leaves_the_unanswered_flag_for_a_practitioner(
    chart: Chart, asha: User
) -> None:
    assert chart.ended_at is not None
    (flag,) = services.flag_unanswered(chart.ended_at + timedelta(hours=73))

    services.record_follow_up(chart, no_answers(), asha, FollowUpChannel.PHONE)

    flag.refresh_from_db()
    assert flag.is_open


def test_due_follow_ups_from_24_hours_overdue_from_72(
    chart: Chart, day_old_chart: Chart, asha: User
) -> None:
    assert day_old_chart.ended_at is not None
    clinic = chart.clinic
    now = timezone.now()

    (due,) = services.due_follow_ups(clinic, now)
    assert (due.chart, due.overdue) == (day_old_chart, False)
    assert due.due_at == day_old_chart.ended_at + timedelta(hours=24)
    later = [
        (item.chart, item.overdue)
        for item in services.due_follow_ups(clinic, now + timedelta(hours=60))
    ]
    assert later == [(day_old_chart, True), (chart, False)]

    services.record_follow_up(day_old_chart, no_answers(), asha, FollowUpChannel.PHONE)
    assert services.due_follow_ups(clinic, now) == []


def test_a_clinic_s_sweep_flags_only_its_own_sessions(old_chart: Chart, bob: User) -> None:
    assert bob.clinic is not None and bob.clinic != old_chart.clinic

    assert services.flag_unanswered(clinic=bob.clinic) == []
    assert [f.chart for f in services.flag_unanswered(clinic=old_chart.clinic)] == [old_chart]


def test_a_session_whose_unanswered_flag_was_closed_is_no_longer_due(
    old_chart: Chart, bookable_pat: User
) -> None:
    (flag,) = services.flag_unanswered()
    assert [d.chart for d in services.due_follow_ups(old_chart.clinic, timezone.now())] == [
        old_chart
    ]

    services.close_flag(
        flag, FlagAction.UNREACHABLE, "Three calls and a letter, no answer.", bookable_pat
    )

    assert services.due_follow_ups(old_chart.clinic, timezone.now()) == []


# --- the follow-up -----------------------------------------------------------------------


def test_a_follow_up_records_each_answer_as_an_event_of_the_session(
    day_old_chart: Chart, asha: User
) -> None:
    follow_up = services.record_follow_up(
        day_old_chart,
        no_answers(bruising=1, pain=2),
        asha,
        FollowUpChannel.PHONE,
        day_off_work=True,
        notes="  Took Monday off.  ",
    )

    events = {event.side_effect.code: event for event in follow_up.adverse_events.all()}  # type: ignore[union-attr]
    assert sorted(events) == ["bruising", "pain"]
    pain = events["pain"]
    assert (pain.grade, pain.reporter, pain.reported_by, pain.outcome) == (
        2,
        Reporter.STAFF,
        asha,
        EventOutcome.ONGOING,
    )
    assert pain.onset_on == services.session_day(day_old_chart)
    assert pain.day_off_work
    assert follow_up.notes == "Took Monday off."
    assert follow_up.answers["pain"] == 2
    assert AuditEvent.objects.filter(object_type="followup.FollowUp").count() == 1
    assert AuditEvent.objects.filter(object_type="followup.AdverseEvent").count() == 2


def test_a_follow_up_is_answered_once(day_old_chart: Chart, asha: User, pat: User) -> None:
    services.record_follow_up(day_old_chart, no_answers(swelling=1), asha, FollowUpChannel.PHONE)

    with pytest.raises(ValidationError, match="already answered"):
        services.record_follow_up(
            day_old_chart, no_answers(swelling=3), pat, FollowUpChannel.CLINIC
        )

    assert FollowUp.objects.count() == 1
    assert AdverseEvent.objects.count() == 1


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"bruising": 0}, "Answer every question"),
        (no_answers(pain=6), "grade from 0"),
        (no_answers(pain=True), "grade from 0"),
        (no_answers(hiccups=1), "Not a side effect of the catalogue: hiccups"),
    ],
)
def test_answers_that_cannot_be_right_are_refused(
    chart: Chart, asha: User, answers: dict[str, int], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        services.record_follow_up(chart, answers, asha, FollowUpChannel.PHONE)
    assert not FollowUp.objects.exists()


def test_a_follow_up_is_answered_after_the_session_and_not_in_the_future(
    chart: Chart, asha: User
) -> None:
    assert chart.ended_at is not None
    for when, message in (
        (chart.ended_at - timedelta(minutes=1), "before the session ended"),
        (timezone.now() + timedelta(minutes=5), "in the future"),
    ):
        with pytest.raises(ValidationError, match=message):
            services.record_follow_up(
                chart, no_answers(), asha, FollowUpChannel.PHONE, answered_at=when
            )
    assert not FollowUp.objects.exists()


def test_only_a_signed_chart_is_followed_up(
    face_plan: CoursePlan, asha: User, bookable_pat: User
) -> None:
    draft = charts.start_chart(ready_session(face_plan, asha, session_number=2), bookable_pat)
    with pytest.raises(ValidationError, match="not signed"):
        services.record_follow_up(draft, no_answers(), asha, FollowUpChannel.PHONE)
    with pytest.raises(ValidationError, match="not signed"):
        report(draft, asha)


def test_a_follow_up_is_kept_as_given(chart: Chart, asha: User) -> None:
    follow_up = services.record_follow_up(chart, no_answers(), asha, FollowUpChannel.PHONE)
    follow_up.notes = "changed"
    with pytest.raises(KeptRecordError):
        follow_up.save()
    with pytest.raises(KeptRecordError):
        follow_up.delete()
    with pytest.raises(KeptRecordError):
        FollowUp.objects.all().delete()
    with pytest.raises(KeptRecordError):
        FollowUp.objects.filter(pk=follow_up.pk).update(answers={"bruising": 3})
    assert FollowUp.objects.get(pk=follow_up.pk).answers == no_answers()


# --- who may report ----------------------------------------------------------------------


@pytest.fixture
def camille(chart: Chart) -> User:
    """The portal account of the chart's patient."""
    user = create_user("camille.patient", Role.PATIENT, chart.clinic)
    PortalAccount.objects.create(patient=chart.patient, user=user)
    return user


def test_a_patient_reports_on_their_own_session(chart: Chart, camille: User) -> None:
    event = report(chart, camille, Reporter.PATIENT, side_effect="itching")

    assert (event.reporter, event.reported_by) == (Reporter.PATIENT, camille)
    assert kinds(list(event.flags.all())) == [FlagKind.PATIENT_REPORT]
    follow_up = services.record_follow_up(
        chart, no_answers(pain=1), camille, FollowUpChannel.PORTAL
    )
    assert follow_up.adverse_events.get().reporter == Reporter.PATIENT


def test_a_patient_cannot_report_on_another_patient_s_session(
    chart: Chart, camille: User, clinic_b: object
) -> None:
    stranger = create_user("noor.patient", Role.PATIENT, chart.clinic)
    stranger.email = "noor@example.org"
    stranger.save()
    elsewhere = create_user("camille.b", Role.PATIENT, clinic_b)  # type: ignore[arg-type]
    elsewhere.email = chart.patient.email
    elsewhere.save()

    for user in (stranger, elsewhere):
        with pytest.raises(ValidationError, match="only of their own sessions"):
            report(chart, user, Reporter.PATIENT)
        with pytest.raises(ValidationError, match="only of their own sessions"):
            services.record_follow_up(chart, no_answers(), user, FollowUpChannel.PORTAL)
    with pytest.raises(ValidationError, match="reports as the patient"):
        report(chart, camille, Reporter.STAFF)
    assert not AdverseEvent.objects.exists()


def test_staff_of_another_clinic_cannot_report(chart: Chart, bob: User) -> None:
    with pytest.raises(ValidationError, match="does not allow"):
        report(chart, bob)


# --- an adverse event --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"body_area": "cheeks"}, "cheeks was not treated at this session; choose one of forehead"),
        ({"onset_days": -1}, "cannot be before the session"),
        ({"onset_days": 1}, "onset cannot be in the future"),
        ({"grade": 0}, "The grade is 1 to 5"),
        ({"grade": 6}, "The grade is 1 to 5"),
        ({"resolved_days": 0}, "A resolution date goes with a resolved outcome"),
        ({"outcome": EventOutcome.RESOLVED, "resolved_days": -1}, "resolved before it began"),
        ({"organism": "Staphylococcus aureus"}, "only for an infection"),
        ({"side_effect": "hiccups"}, "Not a side effect of the catalogue"),
        ({"side_effect": "", "other_description": ""}, "describe it as other"),
        ({"other_description": "Headache"}, "not both"),
    ],
)
def test_an_event_that_cannot_be_right_is_refused(
    chart: Chart, asha: User, fields: dict[str, object], message: str
) -> None:
    day = services.session_day(chart)
    values: dict[str, Any] = dict(fields)
    if "onset_days" in values:
        values["onset_on"] = day + timedelta(days=int(values.pop("onset_days")))
    if "resolved_days" in values:
        values["resolved_on"] = day + timedelta(days=int(values.pop("resolved_days")))
    with pytest.raises(ValidationError, match=message):
        report(chart, asha, **values)
    assert not AdverseEvent.objects.exists()
    assert not Flag.objects.exists()


def test_an_event_names_an_area_of_the_session_and_other_is_described(
    chart: Chart, asha: User
) -> None:
    event = report(chart, asha, body_area="forehead", side_effect="", other_description="Headache")
    assert event.body_area is not None and event.body_area.code == "forehead"
    assert (event.side_effect, event.label) == (None, "Other: Headache")


def test_grade_4_is_serious_and_an_infection_records_its_organism(chart: Chart, pat: User) -> None:
    event = report(chart, pat, side_effect="infection", grade=4, organism="Mycobacterium abscessus")

    assert event.serious
    assert kinds(list(event.flags.all())) == [FlagKind.INFECTION, FlagKind.SEVERE]
    infection = event.flags.get(kind=FlagKind.INFECTION)
    assert "organism: Mycobacterium abscessus" in infection.reason


def test_an_update_keeps_every_version_and_a_grade_raised_to_3_raises_its_flag(
    chart: Chart, asha: User
) -> None:
    event = report(chart, asha, side_effect="pain", grade=2)
    assert not event.flags.exists()

    services.update_event(
        event, {"grade": 3, "treatment": "Paracetamol"}, asha, reason="Worse on day 2."
    )
    services.update_event(
        event,
        {"outcome": EventOutcome.RESOLVED, "resolved_on": chart.clinic.today()},
        asha,
        reason="Gone.",
    )

    event.refresh_from_db()
    assert (event.grade, event.outcome) == (3, EventOutcome.RESOLVED)
    versions = list(event.history.order_by("history_date", "history_id"))  # type: ignore[attr-defined]
    assert [(v.grade, v.outcome, v.history_change_reason) for v in versions] == [
        (2, EventOutcome.ONGOING, "Reported."),
        (3, EventOutcome.ONGOING, "Worse on day 2."),
        (3, EventOutcome.RESOLVED, "Gone."),
    ]
    assert {v.history_user_id for v in versions} == {asha.pk}
    assert kinds(list(event.flags.all())) == [FlagKind.SEVERE]


def test_an_update_that_cannot_be_right_changes_nothing(chart: Chart, asha: User) -> None:
    event = report(chart, asha, side_effect="pain", grade=2)
    for changes, reason, message in (
        ({"grade": 7}, "Typo.", "The grade is 1 to 5"),
        ({"resolved_on": chart.clinic.today()}, "Gone.", "goes with a resolved outcome"),
        ({"side_effect": "scars"}, "Wrong.", "cannot be changed: side_effect"),
        ({"grade": 3}, "  ", "Say why"),
    ):
        with pytest.raises(ValidationError, match=message):
            services.update_event(event, changes, asha, reason=reason)
    event.refresh_from_db()
    assert (event.grade, event.resolved_on, event.history.count()) == (2, None, 1)  # type: ignore[attr-defined]
    assert not event.flags.exists()


def test_causality_is_assessed_by_a_practitioner_only(
    chart: Chart, asha: User, alice: User, pat: User
) -> None:
    event = report(chart, asha)
    for user in (asha, alice):
        with pytest.raises(ValidationError, match="does not allow"):
            services.assess_causality(event, Causality.PROBABLE, user)

    services.assess_causality(event, Causality.PROBABLE, pat)

    event.refresh_from_db()
    assert (event.causality, event.causality_by) == (Causality.PROBABLE, pat)
    assert event.causality_at is not None


def test_an_event_is_retracted_with_a_reason_never_deleted(chart: Chart, asha: User) -> None:
    event = report(chart, asha, grade=3)
    with pytest.raises(ValidationError, match="at least 10 characters"):
        services.retract_event(event, "oops", asha)

    services.retract_event(event, "Recorded for the wrong session.", asha)

    event.refresh_from_db()
    assert event.retracted_at is not None and event.retracted_by == asha
    with pytest.raises(ValidationError, match="already retracted"):
        services.retract_event(event, "Recorded for the wrong session.", asha)
    with pytest.raises(ValidationError, match="retracted"):
        services.update_event(event, {"grade": 1}, asha, reason="Typo.")
    with pytest.raises(KeptRecordError):
        event.delete()
    with pytest.raises(KeptRecordError):
        AdverseEvent.objects.filter(pk=event.pk).delete()
    # Its flag stays for a practitioner to close.
    assert event.flags.get().is_open


# --- closing a flag ----------------------------------------------------------------------


@pytest.fixture
def flag(chart: Chart, asha: User) -> Flag:
    return report(chart, asha, side_effect="infection").flags.get()


def test_a_practitioner_closes_a_flag_with_an_action_and_a_note(flag: Flag, pat: User) -> None:
    closed = services.close_flag(flag, FlagAction.SEEN, NOTE, pat)

    flag.refresh_from_db()
    assert (flag.action, flag.action_note, flag.closed_by) == (FlagAction.SEEN, NOTE, pat)
    assert flag.closed_at is not None and not flag.is_open
    assert closed.pk == flag.pk
    assert AuditEvent.objects.filter(object_type="followup.Flag", action="update").exists()


@pytest.mark.parametrize(
    ("action", "note", "message"),
    [
        ("", NOTE, "Choose the action taken"),
        ("forgotten", NOTE, "Choose the action taken"),
        (FlagAction.CONTACTED, "", "at least 10 characters"),
        (FlagAction.CONTACTED, "   ok      ", "at least 10 characters"),
    ],
)
def test_a_flag_is_not_closed_without_an_action_and_a_note(
    flag: Flag, pat: User, action: str, note: str, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        services.close_flag(flag, action, note, pat)
    flag.refresh_from_db()
    assert flag.is_open


def test_an_assistant_cannot_close_a_flag_nor_another_clinic(
    flag: Flag, asha: User, bob: User
) -> None:
    for user in (asha, bob):
        with pytest.raises(ValidationError, match="does not allow"):
            services.close_flag(flag, FlagAction.CONTACTED, NOTE, user)
    flag.refresh_from_db()
    assert flag.is_open


def test_a_flag_is_closed_once(flag: Flag, pat: User, alice: User) -> None:
    services.close_flag(flag, FlagAction.CONTACTED, NOTE, pat)
    with pytest.raises(ValidationError, match="closed already, by Pat Practitioner"):
        services.close_flag(flag, FlagAction.TREATED, "Something else entirely.", alice)
    flag.refresh_from_db()
    assert (flag.action, flag.closed_by) == (FlagAction.CONTACTED, pat)


def test_a_flag_is_never_deleted_nor_dropped_without_an_action(flag: Flag) -> None:
    with pytest.raises(KeptRecordError):
        flag.delete()
    with pytest.raises(KeptRecordError):
        Flag.objects.filter(pk=flag.pk).delete()
    # The database itself refuses a flag closed without its action and note.
    with pytest.raises(IntegrityError), transaction.atomic():
        Flag.objects.filter(pk=flag.pk).update(closed_at=timezone.now())
    assert Flag.objects.get(pk=flag.pk).is_open


def test_the_worker_s_pass_sweeps_unanswered_follow_ups(old_chart: Chart) -> None:
    from mesoclinic.reminders.outbox import Worker

    Worker().run_pass()

    assert Flag.objects.get().chart == old_chart


def test_a_session_older_than_30_days_is_neither_due_nor_flagged(
    face_plan: CoursePlan, asha: User, lot: Lot
) -> None:
    # A clinic's history from before it used mesoclinic: the check can no longer be made.
    Lot.objects.filter(pk=lot.pk).update(received_on=lot.received_on - timedelta(days=60))
    lot.refresh_from_db()
    signed_chart(face_plan, asha, lot, ended_at=hours_ago(31 * 24), session_number=4)

    assert services.flag_unanswered() == []
    assert services.due_follow_ups(face_plan.clinic, timezone.now()) == []
