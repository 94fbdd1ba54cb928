"""The chart's life: started only through the gate, a draft that survives and refuses bad
input, volumes that must add up, signing once (stock taken once), immutable afterwards, and
amendments that keep the original."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from mesoclinic.charts import services
from mesoclinic.charts.models import (
    AreaTreatment,
    Chart,
    ChartAmendment,
    InjectionPoint,
    SignedChartError,
    Syringe,
)
from mesoclinic.charts.testing import ready_session, simple_draft, stock_lot
from mesoclinic.clinics.models import AuditEvent, User
from mesoclinic.clinics.testing import PASSWORD
from mesoclinic.consent import services as consent
from mesoclinic.courses.models import Appointment, AppointmentStatus, CoursePlan, CourseStatus
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import Lot, LotUse
from mesoclinic.patients import services as patients
from mesoclinic.reminders.models import Reminder, ReminderKind, ReminderStatus


def signed(chart: Chart, lot: Lot, pat: User) -> Chart:
    services.save_draft(chart, simple_draft(chart, lot), pat)
    return services.sign(chart, pat, PASSWORD)


# --- starting -------------------------------------------------------------------------


def test_a_chart_starts_after_screening_and_consent_and_only_once(
    session: Appointment, bookable_pat: User
) -> None:
    chart = services.start_chart(session, bookable_pat)

    assert chart.screening.appointment_id == session.pk
    assert chart.formula_version == session.plan.formula_version  # type: ignore[union-attr]
    assert services.start_chart(session, bookable_pat) == chart
    assert Chart.objects.filter(appointment=session).count() == 1


def test_no_chart_without_a_valid_consent(
    session: Appointment, bookable_pat: User, asha: User
) -> None:
    document = consent.valid_consent(session.plan, timezone.now())  # type: ignore[arg-type]
    assert document is not None
    consent.withdraw(document, "Changed her mind.", actor=asha, how="in_person")

    with pytest.raises(ValidationError) as refused:
        services.start_chart(session, bookable_pat)

    assert "No valid consent" in " ".join(refused.value.messages)
    assert not Chart.objects.exists()


def test_no_chart_while_screening_blocks(
    session: Appointment, bookable_pat: User, asha: User
) -> None:
    patients.add_medication(
        session.patient,
        name="ibuprofen",
        last_dose_taken=session.clinic.today() - timedelta(days=1),
        actor=asha,
        request=None,
    )

    with pytest.raises(ValidationError) as refused:
        services.start_chart(session, bookable_pat)

    assert "NSAID" in " ".join(refused.value.messages)
    assert not Chart.objects.exists()


def test_no_chart_before_the_day_of_the_session(
    face_plan: CoursePlan, asha: User, bookable_pat: User
) -> None:
    appointment = ready_session(face_plan, asha)
    later = timezone.now() + timedelta(days=2)
    Appointment.objects.filter(pk=appointment.pk).update(
        starts_at=later, ends_at=later + timedelta(minutes=30)
    )
    appointment.refresh_from_db()

    with pytest.raises(ValidationError, match="on the day of the session"):
        services.start_chart(appointment, bookable_pat)


# --- the draft ------------------------------------------------------------------------


def test_a_draft_is_saved_as_given_and_read_back(
    chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    draft = simple_draft(chart, lot)

    services.save_draft(chart, draft, bookable_pat)

    # A fresh read, as after the browser tab was closed.
    again = services.spec_of(Chart.objects.get(pk=chart.pk))
    assert again == draft
    assert InjectionPoint.objects.filter(chart=chart).count() == 2
    assert AuditEvent.objects.filter(object_type="charts.Chart", object_id=str(chart.pk)).exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: replace(d, areas=[replace(d.areas[0], area="elbow")]), "no body area"),
        (lambda d: replace(d, areas=[replace(d.areas[0], syringe=2)]), "there is no syringe 2"),
        (lambda d: replace(d, areas=[replace(d.areas[0], depth_mm=Decimal(-1))]), "above zero"),
        (lambda d: replace(d, areas=[replace(d.areas[0], depth_mm=Decimal(40))]), "check the unit"),
        (lambda d: replace(d, areas=[replace(d.areas[0], technique="tattoo")]), "technique"),
        (lambda d: replace(d, areas=[replace(d.areas[0], point_count=1)]), "only 1 counted"),
        (lambda d: replace(d, pain_score=11), "0 to 10"),
        (lambda d: replace(d, ended_at=d.started_at), "end after it starts"),
        (lambda d: replace(d, notes="a\x00b"), "NUL"),
        (
            lambda d: replace(
                d,
                areas=[
                    replace(d.areas[0], points=[services.PointSpec("face", Decimal(1), Decimal(1))])
                ],
            ),
            "outside",
        ),
        (
            lambda d: replace(d, areas=[replace(d.areas[0], area="chin")]),
            "does not belong to this area",
        ),
        (
            lambda d: replace(d, areas=[replace(d.areas[0], area="thighs", points=[])]),
            "say which side",
        ),
    ],
    ids=[
        "unknown-area",
        "unknown-syringe",
        "negative-depth",
        "depth-in-wrong-unit",
        "unknown-technique",
        "fewer-points-than-placed",
        "pain-out-of-range",
        "ends-when-it-starts",
        "nul",
        "point-off-the-map",
        "point-in-another-area",
        "paired-area-without-side",
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    chart: Chart, lot: Lot, bookable_pat: User, change: object, message: str
) -> None:
    good = simple_draft(chart, lot)
    services.save_draft(chart, good, bookable_pat)

    with pytest.raises(ValidationError) as refused:
        services.save_draft(chart, change(good), bookable_pat)  # type: ignore[operator]

    assert message in " ".join(refused.value.messages)
    assert services.spec_of(Chart.objects.get(pk=chart.pk)) == good


def test_lots_that_may_not_be_used_are_refused(
    chart: Chart, lot: Lot, bookable_pat: User, bob: User
) -> None:
    formulas.recall_lot(lot, "Supplier recall: sterility not assured.", bookable_pat)
    with pytest.raises(ValidationError, match="has been recalled"):
        services.save_draft(chart, simple_draft(chart, lot), bookable_pat)

    assert bob.clinic is not None
    theirs = stock_lot(bob.clinic, bob, number="B-1")
    with pytest.raises(ValidationError, match=r"no lot .* in this clinic's stock"):
        services.save_draft(chart, simple_draft(chart, theirs), bookable_pat)
    assert not Syringe.objects.filter(chart=chart).exists()


def test_volumes_that_do_not_add_up_are_shown_and_stop_signing(
    chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    draft = simple_draft(chart, lot)
    short = replace(
        draft,
        syringes=[replace(draft.syringes[0], lots=[services.LotSpec(lot.pk, Decimal("1.50"))])],
        areas=[replace(draft.areas[0], point_count=10)],
    )
    services.save_draft(chart, short, bookable_pat)

    found = services.problems(services.spec_of(chart))
    assert "Syringe 1: its lots add up to 1.50 mL, not the 2.00 mL drawn." in found
    assert "Syringe 1: the areas add up to 1.00 mL, not the 2.00 mL drawn." in found
    with pytest.raises(ValidationError) as refused:
        services.sign(chart, bookable_pat, PASSWORD)
    assert "its lots add up to 1.50 mL" in " ".join(refused.value.messages)
    assert Chart.objects.get(pk=chart.pk).signed_at is None
    assert not LotUse.objects.exists()


def test_area_volume_counts_placed_points_at_their_own_volume() -> None:
    area = services.AreaSpec(
        area="forehead",
        syringe=1,
        technique="papule",
        depth_mm=Decimal(1),
        volume_per_point_ml=Decimal("0.05"),
        point_count=10,
        points=[services.PointSpec("face", Decimal(0), Decimal(0), volume_ml=Decimal("0.2"))],
    )
    # One point at 0.2 mL and nine at 0.05 mL.
    assert services.area_volume(area) == Decimal("0.65")


# --- signing --------------------------------------------------------------------------


def test_signing_takes_the_lots_from_stock_and_advances_the_course(
    chart: Chart, lot: Lot, bookable_pat: User, face_plan: CoursePlan
) -> None:
    before = lot.remaining_units

    signed(chart, lot, bookable_pat)

    chart.refresh_from_db()
    assert chart.signed_by == bookable_pat
    assert chart.content_sha256 == services.content_hash(chart)
    lot.refresh_from_db()
    assert lot.remaining_units == before - 1
    use = LotUse.objects.get()
    assert (use.patient, use.volume_ml, use.formula_version) == (
        chart.patient,
        Decimal("2.00"),
        chart.formula_version,
    )
    assert use.reference == f"Chart {chart.pk}, syringe 1"
    chart.appointment.refresh_from_db()
    assert chart.appointment.status == AppointmentStatus.ATTENDED
    face_plan.refresh_from_db()
    assert face_plan.status == CourseStatus.ACTIVE
    assert (
        str(services.progress(face_plan)) == f"1 of {face_plan.sessions_planned} sessions charted"
    )


def test_a_retried_signature_takes_nothing_from_stock_twice(
    chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    signed(chart, lot, bookable_pat)
    first = Chart.objects.get(pk=chart.pk)

    again = services.sign(chart, bookable_pat, PASSWORD)

    assert again.signed_at == first.signed_at
    assert LotUse.objects.count() == 1
    lot.refresh_from_db()
    assert lot.remaining_units == 9


def test_only_the_treating_practitioner_signs_with_their_password(
    chart: Chart, lot: Lot, bookable_pat: User, alice: User
) -> None:
    services.save_draft(chart, simple_draft(chart, lot), bookable_pat)

    with pytest.raises(ValidationError, match="password is not right"):
        services.sign(chart, bookable_pat, "not-my-password")
    with pytest.raises(ValidationError, match="who gave the treatment"):
        services.sign(chart, alice, PASSWORD)

    assert Chart.objects.get(pk=chart.pk).signed_at is None
    lot.refresh_from_db()
    assert lot.remaining_units == 10


def test_a_lot_recalled_before_signing_stops_the_signature_and_takes_nothing(
    chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    formulas.quarantine_lot(lot, "Infection reported after use.", bookable_pat)

    with pytest.raises(ValidationError, match="quarantined"):
        services.sign(chart, bookable_pat, PASSWORD)

    assert Chart.objects.get(pk=chart.pk).signed_at is None
    assert not LotUse.objects.exists()


def test_a_multi_dose_vial_is_opened_once_and_then_drawn_from(
    face_plan: CoursePlan, asha: User, bookable_pat: User
) -> None:
    assert bookable_pat.clinic is not None
    vial = stock_lot(bookable_pat.clinic, bookable_pat, number="MD-1", multi_dose=True)
    first = services.start_chart(ready_session(face_plan, asha), bookable_pat)
    draft = simple_draft(first, vial)
    draft.syringes[0].lots[0].opens_unit = True
    services.save_draft(first, draft, bookable_pat)
    services.sign(first, bookable_pat, PASSWORD)
    vial.refresh_from_db()
    assert (vial.remaining_units, vial.opened_on) == (9, vial.product.clinic.today())

    second = services.start_chart(ready_session(face_plan, asha, session_number=2), bookable_pat)
    services.save_draft(second, simple_draft(second, vial), bookable_pat)
    services.sign(second, bookable_pat, PASSWORD)

    vial.refresh_from_db()
    assert vial.remaining_units == 9  # drawn from the vial already open


def test_signing_times_the_follow_up_from_the_real_end(
    session: Appointment, bookable_pat: User, lot: Lot
) -> None:
    # Booked ending 10 minutes from now; the chart says it ended 5 minutes ago.
    chart = services.start_chart(session, bookable_pat)
    draft = simple_draft(chart, lot)
    ended = timezone.now().replace(microsecond=0) - timedelta(minutes=5)
    services.save_draft(chart, replace(draft, ended_at=ended), bookable_pat)

    services.sign(chart, bookable_pat, PASSWORD)

    follow_up = Reminder.objects.get(
        appointment=session, kind=ReminderKind.FOLLOW_UP, status=ReminderStatus.PENDING
    )
    assert follow_up.due_at == ended + timedelta(hours=24)


def test_the_last_session_signed_completes_the_course(
    face_plan: CoursePlan, asha: User, bookable_pat: User, lot: Lot
) -> None:
    CoursePlan.objects.filter(pk=face_plan.pk).update(sessions_planned=2)
    for number in (1, 2):
        chart = services.start_chart(
            ready_session(face_plan, asha, session_number=number), bookable_pat
        )
        signed(chart, lot, bookable_pat)
        face_plan.refresh_from_db()
        assert face_plan.status == (CourseStatus.ACTIVE if number == 1 else CourseStatus.COMPLETED)
    assert face_plan.maintenance.exists()


def test_a_copy_of_an_earlier_chart_starts_with_its_map(
    face_plan: CoursePlan, asha: User, bookable_pat: User, lot: Lot
) -> None:
    first = signed(
        services.start_chart(ready_session(face_plan, asha), bookable_pat), lot, bookable_pat
    )
    formulas.recall_lot(lot, "Supplier recall.", bookable_pat)

    second = services.start_chart(
        ready_session(face_plan, asha, session_number=2), bookable_pat, copy_from=first
    )

    copy = services.spec_of(second)
    original = services.spec_of(first)
    assert copy.areas == original.areas
    assert copy.syringes[0].lots == []  # the recalled lot is not carried over
    assert copy.started_at is None
    assert second.copied_from == first


# --- a signed chart never changes -----------------------------------------------------


def test_a_signed_chart_cannot_be_changed_through_the_orm(
    chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    signed(chart, lot, bookable_pat)
    chart.refresh_from_db()

    chart.notes = "rewritten"
    with pytest.raises(SignedChartError):
        chart.save()
    with pytest.raises(SignedChartError):
        Chart.objects.filter(pk=chart.pk).update(notes="rewritten")
    with pytest.raises(SignedChartError):
        chart.delete()
    with pytest.raises(SignedChartError):
        AreaTreatment.objects.filter(chart=chart).update(point_count=99)
    syringe = Syringe.objects.get(chart=chart)
    syringe.volume_ml = Decimal(9)
    with pytest.raises(SignedChartError):
        syringe.save()
    with pytest.raises(ValidationError, match="amendment"):
        services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    assert Chart.objects.get(pk=chart.pk).notes == ""


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE charts_chart SET notes = 'rewritten' WHERE id = %s",
        "DELETE FROM charts_chart WHERE id = %s",
        "UPDATE charts_syringe SET volume_ml = 9 WHERE chart_id = %s",
        "UPDATE charts_areatreatment SET point_count = 99 WHERE chart_id = %s",
        "DELETE FROM charts_injectionpoint WHERE chart_id = %s",
        "UPDATE charts_syringelot SET volume_ml = 9 WHERE chart_id = %s",
        "INSERT INTO charts_injectionpoint (chart_id, area_id, number, view, x, y) "
        "SELECT chart_id, id, 99, 'face', 100, 60 FROM charts_areatreatment WHERE chart_id = %s",
    ],
    ids=[
        "update-chart",
        "delete-chart",
        "update-syringe",
        "update-area",
        "delete-point",
        "update-lot-line",
        "insert-point",
    ],
)
def test_the_database_refuses_sql_that_would_change_a_signed_chart(
    chart: Chart, lot: Lot, bookable_pat: User, statement: str
) -> None:
    hash_before = signed(chart, lot, bookable_pat).content_sha256

    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():  # noqa: SIM117
        with connection.cursor() as cursor:
            cursor.execute(statement, [chart.pk])

    assert services.content_hash(Chart.objects.get(pk=chart.pk)) == hash_before


def test_a_draft_changes_freely_in_sql(chart: Chart, lot: Lot, bookable_pat: User) -> None:
    services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE charts_syringe SET needle_gauge = 30 WHERE chart_id = %s", [chart.pk]
        )
    assert Syringe.objects.get(chart=chart).needle_gauge == 30


# --- amendments -----------------------------------------------------------------------


def test_an_amendment_keeps_the_original(chart: Chart, lot: Lot, bookable_pat: User) -> None:
    signed(chart, lot, bookable_pat)
    chart.refresh_from_db()

    first = services.amend(chart, "pain_score", "4", "Patient rated it again after.", bookable_pat)
    second = services.amend(
        chart, "pain_score", "5", "Typing error in the first amendment.", bookable_pat
    )

    assert (first.original, first.value) == ("2", "4")
    assert (second.original, second.value) == ("4", "5")
    assert services.effective(chart)["pain_score"] == 5
    assert Chart.objects.get(pk=chart.pk).pain_score == 2  # the signed value stays
    assert AuditEvent.objects.filter(
        object_type="charts.ChartAmendment", object_id=str(second.pk), actor=bookable_pat
    ).exists()


def test_amendments_are_refused_when_they_make_no_sense(
    chart: Chart, lot: Lot, bookable_pat: User
) -> None:
    services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    with pytest.raises(ValidationError, match="amendments are for signed charts"):
        services.amend(chart, "notes", "x", "Because.", bookable_pat)
    services.sign(chart, bookable_pat, PASSWORD)
    chart.refresh_from_db()

    for field, value, reason, message in [
        ("notes", "Fine", "", "Give the reason"),
        ("formula_version", "3", "Wrong mix.", "cannot be amended"),
        ("pain_score", "12", "Typo.", "0 to 10"),
        ("pain_score", "2", "Typo.", "already holds"),
        ("ended_at", chart.started_at.isoformat(), "Typo.", "end after it starts"),  # type: ignore[union-attr]
        ("started_at", "yesterday", "Typo.", "not a date and time"),
    ]:
        with pytest.raises(ValidationError, match=message):
            services.amend(chart, field, value, reason, bookable_pat)
    assert not ChartAmendment.objects.exists()


def test_an_amendment_itself_never_changes(chart: Chart, lot: Lot, bookable_pat: User) -> None:
    signed(chart, lot, bookable_pat)
    chart.refresh_from_db()
    amendment = services.amend(chart, "notes", "Mild erythema, settled.", "Forgot.", bookable_pat)

    with pytest.raises(SignedChartError):
        amendment.save()
    with pytest.raises(SignedChartError):
        ChartAmendment.objects.filter(pk=amendment.pk).update(value="x")
    with pytest.raises((IntegrityError, DatabaseError)), transaction.atomic():  # noqa: SIM117
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE charts_chartamendment SET value = 'x' WHERE id = %s", [amendment.pk]
            )
    assert ChartAmendment.objects.get(pk=amendment.pk).value == "Mild erythema, settled."


def test_an_impossible_time_is_refused_as_such(chart: Chart, lot: Lot, bookable_pat: User) -> None:
    signed(chart, lot, bookable_pat)
    chart.refresh_from_db()
    with pytest.raises(ValidationError, match="not a date and time"):
        services.amend(chart, "ended_at", "2026-02-30T10:00", "Typo.", bookable_pat)


def test_experience_counts_signed_sessions_per_indication(
    face_plan: CoursePlan, asha: User, bookable_pat: User, lot: Lot
) -> None:
    for number in (1, 2):
        chart = services.start_chart(
            ready_session(face_plan, asha, session_number=number), bookable_pat
        )
        services.save_draft(chart, simple_draft(chart, lot), bookable_pat)
    signed_one = services.sign(chart, bookable_pat, PASSWORD)

    (row,) = services.experience(bookable_pat)

    assert (row.indication, row.sessions, row.patients) == (
        face_plan.indication.label,
        1,  # the draft does not count
        1,
    )
    assert row.last == signed_one.appointment.starts_at
