"""What the reminders say, in each patient language: a subject and a plain-text body.

Written for patients, in our own words, from the seed's protocol: no aspirin or other
anti-inflammatory painkillers in the week before a session (but never stopping a prescribed
one without advice), about half an hour with an optional anaesthetic cream, bruising and
swelling that settle within a day. They describe what happens; they promise no result.
Dates and times are the clinic's local ones, written out the way each language writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"

_MONTHS = {
    "en": [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    "fr": [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
}
_WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"],
}


@dataclass(frozen=True)
class Context:
    """What a message names. ``starts_at`` is in the clinic's time zone."""

    given_name: str
    clinic_name: str
    clinic_phone: str = ""
    clinic_email: str = ""
    practitioner: str = ""
    starts_at: datetime | None = None
    minutes: int = 30
    window_days: int = 7
    due_on: date | None = None


@dataclass(frozen=True)
class Message:
    subject: str
    body: str
    language: str

    def as_payload(self) -> dict[str, str]:
        return {"subject": self.subject, "body": self.body, "language": self.language}


def language_of(preference: str) -> str:
    return preference if preference in LANGUAGES else DEFAULT_LANGUAGE


def day_text(day: date, language: str, *, year: bool = True) -> str:
    """ "Monday 27 October 2025", "lundi 1er décembre 2025"."""
    number = "1er" if language == "fr" and day.day == 1 else str(day.day)
    text = f"{_WEEKDAYS[language][day.weekday()]} {number} {_MONTHS[language][day.month - 1]}"
    return f"{text} {day.year}" if year else text


def time_text(moment: datetime, language: str) -> str:
    """ "14:30" in English, "14 h 30" (or "14 h") in French."""
    if language == "fr":
        return f"{moment.hour} h {moment.minute:02d}" if moment.minute else f"{moment.hour} h"
    return f"{moment:%H:%M}"


def month_text(day: date, language: str) -> str:
    return f"{_MONTHS[language][day.month - 1]} {day.year}"


def _contact(context: Context, language: str) -> str:
    if language == "fr":
        if context.clinic_phone:
            return f"Vous pouvez nous joindre au {context.clinic_phone}."
        if context.clinic_email:
            return f"Vous pouvez nous écrire à l'adresse {context.clinic_email}."
        return "Vous pouvez nous répondre à ce message."
    if context.clinic_phone:
        return f"You can reach us on {context.clinic_phone}."
    if context.clinic_email:
        return f"You can write to us at {context.clinic_email}."
    return "You can reach us by replying to this message."


_TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "en": {
        "pre_care": (
            "Before your session on {day_short}: no aspirin or anti-inflammatory painkillers",
            """Hello {name},

Your mesotherapy session at {clinic} with {practitioner} is on {day} at {time}.

For {window_en} it, please do not take aspirin or other anti-inflammatory painkillers (NSAIDs, such as ibuprofen or naproxen): they make bleeding and bruising where the needle goes in more likely. If you need a painkiller in the meantime, ask your pharmacist or us which one suits you.

If a doctor prescribed aspirin or another of these medicines for you, do not stop taking it on your own: contact us first and we will look at it with you.""",
        ),
        "day_before": (
            "Your mesotherapy session tomorrow at {time}",
            """Hello {name},

A reminder of your mesotherapy session tomorrow, {day} at {time}, with {practitioner} at {clinic}.

What to expect: the session takes about {minutes} minutes. Many very fine injections are given just under the surface of the skin of the treated area. It feels slightly uncomfortable rather than painful; if your skin is sensitive, an anaesthetic cream can be put on first: tell us when you arrive if you would like it. Small bruises, swelling or redness where the needle went in are common and usually settle within a day. Most people carry on with their day as usual; some prefer to take the rest of the day off.

If you cannot come, please tell us as soon as you can, so that someone else can have the time.""",
        ),
        "follow_up": (
            "How are you after your session?",
            """Hello {name},

A day has passed since your mesotherapy session at {clinic} on {day}.

Some bruising or swelling where the injections were given is common and usually settles within 24 hours.

Please contact us if it has not settled, if anything is getting worse, or if you notice anything else at the treated area, such as pain, redness, warmth, itching, lumps or dark patches, now or in the weeks to come. If you feel seriously unwell, get urgent medical help.""",
        ),
        "maintenance": (
            "Your maintenance session: time to book",
            """Hello {name},

Your mesotherapy course at {clinic} planned a maintenance session in {month}. If you would like to have it, please contact us to choose a time.

If you have decided not to continue, there is nothing to do; you can also tell us, and we will not remind you again.""",
        ),
    },
    "fr": {
        "pre_care": (
            "Avant votre séance du {day_short} : pas d'aspirine ni d'anti-inflammatoires",
            """Bonjour {name},

Votre séance de mésothérapie à {clinic} avec {practitioner} est prévue le {day} à {time}.

Pendant {window_fr}, merci de ne pas prendre d'aspirine ni d'autres antidouleurs anti-inflammatoires (AINS, comme l'ibuprofène ou le naproxène) : ils rendent plus probables les saignements et les bleus aux points d'injection. Si vous avez besoin d'un antidouleur d'ici là, demandez à votre pharmacien ou à nous lequel vous convient.

Si un médecin vous a prescrit de l'aspirine ou un autre de ces médicaments, ne l'arrêtez pas de vous-même : contactez-nous d'abord et nous verrons cela avec vous.""",
        ),
        "day_before": (
            "Votre séance de mésothérapie demain à {time}",
            """Bonjour {name},

Nous vous rappelons votre séance de mésothérapie demain, {day} à {time}, avec {practitioner} à {clinic}.

Comment elle se déroule : la séance dure environ {minutes} minutes. De nombreuses injections très fines sont faites juste sous la surface de la peau de la zone traitée. C'est plutôt inconfortable que douloureux ; si votre peau est sensible, une crème anesthésiante peut être appliquée avant : dites-le-nous à votre arrivée. De petits bleus, un gonflement ou une rougeur aux points d'injection sont fréquents et disparaissent en général en un jour. La plupart des personnes reprennent aussitôt leurs activités ; certaines préfèrent prendre le reste de la journée.

Si vous ne pouvez pas venir, prévenez-nous dès que possible, afin que ce créneau profite à quelqu'un d'autre.""",
        ),
        "follow_up": (
            "Comment allez-vous après votre séance ?",
            """Bonjour {name},

Votre séance de mésothérapie à {clinic} a eu lieu le {day}.

Un bleu ou un gonflement aux points d'injection est fréquent et disparaît en général en 24 heures.

Contactez-nous s'il ne s'est pas résorbé, si quelque chose s'aggrave ou si vous remarquez autre chose sur la zone traitée (douleur, rougeur, chaleur, démangeaisons, boules ou taches sombres), maintenant ou dans les semaines qui viennent. Si vous vous sentez vraiment mal, demandez sans attendre une aide médicale urgente.""",
        ),
        "maintenance": (
            "Votre séance d'entretien : il est temps de prendre rendez-vous",
            """Bonjour {name},

Votre cure de mésothérapie à {clinic} prévoyait une séance d'entretien en {month}. Si vous souhaitez la faire, contactez-nous pour choisir un horaire.

Si vous avez décidé de ne pas continuer, vous n'avez rien à faire ; vous pouvez aussi nous le dire, et nous ne vous la rappellerons plus.""",
        ),
    },
}


def render(kind: str, language: str, context: Context) -> Message:
    """The message of ``kind`` in ``language`` (English when the language has no texts)."""
    language = language_of(language)
    subject, body = _TEXTS[language][kind]
    days = context.window_days
    values = {
        "name": context.given_name,
        "clinic": context.clinic_name,
        "practitioner": context.practitioner,
        "minutes": context.minutes,
        "window_en": "the day before" if days == 1 else f"the {days} days before",
        "window_fr": "la veille" if days == 1 else f"les {days} jours qui la précèdent",
        "day": "",
        "day_short": "",
        "time": "",
        "month": month_text(context.due_on, language) if context.due_on else "",
    }
    if context.starts_at is not None:
        values["day"] = day_text(context.starts_at.date(), language)
        values["day_short"] = day_text(context.starts_at.date(), language, year=False)
        values["time"] = time_text(context.starts_at, language)
    text = body.format(**values) + f"\n\n{_contact(context, language)}\n\n{context.clinic_name}\n"
    return Message(subject.format(**values), text, language)
