"""What a patient signed never changes: not through the model, not through a queryset, and
not through SQL written by hand (the database's triggers, migration 0002)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from mesoclinic.clinics.models import User
from mesoclinic.consent import services
from mesoclinic.consent.models import ConsentDocument, ConsentWithdrawal, SignedConsentError
from mesoclinic.consent.testing import drawn_png
from mesoclinic.courses.models import CoursePlan


@pytest.fixture
def signed(plan: CoursePlan, asha: User) -> ConsentDocument:
    return services.sign_drawn(services.prepare(plan, asha), drawn_png(), asha)


def unchanged(document: ConsentDocument) -> None:
    stored = ConsentDocument.objects.get(pk=document.pk)
    assert stored.typed_name == ""
    assert stored.content == document.content
    assert stored.pdf_sha256 == document.pdf_sha256
    assert stored.pdf_bytes() == document.pdf_bytes()


def test_the_model_refuses_to_save_or_delete_a_signed_document(
    signed: ConsentDocument,
) -> None:
    stale = ConsentDocument.objects.get(pk=signed.pk)
    stale.typed_name = "Someone Else"
    with pytest.raises(SignedConsentError):
        stale.save()
    with pytest.raises(SignedConsentError):
        signed.delete()
    unchanged(signed)


def test_a_queryset_refuses_to_update_or_delete_signed_documents(
    signed: ConsentDocument,
) -> None:
    with pytest.raises(SignedConsentError):
        ConsentDocument.objects.filter(pk=signed.pk).update(typed_name="Someone Else")
    with pytest.raises(SignedConsentError):
        ConsentDocument.objects.all().delete()
    unchanged(signed)


def _sql(statement: str, *params: Any) -> Callable[[], None]:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute(statement, params)

    return run


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE consent_consentdocument SET typed_name = 'Someone Else' WHERE id = %s",
        "UPDATE consent_consentdocument SET pdf_sha256 = 'forged' WHERE id = %s",
        "UPDATE consent_consentdocument SET signed_at = NULL WHERE id = %s",
        "DELETE FROM consent_consentdocument WHERE id = %s",
    ],
    ids=["typed-name", "pdf-hash", "unsign", "delete"],
)
def test_the_database_refuses_sql_that_changes_a_signed_document(
    signed: ConsentDocument, statement: str
) -> None:
    """The model's guard is bypassed here on purpose: only the trigger stands in the way."""
    with pytest.raises(DatabaseError, match="signed consent document"), transaction.atomic():
        _sql(statement, signed.pk)()
    unchanged(signed)


def test_a_draft_may_still_be_changed_signed_or_deleted(plan: CoursePlan, asha: User) -> None:
    draft = services.prepare(plan, asha)
    _sql("UPDATE consent_consentdocument SET language = 'en' WHERE id = %s", draft.pk)()
    draft.delete()
    assert not ConsentDocument.objects.exists()


def test_a_withdrawal_cannot_be_changed_or_removed(signed: ConsentDocument, asha: User) -> None:
    withdrawal = services.withdraw(signed, "Changed her mind.", asha)

    withdrawal.reason = "Something else"
    with pytest.raises(SignedConsentError):
        withdrawal.save()
    with pytest.raises(SignedConsentError):
        withdrawal.delete()
    with pytest.raises(SignedConsentError):
        ConsentWithdrawal.objects.update(reason="Something else")
    with pytest.raises(SignedConsentError):
        ConsentWithdrawal.objects.all().delete()
    for statement in (
        "UPDATE consent_consentwithdrawal SET withdrawn_at = %s WHERE id = %s",
        "DELETE FROM consent_consentwithdrawal WHERE id = %s OR withdrawn_at = %s",
    ):
        with pytest.raises(DatabaseError, match="withdrawal"), transaction.atomic():
            params = (
                (timezone.now(), withdrawal.pk)
                if statement.startswith("UPDATE")
                else (withdrawal.pk, timezone.now())
            )
            _sql(statement, *params)()
    stored = ConsentWithdrawal.objects.get(pk=withdrawal.pk)
    assert stored.reason == "Changed her mind."
    assert stored.withdrawn_at == withdrawal.withdrawn_at
