"""The consent text: generated from the plan and the catalogue, in the patient's language."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from mesoclinic.catalogue.models import BodyArea, Indication, SideEffect
from mesoclinic.consent import content
from mesoclinic.courses.models import CoursePlan
from mesoclinic.patients.models import Patient


def text_of(rendered: dict[str, Any]) -> str:
    """Everything the patient reads, as one string."""
    parts = [rendered["title"], *rendered["notes"]]
    parts += [f"{fact['label']}: {fact['value']}" for fact in rendered["facts"]]
    for section in rendered["sections"]:
        parts.append(section["heading"])
        for block in section["blocks"]:
            parts.append(block.get("text", ""))
            parts += [f"{item['lead']}: {item['text']}" for item in block.get("items", [])]
    return "\n".join(parts)


def section(rendered: dict[str, Any], code: str) -> str:
    found = next(s for s in rendered["sections"] if s["code"] == code)
    return text_of({"title": "", "notes": [], "facts": [], "sections": [found]})


def render(plan: CoursePlan, language: str | None = None) -> dict[str, Any]:
    return content.render(plan, version=1, prepared_on=date(2026, 3, 2), language=language).content


def test_every_language_has_the_same_wording_keys() -> None:
    """A section, a fact or an indication's alternatives missing in one language would
    fail at the worst moment: while preparing a patient's document."""

    def keys(value: Any, prefix: str = "") -> set[str]:
        if isinstance(value, dict):
            return {k for key, item in value.items() for k in keys(item, f"{prefix}.{key}")}
        return {prefix}

    wording = content.wording()
    assert set(content.languages()) == {"en", "fr"}
    english = keys(wording["en"])
    for language in content.languages():
        assert keys(wording[language]) == english, language
    assert set(wording["en"]["sections"]) == set(content.SECTIONS)


def test_every_catalogue_indication_has_its_alternatives(catalogue: None) -> None:
    codes = set(Indication.objects.filter(retired=False).values_list("code", flat=True))
    for language in content.languages():
        assert set(content.texts(language)["alternatives"]) == codes


@pytest.mark.parametrize("language", ["en", "fr"])
def test_placeholders_are_all_filled(plan: CoursePlan, language: str) -> None:
    assert not re.search(r"[{}]", text_of(render(plan, language)))


def test_the_english_document_fills_in_the_plan(plan: CoursePlan) -> None:
    rendered = render(plan)
    facts = {fact["label"]: fact["value"] for fact in rendered["facts"]}

    assert rendered["language"] == "en"
    assert rendered["title"] == "Consent to a course of mesotherapy"
    assert facts["Patient"] == "Camille Rousseau"
    assert facts["Date of birth"] == "14 March 1980"
    assert facts["Clinic"] == "Clinique des Tilleuls"
    assert facts["Practitioner responsible"] == "Pat Practitioner"
    assert facts["What the course is for"] == "Localised fat"
    assert facts["Areas to be treated"] == "Stomach / abdomen; Thighs"
    assert facts["Mixture planned"] == "Lipolytic abdomen, version 1"
    assert facts["Sessions planned"] == ("8 sessions, one every 14 days, each about 30 minutes")
    assert facts["Maintenance afterwards"] == "1 session a year"
    assert facts["Document"] == "version 1, prepared on 2 March 2026"
    # The mix: each ingredient at its concentration in the 4 mL.
    formula = section(rendered, "formula")
    assert "no standard mixture" in formula
    assert "Phosphatidylcholine: 1.25\u00a0%" in formula
    assert "Sodium deoxycholate: 0.625\u00a0%" in formula
    assert "L-carnitine: 50\u00a0mg/mL" in formula


def test_the_document_says_what_the_seed_says_in_our_words(plan: CoursePlan) -> None:
    text = text_of(render(plan))
    assert "about half an hour" in text
    assert "numbing cream" in text
    assert "six to eight sessions about two weeks apart" in text
    assert "one or two maintenance sessions a year" in text
    assert "For 7 days before each session, avoid aspirin" in text
    assert "do not stop it on your own" in text
    assert "settle within about a day" in text
    assert "take a day off" in text
    assert "For hair loss the evidence is especially thin" in text
    assert "No result can be promised" in text
    assert "withdraw this consent whenever you wish" in text
    assert "pus or fluid" in text


def test_the_pre_care_window_is_the_clinics(plan: CoursePlan) -> None:
    plan.clinic.precare_window_days = 10
    plan.clinic.save()
    assert "For 10 days before each session" in text_of(render(plan))


def test_evidence_and_side_effects_come_from_the_catalogue(plan: CoursePlan) -> None:
    rendered = render(plan)
    evidence = section(rendered, "evidence")
    assert plan.indication.evidence_note in evidence
    assert "Park et al." in evidence
    risks = section(rendered, "risks")
    effects = SideEffect.objects.filter(retired=False)
    assert effects.count() == 12
    for effect in effects:
        assert f"{effect.label}: {effect.description}" in risks
        assert effect.expected_course in risks


def test_alternatives_depend_on_the_indication_and_always_include_no_treatment(
    plan: CoursePlan, french_plan: CoursePlan
) -> None:
    fat = section(render(plan), "alternatives")
    assert "For Localised fat, you could also consider" in fat
    assert "liposuction" in fat
    assert "No treatment: leaving things as they are" in fat

    hair = section(render(french_plan, "en"), "alternatives")
    assert "medicines licensed for hair loss" in hair
    assert "hair transplant surgery" in hair
    assert "No treatment" in hair
    assert "liposuction" not in hair


def test_the_french_document_is_in_french_with_the_catalogue_in_english(
    french_plan: CoursePlan,
) -> None:
    rendered = render(french_plan)
    text = text_of(rendered)
    facts = {fact["label"]: fact["value"] for fact in rendered["facts"]}

    assert rendered["language"] == "fr"
    assert rendered["title"] == "Consentement à une cure de mésothérapie"
    assert facts["Patient"] == "Hélène Lefèvre-Dupré"
    assert facts["Date de naissance"] == "14 mars 1980"
    assert facts["Séances prévues"].startswith("8 séances, une tous les 14 jours")
    assert facts["Document"] == "version 1, préparée le 2 mars 2026"
    assert "n'existent qu'en anglais" in rendered["notes"][0]
    assert "Minoxidil: 0,5\u00a0%" in text
    assert "Biotin: 1,25\u00a0mg/mL" in text
    assert "Pendant les 7 jours qui précèdent chaque séance" in text
    assert "la greffe de cheveux" in text
    assert "Aucun traitement" in text
    # Catalogue entries keep their English wording.
    assert "Alopecia (hair loss)" in text
    assert "There is little evidence that scalp mesotherapy regrows hair" in text
    assert "Bruising: Blue or purple marks" in text
    assert "Infection: " in text


def test_english_is_used_when_the_patients_language_has_no_text_and_it_says_so(
    plan: CoursePlan, camille: Patient
) -> None:
    Patient.objects.filter(pk=camille.pk).update(preferred_language="de")
    plan.refresh_from_db()
    plan.patient.refresh_from_db()
    rendered = render(plan)
    assert rendered["language"] == "en"
    assert rendered["requested_language"] == "de"
    assert rendered["notes"] == [
        "This document is in English because it is not yet available in the patient's "
        "preferred language (de)."
    ]


def test_a_plan_without_a_formula_says_one_is_still_to_be_chosen(
    plan: CoursePlan,
) -> None:
    plan.formula_version = None
    plan.save()
    rendered = render(plan)
    facts = {fact["label"]: fact["value"] for fact in rendered["facts"]}
    assert facts["Mixture planned"] == "Not chosen yet"
    assert "No mixture has been chosen yet" in section(rendered, "formula")


def test_the_hash_is_of_the_canonical_json_whatever_the_key_order(plan: CoursePlan) -> None:
    rendered = render(plan)
    reordered = dict(reversed(list(rendered.items())))
    assert content.content_sha256(reordered) == content.content_sha256(rendered)
    assert len(content.content_sha256(rendered)) == 64


def test_the_fingerprint_follows_the_plan_facts(plan: CoursePlan) -> None:
    before = content.plan_fingerprint(plan)
    assert content.plan_fingerprint(plan) == before
    plan.goals = "Flatter stomach"  # not a fact consent is given for
    plan.save()
    assert content.plan_fingerprint(plan) == before
    plan.areas.add(BodyArea.objects.get(code="hips"))
    assert content.plan_fingerprint(plan) != before


def test_no_sentence_promises_a_result(plan: CoursePlan, french_plan: CoursePlan) -> None:
    for rendered in (render(plan), render(french_plan)):
        text = text_of(rendered).lower()
        for claim in ("will remove", "will reduce", "guarantee", "proven to", "garanti"):
            assert claim not in text
