"""The text of a consent document, generated from a course plan.

The fixed wording lives in ``data/consent.toml``, one table per language; the plan fills in
who, what, where and how often, and the catalogue gives the indication's evidence note and
the side effects (in English only: a French document keeps them as they are and says so).

A document is stored as the JSON this module returns (``render``), hashed canonically
(``content_sha256``), together with the fingerprint of the plan facts it was generated from
(``plan_fingerprint``): when any of those facts changes, the document no longer describes the
course and a new one is needed.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from mesoclinic.catalogue.models import SideEffect
from mesoclinic.courses.models import CoursePlan
from mesoclinic.formulas.services import composition
from mesoclinic.reminders.messages import month_text

DATA_FILE = Path(__file__).resolve().parent / "data" / "consent.toml"
DEFAULT_LANGUAGE = "en"
CONTENT_FORMAT = 1
# Sections in the order the patient reads them.
SECTIONS = (
    "what",
    "session",
    "course",
    "before",
    "after",
    "formula",
    "evidence",
    "risks",
    "alternatives",
    "call",
    "rights",
    "declaration",
)
DEFAULT_PRECARE_DAYS = 7


# French sets a thin unbreakable space before ; : ? ! and inside guillemets; an unbreakable
# one keeps a line from starting with the sign.
_FRENCH_SPACES = {
    " ;": "\u00a0;",
    " :": "\u00a0:",
    " ?": "\u00a0?",
    " !": "\u00a0!",
    "« ": "«\u00a0",
    " »": "\u00a0»",
}


def _french(value: Any) -> Any:
    if isinstance(value, str):
        for plain, unbreakable in _FRENCH_SPACES.items():
            value = value.replace(plain, unbreakable)
        return value
    if isinstance(value, list):
        return [_french(item) for item in value]
    if isinstance(value, dict):
        return {key: _french(item) for key, item in value.items()}
    return value


@cache
def wording() -> dict[str, Any]:
    """The data file, read once: ``{"version": n, "en": {...}, "fr": {...}}``."""
    with DATA_FILE.open("rb") as file:
        data = tomllib.load(file)
    if "fr" in data:
        data["fr"] = _french(data["fr"])
    return data


def languages() -> tuple[str, ...]:
    return tuple(key for key, value in wording().items() if isinstance(value, dict))


def texts(language: str) -> dict[str, Any]:
    return wording()[language if language in languages() else DEFAULT_LANGUAGE]


def choose_language(preferred: str, requested: str | None = None) -> str:
    """The language a document is written in: the one asked for, else the patient's, when
    the data file has it; English otherwise."""
    wanted = requested or preferred
    return wanted if wanted in languages() else DEFAULT_LANGUAGE


def canonical_json(value: Any) -> bytes:
    """One byte string for one value, whatever the key order the database returns."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_sha256(content: dict[str, Any]) -> str:
    return sha256_hex(canonical_json(content))


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


# --- the plan's facts ---------------------------------------------------------------------


def plan_facts(plan: CoursePlan) -> dict[str, Any]:
    """What a consent is given for: if any of these changes, the patient must consent again.
    The formula is taken by its composition too, since a version not used yet can still be
    edited in place."""
    version = plan.formula_version
    lines = composition(version) if version is not None else []
    return {
        "indication": plan.indication.code,
        "areas": sorted(area.code for area in plan.areas.all()),
        "formula_version": version.pk if version is not None else None,
        "composition": sorted(
            [line.ingredient.pk, _number(line.concentration), line.unit] for line in lines
        ),
        "sessions_planned": plan.sessions_planned,
        "interval_days": plan.interval_days,
    }


def plan_fingerprint(plan: CoursePlan) -> str:
    return sha256_hex(canonical_json(plan_facts(plan)))


# --- rendering ------------------------------------------------------------------------------


def day_text(day: date, language: str) -> str:
    """ "14 March 1980", "1er mars 1980": a date without its weekday."""
    number = "1er" if language == "fr" and day.day == 1 else str(day.day)
    return f"{number} {month_text(day, language if language in ('en', 'fr') else 'en')}"


def _concentration(value: Decimal, unit: str, language: str) -> str:
    text = _number(value)
    if language == "fr":
        text = text.replace(".", ",")
    return f"{text}\u00a0{unit}"


def _paragraphs(lines: list[str], values: dict[str, str]) -> list[dict[str, Any]]:
    return [_text(line.format_map(values)) for line in lines]


def _items(items: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "kind": "list",
        "text": "",
        "items": [{"lead": lead, "text": text} for lead, text in items],
    }


def _text(text: str, kind: str = "paragraph") -> dict[str, Any]:
    """A paragraph or a quote. Every block has the same keys, so that the JSON an API client
    receives is the JSON hashed."""
    return {"kind": kind, "text": text, "items": []}


@dataclass(frozen=True)
class Prepared:
    content: dict[str, Any]
    content_sha256: str
    plan_fingerprint: str
    language: str


def _sessions_value(plan: CoursePlan, facts: dict[str, str]) -> str:
    values = {
        "sessions": str(plan.sessions_planned),
        "interval_days": str(plan.interval_days),
        "session_minutes": str(plan.session_minutes),
    }
    key = "sessions_value_one" if plan.sessions_planned == 1 else "sessions_value"
    return facts[key].format_map(values)


def _maintenance_value(plan: CoursePlan, facts: dict[str, str]) -> str:
    count = plan.maintenance_per_year
    if count == 0:
        return facts["maintenance_none"]
    if count == 1:
        return facts["maintenance_value_one"]
    return facts["maintenance_value"].format(count=count)


def render(
    plan: CoursePlan,
    *,
    version: int,
    prepared_on: date,
    language: str | None = None,
) -> Prepared:
    """The document for ``plan`` as of now, numbered ``version`` within the plan. In
    ``language`` if given and available, else in the patient's preferred language if
    available, else in English with a note saying why."""
    patient, clinic = plan.patient, plan.clinic
    chosen = choose_language(patient.preferred_language, language)
    wanted = language or patient.preferred_language
    words = texts(chosen)
    fact_words: dict[str, str] = words["facts"]
    sections: dict[str, dict[str, Any]] = words["sections"]
    indication = plan.indication
    areas = [area.label for area in plan.areas.all()]
    formula_version = plan.formula_version
    lines = composition(formula_version) if formula_version is not None else []
    plan_summary = _sessions_value(plan, fact_words)
    precare_days = clinic.precare_window_days or DEFAULT_PRECARE_DAYS
    values = {
        "plan_summary": plan_summary,
        "precare_days": str(precare_days),
        "indication": indication.label,
        "clinic_name": clinic.name,
        "clinic_phone": sections["call"]["phone"].format(phone=clinic.phone)
        if clinic.phone
        else "",
    }

    notes = []
    if chosen != wanted:
        fallback: str = texts(DEFAULT_LANGUAGE)["fallback_note"]
        notes.append(fallback.format(language=wanted))
    if words["catalogue_note"]:
        notes.append(words["catalogue_note"])

    facts = [
        (fact_words["patient"], str(patient)),
        (fact_words["born"], day_text(patient.date_of_birth, chosen)),
        (fact_words["clinic"], clinic.name),
        (fact_words["practitioner"], str(plan.practitioner)),
        (fact_words["indication"], indication.label),
        (fact_words["areas"], "; ".join(areas) if areas else fact_words["areas_none"]),
        (
            fact_words["formula"],
            fact_words["formula_value"].format(
                name=formula_version.formula.name, number=formula_version.number
            )
            if formula_version is not None
            else fact_words["formula_none"],
        ),
        (fact_words["sessions"], plan_summary),
        (fact_words["maintenance"], _maintenance_value(plan, fact_words)),
        (
            fact_words["document"],
            fact_words["document_value"].format(version=version, day=day_text(prepared_on, chosen)),
        ),
    ]

    blocks: dict[str, list[dict[str, Any]]] = {
        code: _paragraphs(sections[code].get("paragraphs", []), values) for code in SECTIONS
    }
    formula_words = sections["formula"]
    if formula_version is None:
        blocks["formula"].append(_text(formula_words["no_formula"]))
    elif not lines:
        blocks["formula"].append(_text(formula_words["no_ingredients"]))
    else:
        blocks["formula"].append(_text(formula_words["items_heading"]))
        blocks["formula"].append(
            _items(
                [
                    (line.ingredient.name, _concentration(line.concentration, line.unit, chosen))
                    for line in lines
                ]
            )
        )
    if indication.evidence_note:
        intro = sections["evidence"]["note_intro"].format_map(values)
        blocks["evidence"].append(_text(intro))
        blocks["evidence"].append(_text(indication.evidence_note, "quote"))
    risk_words = sections["risks"]
    if risk_words["items_heading"]:
        blocks["risks"].append(_text(risk_words["items_heading"]))
    side_effects = SideEffect.objects.filter(retired=False).order_by("label", "code")
    blocks["risks"].append(
        _items(
            [
                (effect.label, f"{effect.description} {effect.expected_course}".strip())
                for effect in side_effects
            ]
        )
    )
    alternatives: dict[str, list[str]] = words["alternatives"]
    choices = alternatives.get(indication.code) or [sections["alternatives"]["other"]]
    blocks["alternatives"].append(
        _items([("", text) for text in [*choices, sections["alternatives"]["always"]]])
    )
    blocks["call"].append(_items([("", text) for text in sections["call"]["items"]]))
    blocks["call"].append(_text(sections["call"]["after"]))
    blocks["declaration"].append(_items([("", text) for text in sections["declaration"]["items"]]))

    content = {
        "format": CONTENT_FORMAT,
        "data_version": wording()["version"],
        "language": chosen,
        "requested_language": wanted,
        "title": words["title"],
        "patient": {
            "name": str(patient),
            "date_of_birth": patient.date_of_birth.isoformat(),
            "born": day_text(patient.date_of_birth, chosen),
        },
        "notes": notes,
        "facts": [{"label": label, "value": value} for label, value in facts],
        "sections": [
            {"code": code, "heading": sections[code]["heading"], "blocks": blocks[code]}
            for code in SECTIONS
        ],
    }
    return Prepared(
        content=content,
        content_sha256=content_sha256(content),
        plan_fingerprint=plan_fingerprint(plan),
        language=chosen,
    )
