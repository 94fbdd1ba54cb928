"""The reminders' words, in English and French."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from mesoclinic.reminders import messages
from mesoclinic.reminders.models import ReminderKind

PARIS = ZoneInfo("Europe/Paris")
CONTEXT = messages.Context(
    given_name="Camille",
    clinic_name="Clinique des Tilleuls",
    clinic_phone="01 23 45 67 89",
    practitioner="Dr Pat Martin",
    starts_at=datetime(2027, 11, 1, 10, 0, tzinfo=PARIS),
    minutes=30,
    window_days=7,
    due_on=date(2028, 5, 3),
)


def test_pre_care_in_english_names_the_drugs_the_window_and_the_prescribed_exception() -> None:
    message = messages.render(ReminderKind.PRE_CARE, "en", CONTEXT)

    assert message.language == "en"
    assert message.subject == (
        "Before your session on Monday 1 November: no aspirin or anti-inflammatory painkillers"
    )
    body = message.body
    assert body.startswith("Hello Camille,\n\n")
    assert "with Dr Pat Martin is on Monday 1 November 2027 at 10:00." in body
    assert "For the 7 days before it, please do not take aspirin" in body
    assert "NSAIDs, such as ibuprofen" in body
    assert "If a doctor prescribed aspirin" in body
    assert "do not stop taking it on your own: contact us first" in body
    assert body.endswith("You can reach us on 01 23 45 67 89.\n\nClinique des Tilleuls\n")


def test_pre_care_in_french() -> None:
    message = messages.render(ReminderKind.PRE_CARE, "fr", CONTEXT)

    assert message.language == "fr"
    assert message.subject == (
        "Avant votre séance du lundi 1er novembre : pas d'aspirine ni d'anti-inflammatoires"
    )
    body = message.body
    assert body.startswith("Bonjour Camille,\n\n")
    assert "avec Dr Pat Martin est prévue le lundi 1er novembre 2027 à 10 h." in body
    assert "Pendant les 7 jours qui la précèdent, merci de ne pas prendre d'aspirine" in body
    assert "AINS, comme l'ibuprofène" in body
    assert "ne l'arrêtez pas de vous-même : contactez-nous d'abord" in body
    assert "Vous pouvez nous joindre au 01 23 45 67 89." in body


@pytest.mark.parametrize(
    ("language", "subject", "phrases"),
    [
        (
            "en",
            "Your mesotherapy session tomorrow at 10:00",
            ["about 30 minutes", "anaesthetic cream", "usually settle within a day"],
        ),
        (
            "fr",
            "Votre séance de mésothérapie demain à 10 h",
            ["environ 30 minutes", "crème anesthésiante", "disparaissent en général en un jour"],
        ),
    ],
)
def test_the_day_before_says_what_to_expect(
    language: str, subject: str, phrases: list[str]
) -> None:
    message = messages.render(ReminderKind.DAY_BEFORE, language, CONTEXT)

    assert message.subject == subject
    for phrase in phrases:
        assert phrase in message.body


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        ("en", ["usually settles within 24 hours", "Please contact us if it has not settled"]),
        ("fr", ["disparaît en général en 24 heures", "Contactez-nous s'il ne s'est pas résorbé"]),
    ],
)
def test_the_follow_up_says_when_to_call(language: str, phrases: list[str]) -> None:
    body = messages.render(ReminderKind.FOLLOW_UP, language, CONTEXT).body
    for phrase in phrases:
        assert phrase in body


@pytest.mark.parametrize(
    ("language", "phrase"),
    [("en", "a maintenance session in May 2028."), ("fr", "une séance d'entretien en mai 2028.")],
)
def test_the_maintenance_recall_names_the_month(language: str, phrase: str) -> None:
    assert phrase in messages.render(ReminderKind.MAINTENANCE, language, CONTEXT).body


def test_times_and_days_are_written_each_language_s_way() -> None:
    afternoon = datetime(2027, 12, 15, 14, 30, tzinfo=PARIS)
    assert messages.time_text(afternoon, "en") == "14:30"
    assert messages.time_text(afternoon, "fr") == "14 h 30"
    assert messages.day_text(afternoon.date(), "fr") == "mercredi 15 décembre 2027"
    assert messages.day_text(date(2027, 12, 1), "en", year=False) == "Wednesday 1 December"


def test_without_a_phone_the_clinic_is_reached_by_email_or_by_reply() -> None:
    by_email = messages.Context(
        given_name="Camille", clinic_name="Clinique", clinic_email="accueil@example.fr"
    )
    by_reply = messages.Context(given_name="Camille", clinic_name="Clinique")

    assert "write to us at accueil@example.fr" in messages._contact(by_email, "en")
    assert "répondre à ce message" in messages._contact(by_reply, "fr")


def test_a_language_without_texts_falls_back_to_english() -> None:
    assert messages.render(ReminderKind.FOLLOW_UP, "de", CONTEXT).language == "en"


@pytest.mark.parametrize("language", messages.LANGUAGES)
@pytest.mark.parametrize("kind", ReminderKind.values)
def test_no_message_promises_a_result(kind: str, language: str) -> None:
    message = messages.render(kind, language, CONTEXT)
    text = f"{message.subject}\n{message.body}".lower()
    for claim in ("result", "improve", "effective", "guarantee", "résultat", "amélior", "efficac"):
        assert claim not in text
    assert "{" not in text, "a placeholder was left unfilled"
