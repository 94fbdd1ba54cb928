"""Recording a contact on an outbreak alert's task goes through the recall's
``formulas.services.update_contact``: the same refusals, lock, history and audit."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from mesoclinic.clinics.models import AuditAction, AuditEvent, Clinic, User
from mesoclinic.evidence.models import AlertContact
from mesoclinic.evidence.tests.planted import plant_outbreak
from mesoclinic.formulas.models import ContactStatus
from mesoclinic.formulas.services import update_contact

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


@pytest.fixture
def contact(clinic_a: Clinic) -> AlertContact:
    """An exposed patient of the planted lot's alert."""
    alert = plant_outbreak(clinic_a).alert
    found = alert.contacts.first()
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("status", "note"),
    [(ContactStatus.TO_CONTACT, "Later."), (ContactStatus.CONTACTED, "  "), ("phoned", "Yes.")],
)
def test_a_contact_without_an_outcome_or_a_note_is_refused_and_changes_nothing(
    contact: AlertContact, asha: User, status: str, note: str
) -> None:
    with pytest.raises(ValidationError):
        update_contact(contact, status=status, note=note, actor=asha, alert_id=contact.alert_id)
    assert AlertContact.objects.get(pk=contact.pk).status == ContactStatus.TO_CONTACT
    assert contact.history.count() == 1
    assert not AuditEvent.objects.filter(object_type="evidence.AlertContact").exists()


def test_a_contact_is_recorded_audited_and_keeps_what_a_scan_changed_meanwhile(
    contact: AlertContact, asha: User
) -> None:
    # A scan counts one more session of the patient after the page with the form was read.
    AlertContact.objects.filter(pk=contact.pk).update(sessions=contact.sessions + 1)

    saved = update_contact(
        contact,
        status=ContactStatus.UNREACHABLE,
        note=" Two calls, no answer. ",
        actor=asha,
        alert_id=contact.alert_id,
    )
    stored = AlertContact.objects.get(pk=contact.pk)
    assert (stored.status, stored.note, stored.updated_by) == (
        ContactStatus.UNREACHABLE,
        "Two calls, no answer.",
        asha,
    )
    assert stored.sessions == saved.sessions == contact.sessions + 1
    event = AuditEvent.objects.get(action=AuditAction.UPDATE, object_type="evidence.AlertContact")
    assert (event.actor, event.patient_id, event.clinic_id) == (
        asha,
        contact.patient_id,
        asha.clinic_id,
    )
    assert event.detail == {"alert_id": contact.alert_id, "status": ContactStatus.UNREACHABLE}
