"""The outbreak alert pages: staff see their clinic's alerts and nobody else's, reading an
alert is audited, and the actions (scan, contact, quarantine, close) refuse bad input and the
wrong role without changing anything."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, User
from mesoclinic.evidence import outbreaks
from mesoclinic.evidence.models import AlertContact, AlertStatus, ExposureKind, OutbreakAlert
from mesoclinic.evidence.testing import build_registry
from mesoclinic.evidence.tests.planted import Outbreak, outbreak_spec, plant_outbreak
from mesoclinic.formulas.models import Lot, LotStatus
from mesoclinic.patients.services import erase_patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]

Clients = Callable[[User], Client]


@pytest.fixture
def outbreak(clinic_a: Clinic) -> Outbreak:
    return plant_outbreak(clinic_a)


def lot_of(alert: OutbreakAlert) -> Lot:
    """The alert's lot as stored now."""
    assert alert.lot is not None
    return Lot.objects.get(pk=alert.lot.pk)


def test_staff_see_the_open_alerts_with_their_figures_and_plot(
    client_for: Clients, pat: User, outbreak: Outbreak
) -> None:
    alert = outbreak.alert
    response = client_for(pat).get(reverse("evidence:alerts"))
    assert response.status_code == 200
    page = response.content.decode()
    assert alert.label in page
    assert f"<strong>{alert.infections}</strong> / {alert.exposed_patients}" in page
    assert 'id="alerts-plot"' in page and "plotly/plotly.min." in page
    # The list names no patient.
    assert all(p.family_name not in page for p in outbreak.registry.patients)

    download = client_for(pat).get(reverse("evidence:alerts-csv"))
    rows = list(csv.reader(io.StringIO(download.content.decode())))
    assert rows[0] == ["alert", "exposure", "week_starting", "infections"]
    mine = [row for row in rows[1:] if row[0] == str(alert.pk)]
    assert sum(int(row[3]) for row in mine) == alert.infections


def test_researchers_and_other_clinics_see_no_alert(
    client_for: Clients, rhea: User, bob: User, outbreak: Outbreak
) -> None:
    alert = outbreak.alert
    assert client_for(rhea).get(reverse("evidence:alerts")).status_code == 403
    assert client_for(rhea).get(reverse("evidence:alert", args=[alert.pk])).status_code == 403
    other = client_for(bob)
    assert other.get(reverse("evidence:alert", args=[alert.pk])).status_code == 404
    assert other.post(reverse("evidence:alert-quarantine", args=[alert.pk])).status_code == 404
    page = other.get(reverse("evidence:alerts")).content.decode()
    assert alert.label not in page and "No open alert." in page
    assert lot_of(alert).status == LotStatus.ACTIVE


def test_an_alert_lists_every_exposed_patient_and_its_reading_is_audited(
    client_for: Clients, asha: User, outbreak: Outbreak
) -> None:
    alert = outbreak.alert
    response = client_for(asha).get(reverse("evidence:alert", args=[alert.pk]))
    assert response.status_code == 200
    page = response.content.decode()
    contacts = list(alert.contacts.select_related("patient"))
    assert {c.patient_id for c in contacts} == outbreak.registry.exposed_patient_ids(0)
    positions = [page.index(f"{c.patient.family_name}, {c.patient.given_name}") for c in contacts]
    assert positions == sorted(positions)  # infected first, in the model's order
    assert contacts[0].infected and "one-sided exact binomial test" in page
    event = AuditEvent.objects.get(action=AuditAction.VIEW, object_id=str(alert.pk))
    assert event.object_type == "evidence.OutbreakAlert" and event.actor == asha
    assert sorted(event.detail["listed_patient_ids"]) == sorted(c.patient_id for c in contacts)
    # The other alerts counting the same infected patients are named.
    shared = [a for a in outbreak.others if a.contacts.filter(infected=True).exists()]
    assert shared and any(a.label in page for a in shared)


def test_the_alerts_explained_by_a_stronger_one_are_listed_under_it_and_linked(
    client_for: Clients, asha: User, outbreak: Outbreak
) -> None:
    lot = outbreak.alert
    [cluster] = [c for c in outbreaks.open_clusters(lot.clinic) if c.alert == lot]
    assert cluster.explains  # the next lot of its formula and an injector gun
    page = client_for(asha).get(reverse("evidence:alerts")).content.decode()
    rows = page[page.index('id="alerts-open"') : page.index('id="alerts-weeks"')]
    head = rows.index(f"{lot.pk}: {lot.label}")
    for other in cluster.explains:
        row = rows.index(f"{other.pk}: {other.label}")
        assert head < row < rows.index(f"Infected patients all in alert {lot.pk}", row)

    explained = cluster.explains[0]
    page = client_for(asha).get(reverse("evidence:alert", args=[explained.pk])).content.decode()
    assert "Probably the same cluster" in page
    assert f'href="{reverse("evidence:alert", args=[lot.pk])}">alert {lot.pk}: ' in page
    page = client_for(asha).get(reverse("evidence:alert", args=[lot.pk])).content.decode()
    cluster_card = page[page.index('id="alert-cluster"') :]
    for other in cluster.explains:
        assert f"{other.pk}: {other.label}</a>" in cluster_card
    # Listed once: the card of the alerts sharing only some of its infected patients leaves
    # the cluster out, and here no other alert is left.
    assert {a.pk for a in outbreaks.shared_alerts(lot)} == {a.pk for a in cluster.explains}
    assert 'id="alert-shared"' not in page


def test_a_contact_is_recorded_with_a_note_or_refused(
    client_for: Clients, asha: User, outbreak: Outbreak
) -> None:
    contact = outbreak.alert.contacts.first()
    assert contact is not None
    url = reverse("evidence:alert-contact", args=[contact.pk])
    prefix = f"contact-{contact.pk}"
    refused = client_for(asha).post(url, {f"{prefix}-status": "contacted", f"{prefix}-note": ""})
    assert refused.status_code == 400
    assert AlertContact.objects.get(pk=contact.pk).status == "to_contact"
    done = client_for(asha).post(
        url, {f"{prefix}-status": "contacted", f"{prefix}-note": "Called; seen tomorrow."}
    )
    assert done.status_code == 302
    contact.refresh_from_db()
    assert (contact.status, contact.note, contact.updated_by) == (
        "contacted",
        "Called; seen tomorrow.",
        asha,
    )
    assert contact.history.count() == 2


def test_erasing_a_patient_blanks_what_was_written_about_contacting_them(
    client_for: Clients, asha: User, alice: User, outbreak: Outbreak
) -> None:
    contact = outbreak.alert.contacts.select_related("patient").first()
    assert contact is not None
    prefix = f"contact-{contact.pk}"
    note = "Spoke to her husband; she is abroad until May."
    client_for(asha).post(
        reverse("evidence:alert-contact", args=[contact.pk]),
        {f"{prefix}-status": "contacted", f"{prefix}-note": note},
    )
    assert AlertContact.objects.get(pk=contact.pk).note == note

    erase_patient(contact.patient, actor=alice, reason="Asked to be forgotten.")

    contact.refresh_from_db()
    assert (contact.note, contact.status) == ("", "contacted")
    assert not contact.history.exclude(note="").exists()


def test_one_click_quarantines_the_alerts_lot_once(
    client_for: Clients, pat: User, asha: User, rhea: User, outbreak: Outbreak
) -> None:
    alert = outbreak.alert
    url = reverse("evidence:alert-quarantine", args=[alert.pk])
    for refused in (asha, rhea):
        assert client_for(refused).post(url).status_code == 403
    assert lot_of(alert).status == LotStatus.ACTIVE
    assert client_for(pat).get(url).status_code == 405

    response = client_for(pat).post(url, follow=True)
    lot = lot_of(alert)
    assert lot.status == LotStatus.QUARANTINED and lot.status_changed_by == pat
    assert lot.status_reason.startswith(f"Outbreak alert {alert.pk}:")
    assert f"Lot {lot.lot_number} is quarantined" in response.content.decode()

    again = client_for(pat).post(url, follow=True)
    assert "already quarantined: nothing changed" in again.content.decode()
    assert Lot.objects.get(pk=lot.pk).status_changed_at == lot.status_changed_at


def test_an_alert_that_is_not_about_a_lot_quarantines_nothing(
    client_for: Clients, pat: User, outbreak: Outbreak
) -> None:
    other = next(a for a in outbreak.others if a.kind != ExposureKind.LOT)
    lots = dict(Lot.objects.values_list("pk", "status"))
    response = client_for(pat).post(
        reverse("evidence:alert-quarantine", args=[other.pk]), follow=True
    )
    assert "not a lot: nothing was quarantined" in response.content.decode()
    assert dict(Lot.objects.values_list("pk", "status")) == lots


def test_closing_needs_a_note_and_a_practitioner(
    client_for: Clients, pat: User, asha: User, outbreak: Outbreak
) -> None:
    alert = outbreak.alert
    url = reverse("evidence:alert-close", args=[alert.pk])
    assert client_for(asha).post(url, {"note": "Done."}).status_code == 403
    assert client_for(pat).post(url, {"note": "  "}).status_code == 400
    assert OutbreakAlert.objects.get(pk=alert.pk).status == AlertStatus.OPEN
    assert client_for(pat).post(url, {"note": "Lot destroyed; all contacted."}).status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.closed_by, alert.close_note) == (
        AlertStatus.CLOSED,
        pat,
        "Lot destroyed; all contacted.",
    )
    # A rescan does not raise it again: nothing new since it was closed.
    outbreaks.scan(alert.clinic)
    assert not OutbreakAlert.objects.filter(
        clinic=alert.clinic, kind=alert.kind, key=alert.key, status=AlertStatus.OPEN
    ).exists()
    assert client_for(pat).post(url, {"note": "Again."}).status_code == 400


def test_scan_now_raises_the_alerts_once(client_for: Clients, asha: User, clinic_a: Clinic) -> None:
    build_registry(clinic_a, outbreak_spec(clinic_a))
    url = reverse("evidence:alerts-scan")
    assert client_for(asha).get(url).status_code == 405
    first = client_for(asha).post(url, follow=True)
    raised = OutbreakAlert.objects.filter(clinic=clinic_a).count()
    assert raised and "new alert" in first.content.decode()
    second = client_for(asha).post(url, follow=True)
    assert "no new alert" in second.content.decode()
    assert OutbreakAlert.objects.filter(clinic=clinic_a).count() == raised
