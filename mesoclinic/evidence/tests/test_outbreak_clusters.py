"""Alerts that count the same infected patients: a weaker alert whose infected patients are
all counted by a stronger one is shown under it (``outbreaks.explained_by``,
``outbreaks.open_clusters``). Display only: the scan raises and counts them as before."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mesoclinic.clinics.models import Clinic, User
from mesoclinic.evidence import outbreaks
from mesoclinic.evidence.models import AlertContact, ExposureKind, OutbreakAlert
from mesoclinic.evidence.outbreaks import explained_by, open_clusters
from mesoclinic.evidence.tests.planted import Outbreak, plant_outbreak

LOT, VIAL, INJECTOR, DAY = (
    ExposureKind.LOT,
    ExposureKind.VIAL,
    ExposureKind.INJECTOR,
    ExposureKind.DAY,
)


def alert(pk: int, kind: str, p_value: float) -> OutbreakAlert:
    return OutbreakAlert(pk=pk, kind=kind, p_value=p_value)


# --- the rule, on alerts in memory -------------------------------------------------------------


def test_a_weaker_alert_counting_only_a_stronger_ones_patients_is_explained_by_it() -> None:
    lot, day = alert(1, LOT, 1e-6), alert(2, DAY, 1e-4)
    assert explained_by([day, lot], {1: {10, 11, 12}, 2: {10, 12}}) == {2: lot}
    # The same patients both ways: the weaker is explained, never the stronger.
    assert explained_by([day, lot], {1: {10, 12}, 2: {10, 12}}) == {2: lot}


def test_an_infected_patient_of_its_own_keeps_an_alert_apart() -> None:
    lot, day = alert(1, LOT, 1e-6), alert(2, DAY, 1e-4)
    assert explained_by([lot, day], {1: {10, 11}, 2: {10, 99}}) == {}


def test_the_stronger_is_the_smaller_p_value() -> None:
    day, gun = alert(1, DAY, 1e-7), alert(2, INJECTOR, 1e-3)
    assert explained_by([gun, day], {1: {10, 11}, 2: {10, 11}}) == {2: day}
    lot, vial = alert(3, LOT, 1e-7), alert(4, VIAL, 1e-3)
    assert explained_by([vial, lot], {3: {10, 11}, 4: {10, 11}}) == {4: lot}


def test_a_lot_or_vial_alert_is_never_listed_under_a_gun_or_day_alert() -> None:
    day, gun = alert(1, DAY, 1e-9), alert(2, INJECTOR, 1e-8)
    lot, vial = alert(3, LOT, 1e-3), alert(4, VIAL, 1e-4)
    infected = {pk: {10, 11} for pk in (1, 2, 3, 4)}
    # The gun is listed under the day; the lot under the vial, the strongest product alert.
    assert explained_by([lot, vial, gun, day], infected) == {2: day, 3: vial}


def test_on_equal_p_values_a_lot_then_a_vial_then_a_gun_then_a_day_then_the_oldest() -> None:
    patients = {10, 11}
    day, gun, vial, lot = (
        alert(1, DAY, 1e-5),
        alert(2, INJECTOR, 1e-5),
        alert(3, VIAL, 1e-5),
        alert(4, LOT, 1e-5),
    )
    found = explained_by([day, gun, vial, lot], dict.fromkeys([1, 2, 3, 4], patients))
    assert found == {1: lot, 2: lot, 3: lot}
    older, newer = alert(5, LOT, 1e-5), alert(6, LOT, 1e-5)
    assert explained_by([newer, older], {5: patients, 6: patients}) == {6: older}


def test_the_strongest_of_the_alerts_counting_its_patients_explains_it() -> None:
    strongest, middle, weak = alert(1, DAY, 1e-8), alert(2, INJECTOR, 1e-6), alert(3, DAY, 1e-3)
    infected = {1: {10, 11, 12}, 2: {10, 11}, 3: {10}}
    # Nested once: the middle one is explained too, by the same strongest alert.
    assert explained_by([weak, middle, strongest], infected) == {2: strongest, 3: strongest}
    # A stronger alert missing one of its patients does not explain it.
    assert explained_by([weak, middle, strongest], {1: {11, 12}, 2: {10, 11}, 3: {10}}) == {
        3: middle
    }


def test_an_alert_with_no_infected_patient_left_is_explained_by_none() -> None:
    lot, day = alert(1, LOT, 1e-6), alert(2, DAY, 0.5)
    assert explained_by([lot, day], {1: {10, 11}}) == {}
    assert explained_by([lot, day], {1: {10, 11}, 2: set()}) == {}


# --- a clinic's open alerts ------------------------------------------------------------------


def infected(alert: OutbreakAlert) -> set[int]:
    return set(alert.contacts.filter(infected=True).values_list("patient_id", flat=True))


def next_lot(outbreak: Outbreak) -> OutbreakAlert:
    """The alert of the planted lot's successor, which treated some of the same patients."""
    following = outbreak.registry.lots[1].pk
    [found] = [a for a in outbreak.others if a.kind == LOT and a.lot_id == following]
    return found


@pytest.mark.django_db
@pytest.mark.usefixtures("catalogue")
def test_the_planted_lot_heads_the_alerts_of_its_co_used_lot_and_gun(clinic_a: Clinic) -> None:
    outbreak = plant_outbreak(clinic_a)
    lot, following = outbreak.alert, next_lot(outbreak)

    clusters = open_clusters(clinic_a)
    assert clusters[0].alert == lot  # the strongest first
    explained = clusters[0].explains
    assert following in explained
    assert any(a.kind == INJECTOR for a in explained)
    for other in explained:
        assert infected(other) <= infected(lot)
        assert outbreaks.strength(lot) < outbreaks.strength(other)
    assert [outbreaks.strength(a) for a in explained] == sorted(
        outbreaks.strength(a) for a in explained
    )
    # Every open alert is shown once, heading a cluster or under one.
    shown = [a.pk for c in clusters for a in (c.alert, *c.explains)]
    assert sorted(shown) == sorted(a.pk for a in (lot, *outbreak.others))
    assert outbreaks.cluster_of(following) == clusters[0] == outbreaks.cluster_of(lot)
    # Display only: the alerts and their figures are the scan's.
    assert following.p_value < following.threshold


@pytest.mark.django_db
@pytest.mark.usefixtures("catalogue")
def test_an_alert_with_an_infected_patient_the_lot_does_not_count_stands_apart(
    clinic_a: Clinic,
) -> None:
    outbreak = plant_outbreak(clinic_a)
    lot, following = outbreak.alert, next_lot(outbreak)
    outsider = next(
        p for p in outbreak.registry.patients if p.pk not in infected(lot) | infected(following)
    )
    # As if a scan had found one infected patient of the next lot's own (written here: the
    # registry plants infections on one lot only).
    day = clinic_a.today()
    AlertContact.objects.create(
        alert=following,
        patient=outsider,
        infected=True,
        onset_on=day,
        first_exposed_on=day - timedelta(days=14),
        last_exposed_on=day - timedelta(days=14),
        sessions=1,
    )

    clusters = {c.alert: c.explains for c in open_clusters(clinic_a)}
    assert following in clusters and following not in clusters[lot]


@pytest.mark.django_db
@pytest.mark.usefixtures("catalogue")
def test_closed_alerts_are_neither_folded_nor_explain(clinic_a: Clinic, pat: User) -> None:
    outbreak = plant_outbreak(clinic_a)
    lot, following = outbreak.alert, next_lot(outbreak)
    [gun, *_] = [a for a in open_clusters(clinic_a)[0].explains if a.kind == INJECTOR]
    outbreaks.close_alert(gun, "Gun serviced; nothing found.", pat)
    outbreaks.close_alert(lot, "Lot destroyed; all contacted.", pat)

    clusters = open_clusters(clinic_a)
    shown = {a.pk for c in clusters for a in (c.alert, *c.explains)}
    assert lot.pk not in shown and gun.pk not in shown
    assert following.pk in shown  # still open: heading a cluster now, or under another alert
    lot.refresh_from_db()
    assert outbreaks.cluster_of(lot) is None


@pytest.mark.django_db
@pytest.mark.usefixtures("catalogue")
def test_another_clinics_alerts_never_appear(clinic_a: Clinic, clinic_b: Clinic) -> None:
    mine = plant_outbreak(clinic_a)
    theirs = plant_outbreak(clinic_b)
    assert theirs.others
    shown = [a for c in open_clusters(clinic_a) for a in (c.alert, *c.explains)]
    assert sorted(a.pk for a in shown) == sorted(a.pk for a in (mine.alert, *mine.others))
    assert {a.clinic_id for a in shown} == {clinic_a.pk}
