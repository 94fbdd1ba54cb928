from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction

from mesoclinic.clinics import audit
from mesoclinic.clinics.models import AuditAction, AuditEvent, AuditLogImmutableError, User


@pytest.fixture
def event(alice: User) -> AuditEvent:
    return audit.record(AuditAction.VIEW, actor=alice, obj=alice)


def test_an_event_cannot_be_saved_again(event: AuditEvent) -> None:
    event.action = AuditAction.DELETE
    with pytest.raises(AuditLogImmutableError):
        event.save()
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.VIEW


def test_an_event_cannot_be_deleted(event: AuditEvent) -> None:
    with pytest.raises(AuditLogImmutableError):
        event.delete()
    with pytest.raises(AuditLogImmutableError):
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(AuditLogImmutableError):
        AuditEvent.objects.all().delete()
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_events_cannot_be_updated_in_bulk(event: AuditEvent) -> None:
    with pytest.raises(AuditLogImmutableError):
        AuditEvent.objects.filter(pk=event.pk).update(action=AuditAction.DELETE)
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.VIEW


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the trigger exists on PostgreSQL")
@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE clinics_auditevent SET action = 'delete' WHERE id = %s",
        "DELETE FROM clinics_auditevent WHERE id = %s",
    ],
)
def test_raw_sql_cannot_change_the_log_on_postgresql(event: AuditEvent, sql: str) -> None:
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])
    assert AuditEvent.objects.get(pk=event.pk).action == AuditAction.VIEW
