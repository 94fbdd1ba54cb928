from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_django import DjangoAssertNumQueries

from mesoclinic.clinics.models import User
from mesoclinic.formulas import services
from mesoclinic.formulas.models import Lot, Product
from mesoclinic.formulas.tests.conftest import receive
from mesoclinic.patients.models import Patient
from mesoclinic.patients.tests.conftest import make_patient

START = datetime(2026, 2, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def patients(asha: User) -> list[Patient]:
    return [make_patient(asha, given_name=f"P{n}", family_name=f"Trace{n}") for n in range(6)]


# Each example draws a list of (lot index, patient index) uses over 3 lots and 6 patients.
assignments = st.lists(st.tuples(st.integers(0, 2), st.integers(0, 5)), max_size=25)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(uses=assignments)
def test_trace_returns_exactly_the_patients_who_got_the_lot(
    uses: list[tuple[int, int]],
    lipo: Product,
    carnitine: Product,
    patients: list[Patient],
    pat: User,
) -> None:
    # A savepoint per example, rolled back, so that examples do not see each other's rows.
    with transaction.atomic():
        lots = [
            receive(lipo, pat, "T1", received_quantity=100),
            receive(carnitine, pat, "T1", received_quantity=100),  # same number, other product
            receive(lipo, pat, "T2", received_quantity=100),
        ]
        for n, (lot_index, patient_index) in enumerate(uses):
            services.record_lot_use(
                lots[lot_index],
                patients[patient_index],
                Decimal(1),
                START + timedelta(hours=n),
                pat,
            )
        for lot_index, lot in enumerate(lots):
            traced = list(services.trace_lot(lot))
            expected = [
                (p, START + timedelta(hours=n)) for n, (li, p) in enumerate(uses) if li == lot_index
            ]
            assert [(u.patient.pk, u.used_on) for u in traced] == [
                (patients[p].pk, when) for p, when in expected
            ]
            assert {u.patient for u in traced} == {patients[p] for p, _ in expected}
        for patient_index, patient in enumerate(patients):
            received = {u.lot for u in services.lots_for_patient(patient)}
            assert received == {lots[li] for li, p in uses if p == patient_index}
        transaction.set_rollback(True)


def test_trace_is_one_query_with_patients_and_dates(
    lipo: Product,
    pat: User,
    patients: list[Patient],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    lot = receive(lipo, pat, received_quantity=20)
    for n, patient in enumerate(patients):
        services.record_lot_use(lot, patient, Decimal("0.5"), START + timedelta(days=n), pat)
    with django_assert_num_queries(1):
        rows = [
            (u.patient.family_name, u.used_on.date(), u.volume_ml) for u in services.trace_lot(lot)
        ]
    assert rows[0] == ("Trace0", date(2026, 2, 2), Decimal("0.5"))
    assert len(rows) == 6


def test_lots_for_patient_is_one_query_with_lot_and_product(
    lipo: Product,
    carnitine: Product,
    pat: User,
    patients: list[Patient],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    first: Lot = receive(lipo, pat)
    second = receive(carnitine, pat)
    services.record_lot_use(first, patients[0], Decimal(1), START, pat)
    services.record_lot_use(second, patients[0], Decimal(1), START + timedelta(days=14), pat)
    services.record_lot_use(second, patients[1], Decimal(1), START, pat)
    with django_assert_num_queries(1):
        rows = [
            (u.lot.product.name, u.lot.lot_number) for u in services.lots_for_patient(patients[0])
        ]
    assert rows == [("Lipo PC", "L001"), ("Carnitine 1 g", "L001")]
