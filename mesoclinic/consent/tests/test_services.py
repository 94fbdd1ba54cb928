"""Preparing, signing and withdrawing consent, and ``valid_consent``, the chart's question."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.test import override_settings
from django.utils import timezone

from mesoclinic.catalogue.models import BodyArea, Indication, SideEffect
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.consent import content, services
from mesoclinic.consent.models import (
    ConsentCode,
    ConsentDocument,
    ConsentStatus,
    ConsentWithdrawal,
    SignatureMethod,
    WithdrawalHow,
)
from mesoclinic.consent.testing import blank_png, drawn_png, last_code_sent
from mesoclinic.courses import booking
from mesoclinic.courses.models import CoursePlan
from mesoclinic.formulas import services as formulas
from mesoclinic.formulas.models import Formula
from mesoclinic.formulas.services import ComponentSpec
from mesoclinic.patients.models import Patient

from .conftest import make_formula, shared


def events(document: ConsentDocument, action: AuditAction) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            object_type="consent.ConsentDocument", object_id=str(document.pk), action=action
        ).order_by("at", "pk")
    )


def rows() -> dict[str, list[dict[str, Any]]]:
    """The consent tables, to show a refusal changed nothing."""
    models: list[type[Model]] = [ConsentDocument, ConsentWithdrawal, ConsentCode]
    return {
        model.__name__: list(model._default_manager.order_by("pk").values()) for model in models
    }


def signed(plan: CoursePlan, witness: User) -> ConsentDocument:
    return services.sign_drawn(services.prepare(plan, witness), drawn_png(), witness)


# --- preparing ----------------------------------------------------------------------------


def test_prepare_makes_version_one_and_records_it(plan: CoursePlan, asha: User) -> None:
    document = services.prepare(plan, asha)

    assert document.version == 1
    assert document.language == "en"
    assert document.patient == plan.patient
    assert document.clinic == plan.clinic
    assert document.created_by == asha
    assert document.content_sha256 == content.content_sha256(document.content)
    assert document.plan_fingerprint == content.plan_fingerprint(plan)
    assert services.status_of(document) == ConsentStatus.DRAFT
    (created,) = events(document, AuditAction.CREATE)
    assert created.actor == asha
    assert created.patient_id == plan.patient_id
    assert created.clinic_id == plan.clinic_id
    assert created.detail["content_sha256"] == document.content_sha256


def test_the_french_patients_document_is_in_french_unless_asked_otherwise(
    french_plan: CoursePlan, asha: User
) -> None:
    assert services.prepare(french_plan, asha).language == "fr"
    english = services.prepare(french_plan, asha, language="en")
    assert english.language == "en"
    assert english.version == 1  # the draft, replaced


def test_preparing_again_replaces_the_draft_or_leaves_it_when_unchanged(
    plan: CoursePlan, asha: User, pat: User
) -> None:
    first = services.prepare(plan, asha)
    again = services.prepare(plan, pat)
    assert again.pk == first.pk
    assert again.created_by == asha  # the same text: nothing written
    assert not events(first, AuditAction.UPDATE)

    plan.areas.add(BodyArea.objects.get(code="hips"))
    replaced = services.prepare(plan, pat)

    assert replaced.pk == first.pk
    assert replaced.version == 1
    assert replaced.content_sha256 != first.content_sha256
    assert "Hips" in str(replaced.content)
    (update,) = events(first, AuditAction.UPDATE)
    assert update.detail["replaced_content_sha256"] == first.content_sha256
    assert ConsentDocument.objects.filter(plan=plan).count() == 1


def test_a_new_version_follows_a_signed_one(plan: CoursePlan, asha: User) -> None:
    first = signed(plan, asha)
    second = services.prepare(plan, asha)
    assert (first.version, second.version) == (1, 2)
    # The signed one, still describing the plan, stays valid until the next is signed.
    assert services.valid_consent(plan, timezone.now()) == first


def test_prepare_refuses_a_closed_course_and_another_clinics_staff(
    plan: CoursePlan, asha: User, bob: User
) -> None:
    booking.stop_plan(plan, "Patient moved away.", asha)
    with pytest.raises(ValidationError, match="This course is stopped"):
        services.prepare(plan, asha)
    plan.status = "planned"
    plan.save()
    with pytest.raises(ValidationError, match="not a member of this clinic"):
        services.prepare(plan, bob)
    with pytest.raises(ValidationError, match="No consent text exists in 'de'"):
        services.prepare(plan, asha, language="de")
    assert not ConsentDocument.objects.exists()


def test_no_consent_without_the_catalogues_side_effects(plan: CoursePlan, asha: User) -> None:
    """A consent that named no risk would not be informed: the catalogue must be loaded."""
    SideEffect.objects.update(retired=True)
    with pytest.raises(ValidationError, match="no side effects"):
        services.prepare(plan, asha)


# --- signing on the tablet ----------------------------------------------------------------


def test_signing_on_the_tablet_stores_the_signature_pdf_and_hashes(
    plan: CoursePlan, asha: User
) -> None:
    document = services.prepare(plan, asha)
    png = drawn_png()

    done = services.sign_drawn(document, png, asha, shown_sha256=document.content_sha256)

    stored = ConsentDocument.objects.get(pk=document.pk)
    assert stored.signed_at is not None
    assert stored.method == SignatureMethod.DRAWN
    assert stored.signature_bytes() == png
    assert stored.witness == asha
    pdf = stored.pdf_bytes()
    assert pdf.startswith(b"%PDF")
    assert stored.pdf_sha256 == content.sha256_hex(pdf)
    assert stored.content_sha256 == done.content_sha256 == document.content_sha256
    assert services.status_of(stored) == ConsentStatus.SIGNED
    (signing,) = events(document, AuditAction.UPDATE)
    assert signing.actor == asha
    assert signing.detail["signed"] == "drawn"
    assert signing.detail["pdf_sha256"] == stored.pdf_sha256


@pytest.mark.parametrize(
    ("png", "message"),
    [
        (b"", "The signature is empty"),
        (blank_png(), "The signature is empty"),
        (b"GIF89a not a png", "must be a PNG"),
        (b"\x89PNG\r\n\x1a\n garbage", "cannot be read"),
    ],
    ids=["nothing", "blank", "gif", "corrupt"],
)
def test_an_empty_or_unreadable_signature_is_refused(
    plan: CoursePlan, asha: User, png: bytes, message: str
) -> None:
    document = services.prepare(plan, asha)
    before = rows()
    with pytest.raises(ValidationError, match=message):
        services.sign_drawn(document, png, asha)
    assert rows() == before


def test_a_dot_is_not_a_signature(plan: CoursePlan, asha: User) -> None:
    from io import BytesIO

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (600, 200), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((300, 100, 310, 110), fill=(0, 0, 0, 255))
    buffer = BytesIO()
    image.save(buffer, format="PNG")
    with pytest.raises(ValidationError, match="empty"):
        services.sign_drawn(services.prepare(plan, asha), buffer.getvalue(), asha)


def test_the_witness_must_be_staff_of_the_clinic(
    plan: CoursePlan, asha: User, bob: User, rhea: User
) -> None:
    document = services.prepare(plan, asha)
    for outsider in (bob, rhea):
        with pytest.raises(ValidationError, match="cannot witness"):
            services.sign_drawn(document, drawn_png(), outsider)
    assert ConsentDocument.objects.get(pk=document.pk).signed_at is None


def test_a_text_prepared_again_while_read_is_not_signed(plan: CoursePlan, asha: User) -> None:
    document = services.prepare(plan, asha)
    shown = document.content_sha256
    plan.areas.add(BodyArea.objects.get(code="hips"))
    services.prepare(plan, asha)
    with pytest.raises(ValidationError, match="prepared again while it was being read"):
        services.sign_drawn(document, drawn_png(), asha, shown_sha256=shown)


def test_a_document_is_signed_once(plan: CoursePlan, asha: User) -> None:
    document = signed(plan, asha)
    with pytest.raises(ValidationError, match="already signed"):
        services.sign_drawn(document, drawn_png(), asha)


def test_a_draft_for_a_changed_plan_cannot_be_signed(plan: CoursePlan, asha: User) -> None:
    document = services.prepare(plan, asha)
    plan.sessions_planned = 6
    plan.save()
    document = ConsentDocument.objects.get(pk=document.pk)
    assert services.status_of(document) == ConsentStatus.OUTDATED
    with pytest.raises(ValidationError, match="plan has changed"):
        services.sign_drawn(document, drawn_png(), asha)
    with pytest.raises(ValidationError, match="plan has changed"):
        services.send_code(document)


# --- signing with a typed name and a one-time code -----------------------------------------


def test_the_code_is_mailed_in_the_patients_language_and_stored_hashed(
    french_plan: CoursePlan, asha: User
) -> None:
    document = services.prepare(french_plan, asha)

    sent = services.send_code(document, actor=asha)

    (message,) = mail.outbox
    assert message.to == ["helene.lefevre@example.org"]
    assert message.subject == "Votre code pour signer le formulaire de consentement"
    code = last_code_sent("helene.lefevre@example.org")
    assert sent.sent_to == "h\u2022\u2022\u2022@example.org"
    assert sent.expires_at - timezone.now() <= timedelta(minutes=services.CODE_MINUTES)
    stored = ConsentCode.objects.get()
    assert code not in stored.code_hash
    assert len(stored.code_hash) == 64
    created = AuditEvent.objects.get(object_type="consent.ConsentCode", action=AuditAction.CREATE)
    assert created.patient_id == french_plan.patient_id
    assert code not in str(created.detail)


def test_signing_with_the_typed_name_and_code(french_plan: CoursePlan, asha: User) -> None:
    document = services.prepare(french_plan, asha)
    services.send_code(document)
    code = last_code_sent("helene.lefevre@example.org")

    # Case, accents and the hyphen do not matter; the name is kept as typed.
    services.sign_typed(document, "  helene LEFEVRE dupre ", code)

    stored = ConsentDocument.objects.get(pk=document.pk)
    assert stored.method == SignatureMethod.TYPED
    assert stored.typed_name == "helene LEFEVRE dupre"
    assert stored.code_sent_to == "helene.lefevre@example.org"
    assert stored.witness is None
    assert stored.pdf_sha256 == content.sha256_hex(stored.pdf_bytes())
    assert ConsentCode.objects.get().used_at is not None
    assert services.valid_consent(french_plan, timezone.now()) == stored


def test_a_name_that_is_not_the_patients_is_refused(french_plan: CoursePlan, asha: User) -> None:
    document = services.prepare(french_plan, asha)
    services.send_code(document)
    code = last_code_sent("helene.lefevre@example.org")
    before = rows()
    for name in ("Hélène", "Camille Rousseau", "Hélène Lefèvre", ""):
        with pytest.raises(ValidationError, match="not the patient's name"):
            services.sign_typed(document, name, code)
    assert rows() == before  # no attempt used up: the code was not tried


def test_a_wrong_code_uses_up_an_attempt_and_five_end_the_code(
    french_plan: CoursePlan, asha: User
) -> None:
    document = services.prepare(french_plan, asha)
    services.send_code(document)
    code = last_code_sent("helene.lefevre@example.org")
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    with pytest.raises(ValidationError, match="4 attempts left"):
        services.sign_typed(document, "Hélène Lefèvre-Dupré", wrong)
    for _ in range(3):
        with pytest.raises(ValidationError, match="not the one sent"):
            services.sign_typed(document, "Hélène Lefèvre-Dupré", wrong)
    with pytest.raises(ValidationError, match="no attempt is left"):
        services.sign_typed(document, "Hélène Lefèvre-Dupré", wrong)
    # Even the right code is refused now.
    with pytest.raises(ValidationError, match="Too many wrong codes"):
        services.sign_typed(document, "Hélène Lefèvre-Dupré", code)
    assert ConsentDocument.objects.get(pk=document.pk).signed_at is None
    wrong_tries = AuditEvent.objects.filter(
        object_type="consent.ConsentCode", action=AuditAction.UPDATE
    )
    assert wrong_tries.count() == 5
    assert all(event.detail["wrong_code"] for event in wrong_tries)


def test_an_expired_code_is_refused(french_plan: CoursePlan, asha: User) -> None:
    document = services.prepare(french_plan, asha)
    services.send_code(document)
    code = last_code_sent("helene.lefevre@example.org")
    ConsentCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ValidationError, match="expired"):
        services.sign_typed(document, "Hélène Lefèvre-Dupré", code)
    assert ConsentDocument.objects.get(pk=document.pk).signed_at is None


def test_a_code_is_used_once(french_plan: CoursePlan, asha: User) -> None:
    document = services.prepare(french_plan, asha)
    services.send_code(document)
    code = last_code_sent("helene.lefevre@example.org")
    ConsentCode.objects.update(used_at=timezone.now())
    with pytest.raises(ValidationError, match="used already"):
        services.sign_typed(document, "Hélène Lefèvre-Dupré", code)


def test_only_the_newest_code_counts(french_plan: CoursePlan, asha: User) -> None:
    document = services.prepare(french_plan, asha)
    services.send_code(document)
    first = last_code_sent("helene.lefevre@example.org")
    services.send_code(document)
    second = last_code_sent("helene.lefevre@example.org")
    if first != second:
        with pytest.raises(ValidationError, match="not the one sent"):
            services.sign_typed(document, "Hélène Lefèvre-Dupré", first)
    services.sign_typed(document, "Hélène Lefèvre-Dupré", second)


def test_a_code_sent_before_the_text_was_prepared_again_is_void(
    french_plan: CoursePlan, asha: User
) -> None:
    document = services.prepare(french_plan, asha)
    services.send_code(document)
    code = last_code_sent("helene.lefevre@example.org")
    services.prepare(french_plan, asha, language="en")
    document.refresh_from_db()
    with pytest.raises(ValidationError, match="prepared again after this code was sent"):
        services.sign_typed(document, "Hélène Lefèvre-Dupré", code)


def test_no_code_without_an_email_address_nor_too_many_in_an_hour(
    french_plan: CoursePlan, helene: Patient, plan: CoursePlan, asha: User
) -> None:
    document = services.prepare(french_plan, asha)
    for _ in range(services.CODES_PER_HOUR):
        services.send_code(document)
    with pytest.raises(ValidationError, match="within the hour"):
        services.send_code(document)
    Patient.objects.filter(pk=helene.pk).update(email="")
    document = ConsentDocument.objects.get(pk=document.pk)
    with pytest.raises(ValidationError, match="no email address"):
        services.send_code(document)
    with pytest.raises(ValidationError, match="No code was sent"):
        services.sign_typed(services.prepare(plan, asha), "Camille Rousseau", "123456")


@override_settings(EMAIL_BACKEND="mesoclinic.consent.tests.test_services.FailingBackend")
def test_a_code_that_cannot_be_mailed_is_not_stored(french_plan: CoursePlan, asha: User) -> None:
    document = services.prepare(french_plan, asha)
    with pytest.raises(ValidationError, match="could not be sent"):
        services.send_code(document)
    assert not ConsentCode.objects.exists()


class FailingBackend:
    def __init__(self, *args: object, **kwargs: object) -> None:
        pass

    def send_messages(self, messages: object) -> int:
        raise ConnectionRefusedError("no mail server")


# --- withdrawing and valid_consent ------------------------------------------------------------


def test_withdrawal_ends_validity_from_its_time_on_and_not_before(
    plan: CoursePlan, asha: User
) -> None:
    document = signed(plan, asha)
    signed_at = document.signed_at
    assert signed_at is not None
    now = timezone.now()
    assert services.valid_consent(plan, signed_at - timedelta(seconds=1)) is None
    assert services.valid_consent(plan, signed_at) == document
    assert services.valid_consent(plan, now + timedelta(days=30)) == document

    withdrawal = services.withdraw(document, "Changed her mind.", asha, how=WithdrawalHow.PHONE)

    assert withdrawal.withdrawn_at >= now
    assert services.valid_consent(plan, signed_at) == document
    assert services.valid_consent(plan, withdrawal.withdrawn_at) is None
    assert services.valid_consent(plan, timezone.now() + timedelta(days=1)) is None
    assert services.status_of(document) == ConsentStatus.WITHDRAWN
    # The document itself did not change.
    stored = ConsentDocument.objects.get(pk=document.pk)
    assert stored.pdf_sha256 == document.pdf_sha256
    created = AuditEvent.objects.get(
        object_type="consent.ConsentWithdrawal", action=AuditAction.CREATE
    )
    assert created.actor == asha
    assert created.patient_id == plan.patient_id
    assert created.detail["how"] == "phone"


def test_a_withdrawal_may_be_dated_when_the_patient_said_so(plan: CoursePlan, asha: User) -> None:
    document = signed(plan, asha)
    assert document.signed_at is not None
    told = document.signed_at + timedelta(seconds=30)
    services.withdraw(document, "Phoned to say so.", asha, how="phone", withdrawn_at=told)
    assert services.valid_consent(plan, told - timedelta(seconds=1)) == document
    assert services.valid_consent(plan, told) is None


def test_withdrawal_refusals(plan: CoursePlan, asha: User, bob: User) -> None:
    draft = services.prepare(plan, asha)
    with pytest.raises(ValidationError, match="never signed"):
        services.withdraw(draft, "No.", asha)
    document = services.sign_drawn(draft, drawn_png(), asha)
    assert document.signed_at is not None
    cases: list[tuple[dict[str, Any], str]] = [
        ({"reason": "  "}, "Give the reason"),
        ({"how": "pigeon"}, "must be one of"),
        ({"withdrawn_at": timezone.now() + timedelta(hours=1)}, "ahead of time"),
        ({"withdrawn_at": document.signed_at - timedelta(hours=1)}, "before it was signed"),
        ({"withdrawn_at": datetime(2026, 1, 1, 10)}, "time zone"),
        ({"actor": bob}, "not a member of this clinic"),
    ]
    for changes, message in cases:
        arguments: dict[str, Any] = {"reason": "Changed her mind.", "actor": asha} | changes
        with pytest.raises(ValidationError, match=message):
            services.withdraw(document, **arguments)
    assert not ConsentWithdrawal.objects.exists()
    services.withdraw(document, "Changed her mind.", asha)
    with pytest.raises(ValidationError, match="already been withdrawn"):
        services.withdraw(document, "Again.", asha)


def test_valid_consent_needs_an_aware_time(plan: CoursePlan) -> None:
    with pytest.raises(ValidationError, match="time zone"):
        services.valid_consent(plan, datetime(2026, 1, 1, 10))


def test_valid_consent_is_none_for_a_draft(plan: CoursePlan, asha: User) -> None:
    services.prepare(plan, asha)
    assert services.valid_consent(plan, timezone.now()) is None


@pytest.mark.parametrize(
    "change", ["areas", "indication", "sessions", "interval", "formula", "recipe"]
)
def test_a_changed_plan_outdates_the_signed_consent(
    plan: CoursePlan, asha: User, lipolytic: Formula, change: str
) -> None:
    """Signed for one course, the consent does not cover a different one: any change to what
    the patient agreed to (where, for what, with what, how many sessions, how often) makes it
    invalid until a new version is signed."""
    document = signed(plan, asha)
    assert services.valid_consent(plan, timezone.now()) == document

    if change == "areas":
        plan.areas.remove(BodyArea.objects.get(code="thighs"))
    elif change == "indication":
        plan.indication = Indication.objects.get(code="cellulite")
        plan.save()
    elif change == "sessions":
        plan.sessions_planned = 6
        plan.save()
    elif change == "interval":
        plan.interval_days = 21
        plan.save()
    elif change == "formula":
        assert plan.clinic is not None
        other = make_formula(plan.clinic, asha, "Caffeine mix", [("Caffeine", "1", "%")])
        plan.formula_version = other.current_version
        plan.save()
    else:
        # An unused version is edited in place: same version, another mixture.
        formulas.save_formula_edit(
            lipolytic,
            [
                ComponentSpec(
                    ingredient=shared("Phosphatidylcholine"),
                    volume_ml=Decimal(2),
                    concentration=Decimal(5),
                    unit="%",
                )
            ],
            asha,
        )
        assert plan.formula_version == lipolytic.current_version

    plan.refresh_from_db()
    assert services.valid_consent(plan, timezone.now()) is None
    assert services.status_of(ConsentDocument.objects.get(pk=document.pk)) == (
        ConsentStatus.OUTDATED
    )
    renewed = services.sign_drawn(services.prepare(plan, asha), drawn_png(), asha)
    assert renewed.version == 2
    assert services.valid_consent(plan, timezone.now()) == renewed


def test_the_newest_valid_version_is_the_one_returned(plan: CoursePlan, asha: User) -> None:
    first = signed(plan, asha)
    second = signed(plan, asha)
    assert services.valid_consent(plan, timezone.now()) == second
    services.withdraw(second, "Wants to think again.", asha)
    assert services.valid_consent(plan, timezone.now()) == first


def test_reading_the_pdf_is_audited(plan: CoursePlan, asha: User) -> None:
    draft = services.prepare(plan, asha)
    preview = services.pdf_of(draft, actor=asha)
    assert preview.startswith(b"%PDF")
    document = services.sign_drawn(draft, drawn_png(), asha)
    assert services.pdf_of(document, actor=asha) == document.pdf_bytes()
    reads = [event.detail for event in events(document, AuditAction.VIEW)]
    assert [(r["what"], r["signed"]) for r in reads] == [("pdf", False), ("pdf", True)]
    assert reads[1]["pdf_sha256"] == document.pdf_sha256
