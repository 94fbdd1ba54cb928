from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from mesoclinic.catalogue.models import BodyArea, Indication
from mesoclinic.clinics.models import AuditAction, AuditEvent, User
from mesoclinic.formulas import services
from mesoclinic.formulas.models import (
    Formula,
    FormulaComponent,
    FormulaVersion,
    Ingredient,
    Product,
    ProductIngredient,
    UsedVersionError,
)
from mesoclinic.formulas.services import ComponentSpec, Content
from mesoclinic.formulas.tests.conftest import Ingredients, receive
from mesoclinic.patients import services as patient_services
from mesoclinic.patients.models import Patient

NOON = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)


def table(version: FormulaVersion) -> list[tuple[str, Decimal, str]]:
    return [(i.name, c, u) for i, c, u in services.composition(version)]


def test_composition_comes_through_products_and_volumes(lipolytic: Formula) -> None:
    # Half the mix is Lipo PC (5 % PC, 2.5 % DOC), half carnitine 200 mg/mL.
    assert table(lipolytic.current_version) == [
        ("L-carnitine", Decimal(100), "mg/mL"),
        ("Phosphatidylcholine", Decimal("2.5"), "%"),
        ("Sodium deoxycholate", Decimal("1.25"), "%"),
    ]


def test_composition_adds_one_ingredient_across_units_in_mg_per_ml(
    pat: User, lipo: Product, ingredients: Ingredients
) -> None:
    assert pat.clinic is not None
    formula = services.create_formula(
        clinic=pat.clinic,
        name="PC boost",
        author=pat,
        components=[
            ComponentSpec(product=lipo, proportion=Decimal(50)),
            ComponentSpec(
                ingredient=ingredients.phosphatidylcholine,
                concentration=Decimal(20000),
                unit="mcg/mL",
                volume_ml=Decimal(1),
            ),
        ],
        total_volume_ml=Decimal(4),
        actor=pat,
    )
    # 2 mL at 50 mg/mL and 1 mL at 20 mg/mL in 4 mL (1 mL of diluent): 30 mg/mL.
    assert ("Phosphatidylcholine", Decimal(30), "mg/mL") in table(formula.current_version)


def test_formula_records_its_indications_areas_and_author(lipolytic: Formula, pat: User) -> None:
    lipolytic.indications.set([Indication.objects.get(code="localised-fat")])
    lipolytic.areas.set([BodyArea.objects.get(code="abdomen")])
    assert lipolytic.author == pat
    assert lipolytic.current_version.number == 1
    assert AuditEvent.objects.filter(object_type="formulas.Formula").count() == 1


def test_an_unused_formula_is_edited_in_place(lipolytic: Formula, lipo: Product, pat: User) -> None:
    version = services.save_formula_edit(
        lipolytic, [ComponentSpec(product=lipo, volume_ml=Decimal(3))], pat
    )
    assert version.number == 1
    assert lipolytic.versions.count() == 1
    assert [c.volume_ml for c in version.components.all()] == [Decimal(3)]
    assert AuditEvent.objects.filter(
        object_type="formulas.FormulaVersion", action=AuditAction.UPDATE
    ).exists()


def test_editing_a_used_formula_creates_a_version_and_the_use_keeps_the_old_one(
    lipolytic: Formula, lipo: Product, carnitine: Product, pat: User, patient_a: Patient
) -> None:
    first = lipolytic.current_version
    use = services.record_lot_use(
        receive(lipo, pat), patient_a, Decimal(2), NOON, pat, formula_version=first
    )
    first.refresh_from_db()
    assert first.is_used

    second = services.save_formula_edit(
        lipolytic,
        [
            ComponentSpec(product=lipo, volume_ml=Decimal(3)),
            ComponentSpec(product=carnitine, volume_ml=Decimal(1)),
        ],
        pat,
        notes="More PC.",
    )

    assert (first.number, second.number) == (1, 2)
    assert lipolytic.current_version == second
    use.refresh_from_db()
    assert use.formula_version == first
    # The old version is still readable, unchanged.
    assert [c.volume_ml for c in first.components.all()] == [Decimal(2), Decimal(2)]
    assert ("L-carnitine", Decimal(100), "mg/mL") in table(first)
    assert ("L-carnitine", Decimal(50), "mg/mL") in table(second)


def test_a_version_marked_used_is_versioned_on_edit(
    lipolytic: Formula, lipo: Product, pat: User
) -> None:
    services.mark_version_used(lipolytic.current_version)
    services.mark_version_used(lipolytic.current_version)  # idempotent
    version = services.save_formula_edit(
        lipolytic, [ComponentSpec(product=lipo, volume_ml=Decimal(4))], pat
    )
    assert version.number == 2
    assert lipolytic.versions.count() == 2


def test_an_unchanged_recipe_saves_nothing(
    lipolytic: Formula, lipo: Product, carnitine: Product, pat: User
) -> None:
    services.mark_version_used(lipolytic.current_version)
    same = [
        ComponentSpec(product=lipo, volume_ml=Decimal(2)),
        ComponentSpec(product=carnitine, volume_ml=Decimal(2)),
    ]
    assert services.save_formula_edit(lipolytic, same, pat).number == 1
    assert lipolytic.versions.count() == 1


def test_a_used_version_refuses_every_change(lipolytic: Formula) -> None:
    version = lipolytic.current_version
    services.mark_version_used(version)
    component = version.components.first()
    assert component is not None
    with pytest.raises(UsedVersionError):
        component.volume_ml = Decimal(1)
        component.save()
    with pytest.raises(UsedVersionError):
        component.delete()
    with pytest.raises(UsedVersionError):
        version.notes = "changed"
        version.save()
    with pytest.raises(UsedVersionError):
        FormulaComponent(version=version, product=component.product, volume_ml=Decimal(1)).save()
    assert version.components.count() == 2


def test_allergies_match_ingredients_through_synonyms_without_case_or_accents(
    lipolytic: Formula,
    lipo: Product,
    pat: User,
    asha: User,
    patient_a: Patient,
    ingredients: Ingredients,
) -> None:
    for substance in ("LECITHIN", "Xylocaine", "penicillin", "levocarnitine tartrate", "carnitine"):
        patient_services.add_allergy(patient_a, substance=substance, actor=asha, request=None)
    version = services.save_formula_edit(
        lipolytic,
        [
            ComponentSpec(product=lipo, volume_ml=Decimal(2)),
            ComponentSpec(
                ingredient=ingredients.lidocaine,
                concentration=Decimal(1),
                unit="%",
                volume_ml=Decimal("0.5"),
            ),
        ],
        pat,
    )
    matches = {
        (m.allergy.substance, m.ingredient.name) for m in services.allergens_for(patient_a, version)
    }
    # "carnitine" alone is not a name of L-carnitine; "levocarnitine tartrate" names it, but
    # this version no longer contains it.
    assert matches == {("LECITHIN", "Phosphatidylcholine"), ("Xylocaine", "Lidocaine")}


def test_no_allergy_no_match(lipolytic: Formula, patient_a: Patient) -> None:
    assert services.allergens_for(patient_a, lipolytic.current_version) == []


# --- unit validation: refused with messages, changing nothing -----------------------------


@pytest.mark.parametrize(
    ("concentration", "unit", "message"),
    [
        (
            Decimal(5000),
            "mg/mL",
            "5000 mg/mL is more than 1 g per mL, which no solution holds. Did you mean mcg/mL?",
        ),
        (Decimal(2_000_000), "mcg/mL", "2000000 mcg/mL is more than 1 g per mL"),
        (Decimal(120), "%", "120 % is over 100 %; a percentage cannot exceed 100."),
        (Decimal(0), "mg/mL", "the concentration must be above zero (got 0)."),
        (Decimal(-3), "IU/mL", "the concentration must be above zero (got -3)."),
        (Decimal(1), "mg", "'mg' is not a concentration unit"),
    ],
)
def test_impossible_concentrations_are_refused(
    pat: User, ingredients: Ingredients, concentration: Decimal, unit: str, message: str
) -> None:
    assert pat.clinic is not None
    with pytest.raises(ValidationError) as raised:
        services.create_product(
            clinic=pat.clinic,
            name="Bad",
            manufacturer="M",
            presentation="vial",
            volume_ml=Decimal(5),
            contents=[Content(ingredients.carnitine, concentration, unit)],
            actor=pat,
        )
    assert any(message in m and m.startswith("L-carnitine: ") for m in raised.value.messages)
    assert not Product.objects.filter(name="Bad").exists()
    assert not ProductIngredient.objects.filter(product__name="Bad").exists()


def test_plausible_concentrations_pass(pat: User, ingredients: Ingredients) -> None:
    assert pat.clinic is not None
    product = services.create_product(
        clinic=pat.clinic,
        name="Fine",
        manufacturer="M",
        presentation="ampoule",
        volume_ml=Decimal(2),
        contents=[
            Content(ingredients.carnitine, Decimal(1000), "mg/mL"),
            Content(ingredients.lidocaine, Decimal(100), "%"),
            Content(ingredients.hyaluronic_acid, Decimal(500), "mcg/mL"),
            Content(ingredients.deoxycholate, Decimal(1500), "IU/mL"),
        ],
        actor=pat,
    )
    assert product.contents.count() == 4


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"volume_ml": Decimal(0)}, "volume of component 1 must be above zero mL (got 0 mL)"),
        ({"volume_ml": Decimal(-1)}, "must be above zero mL (got -1 mL)"),
        ({"proportion": Decimal(150)}, "The proportion 150 % is over 100 %."),
        ({"proportion": Decimal(0)}, "The proportion must be above 0 %"),
        (
            {"volume_ml": Decimal(9)},
            "The components add up to 11 mL, more than the total volume of 4 mL.",
        ),
        ({}, "give either a volume in mL or a proportion in %"),
    ],
)
def test_bad_component_volumes_are_refused_and_change_nothing(
    lipolytic: Formula,
    lipo: Product,
    carnitine: Product,
    pat: User,
    spec: dict[str, Decimal],
    message: str,
) -> None:
    before = table(lipolytic.current_version)
    with pytest.raises(ValidationError) as raised:
        services.save_formula_edit(
            lipolytic,
            [
                ComponentSpec(product=lipo, **spec),  # type: ignore[arg-type]
                ComponentSpec(product=carnitine, volume_ml=Decimal(2)),
            ],
            pat,
        )
    assert any(message in m for m in raised.value.messages), raised.value.messages
    assert lipolytic.versions.count() == 1
    assert table(lipolytic.current_version) == before


def test_a_compounded_ingredient_in_a_bad_unit_is_refused(
    lipolytic: Formula, ingredients: Ingredients, pat: User
) -> None:
    with pytest.raises(ValidationError) as raised:
        services.save_formula_edit(
            lipolytic,
            [
                ComponentSpec(
                    ingredient=ingredients.carnitine,
                    concentration=Decimal(2000),
                    unit="mg/mL",
                    volume_ml=Decimal(1),
                )
            ],
            pat,
            total_volume_ml=Decimal(0),
        )
    assert raised.value.messages == [
        "The total volume must be above zero mL (got 0 mL).",
        "Component 1 (L-carnitine): 2000 mg/mL is more than 1 g per mL, which no solution "
        "holds. Did you mean mcg/mL?",
    ]
    assert lipolytic.current_version.components.count() == 2


def test_a_formula_cannot_use_another_clinics_products_or_ingredients(
    pat: User, bob: User, hyaluronic_b: Product, catalogue: None
) -> None:
    assert pat.clinic is not None and bob.clinic is not None
    own = services.add_ingredient(
        clinic=bob.clinic,
        name="Harbour peptide",
        ingredient_class=hyaluronic_b.contents.get().ingredient.ingredient_class,
        actor=bob,
    )
    with pytest.raises(ValidationError) as raised:
        services.create_formula(
            clinic=pat.clinic,
            name="Borrowed",
            author=pat,
            components=[
                ComponentSpec(product=hyaluronic_b, volume_ml=Decimal(1)),
                ComponentSpec(
                    ingredient=own, concentration=Decimal(1), unit="%", volume_ml=Decimal(1)
                ),
            ],
            total_volume_ml=Decimal(2),
            actor=pat,
        )
    assert raised.value.messages == [
        "Component 1 (HA Glow): not a product of this clinic.",
        "Component 2 (Harbour peptide): Harbour peptide is not an ingredient of this clinic.",
    ]
    assert not Formula.objects.exists()


def test_ingredient_names_are_unique_per_clinic_and_against_the_shared_catalogue(
    pat: User, bob: User, ingredients: Ingredients
) -> None:
    assert pat.clinic is not None and bob.clinic is not None
    vitamin = ingredients.carnitine.ingredient_class
    with pytest.raises(ValidationError, match="already a name of the ingredient Lidocaine"):
        services.add_ingredient(
            clinic=pat.clinic, name="lignocaine", ingredient_class=vitamin, actor=pat
        )
    services.add_ingredient(
        clinic=pat.clinic, name="Biotine maison", ingredient_class=vitamin, actor=pat
    )
    services.add_ingredient(
        clinic=bob.clinic, name="Biotine Maison", ingredient_class=vitamin, actor=bob
    )
    with pytest.raises(ValidationError):
        services.add_ingredient(
            clinic=pat.clinic, name="BIOTINE  maison", ingredient_class=vitamin, actor=pat
        )
    visible = {i.name for i in services.ingredients_for(pat.clinic)}
    assert "Biotine maison" in visible and "Lidocaine" in visible
    assert Ingredient.objects.filter(normalised_name="biotine maison").count() == 2
