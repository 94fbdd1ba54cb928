"""Load the shared ingredient catalogue from ``data/ingredients.toml``, idempotently.

It runs with every catalogue load (``FormulasConfig.ready`` connects ``on_catalogue_loaded``
to ``catalogue_loaded``), inside the catalogue's transaction, because each entry names an
ingredient class of the catalogue. The file is read and checked whole before anything is
written; then only ingredients whose values differ are written, so a second load writes
nothing. Entries are matched to shared ingredients by normalised name. A shared ingredient the
file no longer lists is kept (products and formulas point to it), and clinic ingredients are
never touched.

No name or synonym may belong to two shared ingredients: allergy matching
(``services.allergens_for``) must find one ingredient under one name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from django.db import transaction

from mesoclinic.catalogue.loader import LoadReport, Table, read_file, record_file
from mesoclinic.catalogue.models import IngredientClass, normalise_name
from mesoclinic.formulas.models import Ingredient

DATA_FILE = Path(__file__).resolve().parent / "data" / "ingredients.toml"
NAME_MAX_LENGTH = cast(int, Ingredient._meta.get_field("name").max_length)


@dataclass(frozen=True)
class _Entry:
    table: Table  # for error messages that name the file and the entry
    name: str
    class_code: str
    synonyms: list[str]
    needs_prescriber: bool

    @property
    def normalised_names(self) -> set[str]:
        return {normalise_name(self.name)} | {normalise_name(s) for s in self.synonyms}


@dataclass
class IngredientReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    # Clinic ingredients that now share a name with the shared catalogue, as "name (clinic)":
    # left alone, but a clinic should merge or rename them for allergy matching's sake.
    clinic_duplicates: list[str] = field(default_factory=list)

    def summary(self) -> str:
        text = (
            f"Shared ingredients: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged."
        )
        if self.clinic_duplicates:
            text += (
                " These clinic ingredients now share a name with a shared one; merge or "
                f"rename them: {', '.join(self.clinic_duplicates)}."
            )
        return text


def load_ingredients(path: Path | None = None) -> IngredientReport:
    """Bring the shared ingredients in line with ``path`` (by default the file shipped in the
    package). Raises CatalogueError, naming the file and the entry, with nothing written, when
    the file is malformed, gives a name twice or names a class the catalogue does not have."""
    parsed = read_file(path or DATA_FILE, "ingredient", identity="name")
    entries = [_parse(table) for table in parsed.entries]
    _check_names(entries)
    with transaction.atomic():
        classes = {c.code: c for c in IngredientClass.objects.filter(retired=False)}
        shared = {i.normalised_name: i for i in Ingredient.objects.filter(clinic__isnull=True)}
        _check_against_database(entries, classes, shared)
        report = IngredientReport()
        for entry in entries:
            wanted: dict[str, Any] = {
                "name": entry.name,
                "ingredient_class_id": classes[entry.class_code].pk,
                "synonyms": entry.synonyms,
                "needs_prescriber": entry.needs_prescriber,
            }
            ingredient = shared.get(normalise_name(entry.name))
            if ingredient is None:
                Ingredient.objects.create(clinic=None, **wanted)
                report.created += 1
                continue
            changed = [key for key, value in wanted.items() if getattr(ingredient, key) != value]
            if changed:
                for key in changed:
                    setattr(ingredient, key, wanted[key])
                ingredient.save(update_fields=changed)
                report.updated += 1
            else:
                report.unchanged += 1
        record_file(parsed)
        report.clinic_duplicates = _clinic_duplicates(entries)
    return report


def on_catalogue_loaded(sender: object, report: LoadReport, **kwargs: object) -> str:
    """Receiver of ``catalogue_loaded``: its summary joins the catalogue's."""
    return load_ingredients().summary()


def _parse(table: Table) -> _Entry:
    name = " ".join(table.text("name").split())
    synonyms = [" ".join(s.split()) for s in table.texts("synonyms")]
    entry = _Entry(
        table=table,
        name=name,
        class_code=table.text("ingredient_class"),
        synonyms=synonyms,
        needs_prescriber=table.flag("needs_prescriber", required=True),
    )
    table.text("source")  # required, for whoever edits the file; not stored
    table.finish()
    for text in (name, *synonyms):
        if not normalise_name(text):
            raise table.error("a name or synonym is empty")
        if len(text) > NAME_MAX_LENGTH:
            raise table.error(f"{text[:40]!r}... is longer than {NAME_MAX_LENGTH} characters")
    seen: set[str] = set()
    for text in (name, *synonyms):
        if normalise_name(text) in seen:
            raise table.error(f"the name {text!r} is listed twice")
        seen.add(normalise_name(text))
    return entry


def _check_names(entries: list[_Entry]) -> None:
    owners: dict[str, _Entry] = {}
    for entry in entries:
        for name in sorted(entry.normalised_names):
            other = owners.setdefault(name, entry)
            if other is not entry:
                raise entry.table.error(
                    f"{name!r} is also a name of the ingredient {other.name!r} of this file"
                )


def _check_against_database(
    entries: list[_Entry],
    classes: dict[str, IngredientClass],
    shared: dict[str, Ingredient],
) -> None:
    listed = {normalise_name(entry.name) for entry in entries}
    # Shared ingredients the file does not list keep their names, which the file may not reuse.
    unlisted = [i for normalised, i in shared.items() if normalised not in listed]
    for entry in entries:
        if entry.class_code not in classes:
            raise entry.table.error(
                f"'ingredient_class' names {entry.class_code!r}, which is not an entry of "
                "ingredient_classes.toml"
            )
        for other in unlisted:
            clash = entry.normalised_names & other.normalised_names
            if clash:
                raise entry.table.error(
                    f"{sorted(clash)[0]!r} is already a name of the shared ingredient "
                    f"{other.name}, which this file does not list"
                )


def _clinic_duplicates(entries: list[_Entry]) -> list[str]:
    shared_names = set().union(*(entry.normalised_names for entry in entries))
    return sorted(
        f"{i.name} ({i.clinic})"
        for i in Ingredient.objects.filter(clinic__isnull=False).select_related("clinic")
        if i.normalised_names & shared_names
    )
