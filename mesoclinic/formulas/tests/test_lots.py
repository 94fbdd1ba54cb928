from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import RequestFactory

from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.clinics.tenancy import scoped
from mesoclinic.formulas import services
from mesoclinic.formulas.models import Lot, LotStatus, LotUse, Product
from mesoclinic.formulas.tests.conftest import receive
from mesoclinic.patients.models import Patient

NOON = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def test_an_active_lot_in_date_is_usable(lipo_lot: Lot) -> None:
    check = services.lot_usable(lipo_lot, date(2026, 3, 2))
    assert check.ok and check.reason == ""


def test_a_lot_is_usable_through_its_expiry_day_and_not_after(lipo_lot: Lot) -> None:
    assert services.lot_usable(lipo_lot, date(2027, 6, 30)).ok
    check = services.lot_usable(lipo_lot, date(2027, 7, 1))
    assert not check.ok
    assert check.reason == "Lot L001 of Lipo PC expired on 2027-06-30."


def test_a_lot_is_not_usable_before_it_was_received(lipo_lot: Lot) -> None:
    check = services.lot_usable(lipo_lot, date(2026, 1, 4))
    assert not check.ok and "only received on 2026-01-05" in check.reason


def test_quarantined_and_recalled_lots_are_refused_with_the_reason(
    lipo_lot: Lot, pat: User
) -> None:
    services.quarantine_lot(lipo_lot, "Cloudy solution in one vial.", pat)
    lipo_lot.refresh_from_db()
    check = services.lot_usable(lipo_lot, date(2026, 3, 2))
    assert not check.ok
    assert check.reason == "Lot L001 of Lipo PC is quarantined: Cloudy solution in one vial."

    services.recall_lot(lipo_lot, "Manufacturer recall: sterility not assured.", pat)
    lipo_lot.refresh_from_db()
    check = services.lot_usable(lipo_lot, date(2026, 3, 2))
    assert not check.ok
    assert check.reason == (
        "Lot L001 of Lipo PC has been recalled: Manufacturer recall: sterility not assured."
    )


@pytest.mark.parametrize(
    ("used_on", "usable"),
    [
        # Paris is UTC+2 in summer: 21:59 UTC is 23:59 on the expiry day, 22:00 the next day.
        (datetime(2027, 6, 30, 21, 59, tzinfo=UTC), True),
        (datetime(2027, 6, 30, 22, 0, tzinfo=UTC), False),
    ],
)
def test_expiry_is_judged_on_the_clinics_local_date(
    lot_factory_lipo: Lot, patient_a: Patient, pat: User, used_on: datetime, usable: bool
) -> None:
    record = lambda: services.record_lot_use(  # noqa: E731
        lot_factory_lipo, patient_a, Decimal(2), used_on, pat
    )
    if usable:
        assert record().used_on == used_on
    else:
        with pytest.raises(ValidationError, match="expired on 2027-06-30"):
            record()
        assert not LotUse.objects.exists()


@pytest.fixture
def lot_factory_lipo(lipo: Product, pat: User) -> Lot:
    return receive(lipo, pat, "L-EXP")


def test_the_same_instant_is_another_day_in_london(
    hyaluronic_b: Product, bob: User, patient_b: Patient
) -> None:
    lot = receive(hyaluronic_b, bob, "HA1")
    # 22:30 UTC on 30 June is still 30 June (23:30) in London: usable in clinic B.
    use = services.record_lot_use(
        lot, patient_b, Decimal(1), datetime(2027, 6, 30, 22, 30, tzinfo=UTC), bob
    )
    assert use.pk is not None


def test_record_lot_use_takes_stock_opens_the_lot_and_audits(
    lipo_lot: Lot, patient_a: Patient, pat: User
) -> None:
    use = services.record_lot_use(lipo_lot, patient_a, Decimal("7.5"), NOON, pat, reference="C1")
    lipo_lot.refresh_from_db()
    assert use.units == 2  # 7.5 mL from 5 mL vials
    assert lipo_lot.remaining_units == 8
    assert lipo_lot.opened_on == date(2026, 3, 2)
    event = AuditEvent.objects.get(object_type="formulas.LotUse")
    assert event.action == AuditAction.CREATE
    assert event.patient_id == patient_a.pk
    assert event.clinic_id == pat.clinic_id
    assert event.detail["units"] == 2


def test_a_multi_dose_vial_is_drawn_from_until_another_is_opened(
    pat: User, patient_a: Patient, ingredients: object
) -> None:
    assert pat.clinic is not None
    vial = services.create_product(
        clinic=pat.clinic,
        name="Multi",
        manufacturer="M",
        presentation="vial",
        volume_ml=Decimal(10),
        contents=[],
        multi_dose=True,
        actor=pat,
    )
    lot = receive(vial, pat, received_quantity=2)
    assert services.record_lot_use(lot, patient_a, Decimal(2), NOON, pat).units == 1
    assert services.record_lot_use(lot, patient_a, Decimal(2), NOON, pat).units == 0
    assert services.record_lot_use(lot, patient_a, Decimal(2), NOON, pat, units=1).units == 1
    lot.refresh_from_db()
    assert lot.remaining_units == 0


def test_a_use_beyond_the_stock_is_refused_and_changes_nothing(
    lipo: Product, pat: User, patient_a: Patient
) -> None:
    lot = receive(lipo, pat, received_quantity=1)
    with pytest.raises(ValidationError, match="1 unit\\(s\\) left; this use needs 2"):
        services.record_lot_use(lot, patient_a, Decimal(6), NOON, pat)
    lot.refresh_from_db()
    assert lot.remaining_units == 1 and lot.opened_on is None
    assert not LotUse.objects.exists()


@pytest.mark.parametrize("volume", [Decimal(0), Decimal(-1)])
def test_a_zero_or_negative_volume_is_refused(
    lipo_lot: Lot, patient_a: Patient, pat: User, volume: Decimal
) -> None:
    with pytest.raises(ValidationError, match="must be above zero mL"):
        services.record_lot_use(lipo_lot, patient_a, volume, NOON, pat)
    assert not LotUse.objects.exists()


def test_a_recalled_lot_cannot_be_used(lipo_lot: Lot, patient_a: Patient, pat: User) -> None:
    services.recall_lot(lipo_lot, "Contamination suspected.", pat)
    with pytest.raises(ValidationError, match=r"has been recalled: Contamination suspected\."):
        services.record_lot_use(lipo_lot, patient_a, Decimal(1), NOON, pat)
    lipo_lot.refresh_from_db()
    assert lipo_lot.remaining_units == 10


def test_a_patient_of_another_clinic_cannot_receive_the_lot(
    lipo_lot: Lot, patient_b: Patient, pat: User
) -> None:
    with pytest.raises(ValidationError, match="different clinics"):
        services.record_lot_use(lipo_lot, patient_b, Decimal(1), NOON, pat)


def test_quarantine_release_and_recall_are_audited_with_who_and_why(
    lipo_lot: Lot, alice: User
) -> None:
    services.quarantine_lot(lipo_lot, "Pack damaged in transit.", alice)
    services.release_lot(lipo_lot, "Vials inspected: intact.", alice)
    lot = services.recall_lot(lipo_lot, "Recall notice 2026-014.", alice)
    assert lot.status == LotStatus.RECALLED
    assert lot.status_changed_by == alice and lot.status_changed_at is not None
    events = AuditEvent.objects.filter(object_type="formulas.Lot", action=AuditAction.UPDATE)
    assert [(e.detail["status"], e.detail["reason"], e.actor) for e in events.order_by("pk")] == [
        ("quarantined", "Pack damaged in transit.", alice),
        ("active", "Vials inspected: intact.", alice),
        ("recalled", "Recall notice 2026-014.", alice),
    ]
    assert {h.status for h in lot.history.all()} == {"active", "quarantined", "recalled"}


def test_a_recall_is_final_and_needs_a_reason(lipo_lot: Lot, pat: User) -> None:
    with pytest.raises(ValidationError, match="Give the reason"):
        services.recall_lot(lipo_lot, "   ", pat)
    services.recall_lot(lipo_lot, "Recall.", pat)
    with pytest.raises(ValidationError, match="is recalled; it cannot become quarantined"):
        services.quarantine_lot(lipo_lot, "Again.", pat)
    with pytest.raises(ValidationError, match="cannot become active"):
        services.release_lot(lipo_lot, "Oops.", pat)


def test_lot_numbers_are_unique_per_product_but_shared_across_products(
    lipo: Product, carnitine: Product, pat: User
) -> None:
    receive(lipo, pat, "A123")
    receive(carnitine, pat, "A123")  # another product may print the same number
    with pytest.raises(ValidationError, match="Lipo PC already has a lot A123"):
        receive(lipo, pat, " A123 ")
    with pytest.raises(IntegrityError), transaction.atomic():
        Lot.objects.create(
            product=lipo,
            lot_number="A123",
            expiry_date=date(2027, 1, 1),
            received_on=date(2026, 1, 1),
            received_quantity=1,
            remaining_units=1,
        )
    assert Lot.objects.filter(lot_number="A123").count() == 2


def test_receiving_a_lot_refuses_impossible_values(lipo: Product, pat: User) -> None:
    with pytest.raises(ValidationError) as raised:
        receive(lipo, pat, "", received_quantity=0, expiry_date=date(2025, 1, 1))
    assert raised.value.messages == [
        "A lot needs its lot number, as printed on the pack.",
        "The received quantity must be at least one unit (got 0).",
        "The lot expired on 2025-01-01, before it was received on 2026-01-05.",
    ]
    assert not Lot.objects.exists()


def test_scoping_never_returns_another_clinics_lots(
    lipo_lot: Lot, hyaluronic_b: Product, pat: User, bob: User, patient_a: Patient
) -> None:
    lot_b = receive(hyaluronic_b, bob, "L001")  # the same number, in clinic B
    services.record_lot_use(lipo_lot, patient_a, Decimal(1), NOON, pat)
    request = RequestFactory().get("/")
    request.user = pat
    assert list(scoped(request, Lot)) == [lipo_lot]
    assert list(scoped(request, LotUse).values_list("lot", flat=True)) == [lipo_lot.pk]
    request.user = bob
    assert list(scoped(request, Lot)) == [lot_b]
    assert not scoped(request, LotUse).exists()
    assert list(scoped(request, Product)) == [hyaluronic_b]
