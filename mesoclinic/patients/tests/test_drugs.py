from __future__ import annotations

import pytest

from mesoclinic.catalogue.models import DrugClass
from mesoclinic.patients.drugs import resolve_medication_name


@pytest.mark.parametrize(
    ("typed", "matched", "classes"),
    [
        ("ibuprofen", "ibuprofen", {"systemic-nsaids"}),
        ("Advil", "Advil", {"systemic-nsaids"}),
        ("naproxen", "naproxen", {"systemic-nsaids"}),
        ("Aleve", "Aleve", {"systemic-nsaids"}),
        ("aspirin", "aspirin", {"salicylates", "aspirin-antithrombotic"}),
        ("diclofenac", "diclofenac", {"systemic-nsaids"}),
        ("warfarin", "warfarin", {"vitamin-k-antagonists"}),
        ("apixaban", "apixaban", {"factor-xa-inhibitors"}),
        ("IBUPROFEN", "ibuprofen", {"systemic-nsaids"}),
        ("advil", "Advil", {"systemic-nsaids"}),
        ("  Ibuprofen  ", "ibuprofen", {"systemic-nsaids"}),
        ("Aspégic", "Aspégic", {"salicylates"}),
        ("ASPEGIC", "Aspégic", {"salicylates"}),
        ("ibuprofene", "ibuprofen", {"systemic-nsaids"}),
        ("ibuprofn", "ibuprofen", {"systemic-nsaids"}),
        ("Advil 400 mg", "Advil", {"systemic-nsaids"}),
        ("Advil 200mg", "Advil", {"systemic-nsaids"}),
        ("aspirin 75 mg", "aspirin", {"salicylates", "aspirin-antithrombotic"}),
        ("Voltaren Emulgel 1%", "Voltaren Emulgel", {"topical-nsaids"}),
        ("ibuprofen gel", "ibuprofen gel", {"topical-nsaids"}),
    ],
)
def test_it_resolves_ingredients_and_brands(
    catalogue: None, typed: str, matched: str, classes: set[str]
) -> None:
    resolution = resolve_medication_name(typed)

    assert resolution.resolved
    assert resolution.matched_name == matched
    assert {c.code for c in resolution.drug_classes} == classes


@pytest.mark.parametrize("typed", ["levothyroxine", "Metformin 500 mg", "vitamin D", "x", ""])
def test_it_keeps_an_unknown_drug_unresolved(catalogue: None, typed: str) -> None:
    resolution = resolve_medication_name(typed)

    assert not resolution.resolved
    assert resolution.matched_name == ""
    assert resolution.drug_classes == ()
    assert resolution.typed == typed


def test_it_ignores_retired_classes(catalogue: None) -> None:
    DrugClass.objects.filter(code="vitamin-k-antagonists").update(retired=True)

    assert not resolve_medication_name("warfarin").resolved
