from __future__ import annotations

import shutil
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from mesoclinic.catalogue.loader import CatalogueError, load_catalogue
from mesoclinic.catalogue.models import DataFile, Indication, IngredientClass
from mesoclinic.catalogue.tests.helpers import edit, snapshot
from mesoclinic.clinics.models import User
from mesoclinic.formulas import loader, services
from mesoclinic.formulas.loader import load_ingredients
from mesoclinic.formulas.models import Ingredient

ENTRIES = loader.DATA_FILE.read_text().count("[[ingredient]]")


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    """A copy of the shipped ingredient file that a test may edit."""
    return Path(shutil.copy(loader.DATA_FILE, tmp_path / "ingredients.toml"))


def rows() -> dict[str, list[dict[str, Any]]]:
    """Every ingredient, its history and the recorded data files."""
    return {
        "ingredients": list(Ingredient.objects.order_by("pk").values()),
        "history": list(Ingredient.history.order_by("pk").values()),  # type: ignore[attr-defined]
        "files": list(DataFile.objects.order_by("pk").values()),
    }


def test_the_catalogue_loads_the_shared_ingredients(catalogue: None) -> None:
    # ``catalogue`` is the root conftest's fixture: the load_catalogue command.
    shared = Ingredient.objects.filter(clinic__isnull=True)
    assert shared.count() == ENTRIES
    lidocaine = shared.get(name="Lidocaine")
    assert lidocaine.ingredient_class.code == "drug"
    assert lidocaine.synonyms == ["Lignocaine", "Xylocaïne"]
    assert lidocaine.needs_prescriber
    for name in ("Minoxidil", "Finasteride", "Dutasteride", "Procaine", "Tranexamic acid"):
        assert shared.get(name=name).needs_prescriber, name
    for name in ("Hyaluronic acid", "Biotin", "Caffeine", "L-carnitine", "DMAE"):
        assert not shared.get(name=name).needs_prescriber, name
    recorded = DataFile.objects.get(name="ingredients.toml")
    assert recorded.version == 1


def test_every_name_and_synonym_belongs_to_one_ingredient(catalogue: None) -> None:
    names = [n for i in Ingredient.objects.all() for n in i.normalised_names]
    assert len(names) == len(set(names))
    # Ingredient classes the file uses are all catalogue entries.
    used = set(Ingredient.objects.values_list("ingredient_class__code", flat=True))
    assert used <= set(IngredientClass.objects.values_list("code", flat=True))


def test_loading_twice_writes_nothing(catalogue: None) -> None:
    before = rows()

    again = load_catalogue()

    assert again.others == [f"Shared ingredients: 0 created, 0 updated, {ENTRIES} unchanged."]
    assert rows() == before


def test_a_changed_entry_updates_its_ingredient_in_place(catalogue: None, data_file: Path) -> None:
    caffeine = Ingredient.objects.get(name="Caffeine")
    edit(data_file, 'synonyms = ["Caféine"]', 'synonyms = ["Caféine", "Guaranine"]')
    edit(
        data_file,
        'name = "DMAE"\ningredient_class = "other"',
        'name = "dmae"\ningredient_class = "drug"',
    )
    edit(
        data_file,
        'name = "Organic silicon"\ningredient_class = "minerals"\n'
        'synonyms = ["Organic silicium", "Silicium organique", "Monomethylsilanetriol", "MMST"]\n'
        "needs_prescriber = false",
        'name = "Organic silicon"\ningredient_class = "minerals"\n'
        'synonyms = ["Organic silicium", "Silicium organique", "Monomethylsilanetriol", "MMST"]\n'
        "needs_prescriber = true",
    )
    edit(data_file, "version = 1", "version = 2")

    report = load_ingredients(data_file)

    assert (report.created, report.updated, report.unchanged) == (0, 3, ENTRIES - 3)
    caffeine.refresh_from_db()
    assert caffeine.synonyms == ["Caféine", "Guaranine"]
    dmae = Ingredient.objects.get(normalised_name="dmae")
    assert (dmae.name, dmae.ingredient_class.code) == ("dmae", "drug")
    assert Ingredient.objects.get(name="Organic silicon").needs_prescriber
    assert Ingredient.objects.filter(clinic__isnull=True).count() == ENTRIES
    assert DataFile.objects.get(name="ingredients.toml").version == 2
    # The earlier values are in the history, as for any change.
    assert caffeine.history.count() == 2  # type: ignore[attr-defined]


def test_an_added_entry_is_created_and_a_dropped_one_kept(catalogue: None, data_file: Path) -> None:
    text = data_file.read_text()
    start = text.index('[[ingredient]]\nname = "Melilot extract"')
    end = text.index("[[ingredient]]", start + 1)
    data_file.write_text(
        text[:start]
        + text[end:]
        + '\n[[ingredient]]\nname = "Horse chestnut extract"\ningredient_class = "plant-extracts"\n'
        'synonyms = ["Aesculus hippocastanum extract"]\nneeds_prescriber = false\nsource = "test"\n'
    )

    report = load_ingredients(data_file)

    assert (report.created, report.updated) == (1, 0)
    assert Ingredient.objects.filter(name="Melilot extract", clinic__isnull=True).exists()
    assert Ingredient.objects.get(name="Horse chestnut extract").synonyms == [
        "Aesculus hippocastanum extract"
    ]


# (old text, new text, what the error says after "ingredients.toml: ")
MALFORMED = [
    (
        'name = "Caffeine"',
        'name = "Caffeine"\ncolour = "white"',
        "ingredient 'Caffeine': unknown key 'colour'",
    ),
    (
        'name = "Glycine"\ningredient_class = "amino-acids"\nsynonyms = []\nneeds_prescriber = false\n',
        'name = "Glycine"\ningredient_class = "amino-acids"\nsynonyms = []\n',
        "ingredient 'Glycine': 'needs_prescriber' is missing",
    ),
    (
        'name = "Biotin"\ningredient_class = "vitamins"',
        'name = "Biotin"\ningredient_class = "vitamin"',
        "ingredient 'Biotin': 'ingredient_class' names 'vitamin', which is not an entry of "
        "ingredient_classes.toml",
    ),
    (
        'synonyms = ["Vitamin B7", "Vitamin H", "Biotine"]',
        'synonyms = ["Vitamin B7", "Vitamin H", "Biotine", "VITAMIN  C"]',
        "ingredient 'Biotin': 'vitamin c' is also a name of the ingredient 'Ascorbic acid'",
    ),
    (
        'synonyms = ["Lignocaine", "Xylocaïne"]',
        'synonyms = ["Lignocaine", "Xylocaïne", "LIGNOCAINE "]',
        "ingredient 'Lidocaine': the name 'LIGNOCAINE' is listed twice",
    ),
    (
        'name = "Procaine"',
        'name = "Lidocaine"',
        "ingredient 'Lidocaine': its name is used by another entry of this file",
    ),
    (
        'synonyms = ["Avodart"]',
        'synonyms = "Avodart"',
        "ingredient 'Dutasteride': 'synonyms' must be a list",
    ),
    (
        'synonyms = ["Avodart"]',
        'synonyms = ["Avodart", ""]',
        "ingredient 'Dutasteride': a name or synonym is empty",
    ),
    ("version = 1", 'version = "one"', "'version' must be a whole number"),
    ('name = "Zinc"', "name = Zinc", "is not valid TOML"),
]


@pytest.mark.parametrize(("old", "new", "problem"), MALFORMED)
def test_a_malformed_file_changes_nothing_and_says_why(
    catalogue: None, data_file: Path, old: str, new: str, problem: str
) -> None:
    # A valid change elsewhere, which must not be written either.
    edit(data_file, 'synonyms = ["Caféine"]', 'synonyms = ["Caféine", "Guaranine"]')
    edit(data_file, old, new)
    before = rows()

    with pytest.raises(CatalogueError) as raised:
        load_ingredients(data_file)

    assert str(raised.value).startswith("ingredients.toml: ")
    assert problem in str(raised.value)
    assert rows() == before


def test_a_name_of_an_unlisted_shared_ingredient_is_refused(
    catalogue: None, data_file: Path
) -> None:
    services.add_ingredient(
        clinic=None,
        name="Cholecalciferol",
        ingredient_class=IngredientClass.objects.get(code="vitamins"),
        synonyms=["Vitamin D3"],
        actor=None,
    )
    edit(data_file, 'synonyms = ["Vitamin A"]', 'synonyms = ["Vitamin A", "Vitamin D3"]')
    before = rows()

    with pytest.raises(
        CatalogueError, match="already a name of the shared ingredient Cholecalciferol"
    ):
        load_ingredients(data_file)

    assert rows() == before


def test_clinic_ingredients_are_never_touched(
    catalogue: None, data_file: Path, pat: User, bob: User
) -> None:
    assert pat.clinic is not None and bob.clinic is not None
    plant = IngredientClass.objects.get(code="plant-extracts")
    own = services.add_ingredient(
        clinic=pat.clinic, name="Horse chestnut extract", ingredient_class=plant, actor=pat
    )
    other = services.add_ingredient(
        clinic=bob.clinic, name="Harbour kelp", ingredient_class=plant, synonyms=["Kelp"], actor=bob
    )
    before = list(Ingredient.objects.filter(clinic__isnull=False).order_by("pk").values())
    # The file now has a shared ingredient of the same name as clinic A's own.
    data_file.write_text(
        data_file.read_text()
        + '\n[[ingredient]]\nname = "Horse chestnut extract"\ningredient_class = "plant-extracts"\n'
        'synonyms = []\nneeds_prescriber = false\nsource = "test"\n'
    )

    report = load_ingredients(data_file)

    assert list(Ingredient.objects.filter(clinic__isnull=False).order_by("pk").values()) == before
    assert own.history.count() == other.history.count() == 1  # type: ignore[attr-defined]
    shared = Ingredient.objects.get(clinic__isnull=True, name="Horse chestnut extract")
    assert shared.pk != own.pk
    assert report.clinic_duplicates == ["Horse chestnut extract (Clinique des Tilleuls)"]
    assert (
        "merge or rename them: Horse chestnut extract (Clinique des Tilleuls)." in report.summary()
    )


def test_a_bad_ingredient_file_stops_the_whole_catalogue_load(
    db: None, data_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(data_file, 'name = "Caffeine"', 'name = "Caffeine"\ncolour = "white"')
    monkeypatch.setattr(loader, "DATA_FILE", data_file)
    before = snapshot()

    with pytest.raises(
        CommandError, match=r"not changed: ingredients\.toml: ingredient 'Caffeine'"
    ):
        call_command("load_catalogue", stdout=StringIO())

    assert snapshot() == before
    assert not Indication.objects.exists() and not Ingredient.objects.exists()


def test_the_command_summary_counts_the_shared_ingredients(db: None) -> None:
    out = StringIO()

    call_command("load_catalogue", stdout=out)

    [line] = out.getvalue().splitlines()
    assert line.startswith("Catalogue loaded: ")
    assert line.endswith(f"Shared ingredients: {ENTRIES} created, 0 updated, 0 unchanged.")
