"""Load the catalogue's data files into the database, idempotently.

Every file is read and checked before anything is written, so a malformed file changes
nothing. Writing happens in one transaction and touches only rows whose values differ:
loading the same files twice writes nothing the second time. Entries are matched by code
(drug names by class and normalised name, scale levels by scale and value, patient
information pages by code and language), so an edited entry keeps its primary key and
everything that points to it. An entry missing from its file is marked retired, never
deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import tomllib
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.utils import timezone

from mesoclinic.catalogue import signals
from mesoclinic.catalogue.models import (
    CHECK_PARAMETERS,
    BodyArea,
    CatalogueEntry,
    ConditionKind,
    DataFile,
    DrugClass,
    DrugName,
    DrugNameKind,
    Indication,
    IngredientClass,
    Loaded,
    OutcomeScale,
    PageLanguage,
    PatientInformationPage,
    PreCareRule,
    Protocol,
    ScaleKind,
    ScaleLevel,
    ScreeningCheck,
    ScreeningRule,
    SideEffect,
    normalise_name,
)

DATA_DIR = Path(__file__).resolve().parent / "data"

# Any fixed number: it names the lock that keeps two loads (say, two app servers starting
# together) from inserting the same new entries at once on PostgreSQL.
_ADVISORY_LOCK = 1952_0001


class CatalogueError(Exception):
    """A data file that cannot be loaded; the message names the file and the problem."""


@dataclass
class LoadReport:
    created: int = 0
    updated: int = 0
    retired: int = 0
    unchanged: int = 0
    changed_files: list[str] = field(default_factory=list)
    # One sentence from each receiver of ``catalogue_loaded`` that loaded data of its own.
    others: list[str] = field(default_factory=list)

    def summary(self) -> str:
        files = ", ".join(self.changed_files) or "none"
        return " ".join(
            [
                f"Catalogue loaded: {self.created} created, {self.updated} updated, "
                f"{self.retired} retired, {self.unchanged} unchanged (new or changed files: "
                f"{files}).",
                *self.others,
            ]
        )


def load_catalogue(data_dir: Path | None = None) -> LoadReport:
    """Bring the catalogue tables in line with the data files in ``data_dir`` (by default
    the files shipped in the package), then let the receivers of ``catalogue_loaded`` load
    what builds on it. Raises CatalogueError, with nothing written, when a file is missing
    or malformed."""
    files = _read_files(data_dir or DATA_DIR)
    catalogue = _parse(files)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK])
        report = _write(catalogue, files)
        # Inside the transaction and the lock: data that builds on the catalogue (the shared
        # ingredients) is loaded with it, and a receiver's error undoes the whole load.
        for _receiver, summary in signals.catalogue_loaded.send(sender=LoadReport, report=report):
            if summary:
                report.others.append(summary)
        return report


# ---- Reading -------------------------------------------------------------------------


class Table:
    """One TOML table, read key by key so that an error names its place and a mistyped
    key is reported instead of silently ignored. Public for the data files other apps load
    along with the catalogue (``catalogue_loaded``)."""

    def __init__(self, file: str, where: str, raw: object) -> None:
        self.file = file
        self.where = where  # empty for the file's top level
        if not isinstance(raw, dict):
            raise self.error("must be a table")
        self.raw: dict[str, Any] = raw
        self.seen: set[str] = set()

    def error(self, message: str) -> CatalogueError:
        return CatalogueError(
            f"{self.file}: {self.where}: {message}" if self.where else f"{self.file}: {message}"
        )

    def _get(self, key: str, kinds: tuple[type, ...], noun: str) -> Any:
        self.seen.add(key)
        if key not in self.raw:
            return None
        value = self.raw[key]
        # TOML booleans are Python ints too: a number must not be given as true/false.
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise self.error(f"{key!r} must be {noun}, not {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self._get(key, (str,), "a string")
        if value is None:
            if default is None:
                raise self.error(f"{key!r} is missing")
            return default
        return str(value).strip()

    def integer(self, key: str) -> int:
        value = self.optional_integer(key)
        if value is None:
            raise self.error(f"{key!r} is missing")
        return value

    def optional_integer(self, key: str) -> int | None:
        value = self._get(key, (int,), "a whole number")
        return None if value is None else int(value)

    def flag(self, key: str, *, required: bool = False) -> bool:
        """A boolean that is false unless the file says true; ``required`` when a missing
        value must not silently mean false."""
        value = self._get(key, (bool,), "true or false")
        if value is None and required:
            raise self.error(f"{key!r} is missing")
        return bool(value)

    def decimal(self, key: str) -> Decimal:
        value = self.optional_decimal(key)
        if value is None:
            raise self.error(f"{key!r} is missing")
        return value

    def optional_decimal(self, key: str) -> Decimal | None:
        value = self._get(key, (int, float, str), "a number")
        if value is None:
            return None
        try:
            # Through str so that 0.1 is the decimal 0.1, not the float nearest to it.
            number = Decimal(str(value))
        except InvalidOperation:
            raise self.error(f"{key!r} must be a number, not {value!r}") from None
        if not number.is_finite():
            raise self.error(f"{key!r} must be a finite number, not {value!r}")
        return number

    def date(self, key: str) -> dt.date:
        """A TOML local date (2026-11-26, unquoted), required."""
        value = self._get(key, (dt.date,), "a date such as 2026-11-26 (unquoted)")
        if value is None:
            raise self.error(f"{key!r} is missing")
        if isinstance(value, dt.datetime):
            raise self.error(f"{key!r} must be a date without a time, not {value!r}")
        return value

    def texts(self, key: str) -> list[str]:
        value = self._get(key, (list,), "a list of strings")
        if value is None:
            return []
        if not all(isinstance(item, str) for item in value):
            raise self.error(f"{key!r} must be a list of strings")
        return [str(item).strip() for item in value]

    def tables(self, key: str, noun: str, identity: str | tuple[str, ...] = "code") -> list[Table]:
        """The array of tables under ``key``, each named in errors by its ``identity`` key
        (or by its position when it has none) after the table that holds it. An identity of
        several keys names a table by the first, the others in brackets: "page 'x' (fr)"."""
        value = self._get(key, (list,), "a list of tables")
        if value is None:
            return []
        first, *others = (identity,) if isinstance(identity, str) else identity
        prefix = f"{self.where}, " if self.where else ""
        tables = []
        for index, item in enumerate(value):
            raw = item if isinstance(item, dict) else {}
            code = raw.get(first)
            name = f"{noun} {code!r}" if isinstance(code, str) else f"{noun} #{index + 1}"
            details = [str(raw[other]) for other in others if isinstance(raw.get(other), str)]
            if details:
                name += f" ({', '.join(details)})"
            tables.append(Table(self.file, prefix + name, item))
        return tables

    def finish(self) -> None:
        unknown = sorted(set(self.raw) - self.seen)
        if unknown:
            expected = ", ".join(sorted(self.seen))
            raise self.error(f"unknown key {unknown[0]!r} (expected one of: {expected})")


@dataclass
class ParsedFile:
    name: str
    version: int
    sha256: str
    entries: list[Table]


# Each file, and the key of its array of entries.
FILES = {
    "ingredient_classes.toml": "ingredient_class",
    "side_effects.toml": "side_effect",
    "protocols.toml": "protocol",
    "drug_classes.toml": "drug_class",
    "precare_rules.toml": "rule",
    "body_areas.toml": "body_area",
    "outcome_scales.toml": "scale",
    "indications.toml": "indication",
    "screening_rules.toml": "rule",
    "patient_information.toml": "page",
}
# Files whose entries are identified by more than one key: a page is given once per language.
IDENTITIES: dict[str, tuple[str, ...]] = {"patient_information.toml": ("code", "language")}


def _read_files(data_dir: Path) -> dict[str, ParsedFile]:
    return {
        name: read_file(data_dir / name, key, IDENTITIES.get(name, "code"))
        for name, key in FILES.items()
    }


def read_file(path: Path, key: str, identity: str | tuple[str, ...] = "code") -> ParsedFile:
    """A data file's version and its array of ``[[key]]`` entries, each unique by its
    ``identity`` key (or keys); CatalogueError naming the file when it cannot be read or is
    malformed."""
    name = path.name
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(f"{name}: cannot be read from {path.parent} ({exc.strerror})") from exc
    try:
        document = tomllib.loads(content.decode("utf-8"))
    except UnicodeDecodeError:
        raise CatalogueError(f"{name}: is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogueError(f"{name}: is not valid TOML ({exc})") from None
    top = Table(name, "", document)
    version = top.integer("version")
    if version < 1:
        raise top.error(f"'version' must be 1 or more, not {version}")
    entries = top.tables(key, key.replace("_", " "), identity)
    top.finish()
    if not entries:
        raise top.error(f"no [[{key}]] entries")
    keys = (identity,) if isinstance(identity, str) else identity
    codes: set[object] = set()
    for entry in entries:
        code = tuple(repr(entry.raw.get(name)) for name in keys)
        if code in codes:
            verb = "is" if len(keys) == 1 else "are"
            raise entry.error(f"its {' and '.join(keys)} {verb} used by another entry of this file")
        codes.add(code)
    return ParsedFile(name, version, hashlib.sha256(content).hexdigest(), entries)


# ---- Checking ------------------------------------------------------------------------


@dataclass
class _Catalogue:
    """Everything the files say, checked, with references still given as codes."""

    ingredient_classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    side_effects: dict[str, dict[str, Any]] = field(default_factory=dict)
    protocols: dict[str, dict[str, Any]] = field(default_factory=dict)
    drug_classes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (class code, normalised name) -> values
    drug_names: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    rule_classes: dict[str, list[str]] = field(default_factory=dict)
    body_areas: dict[str, dict[str, Any]] = field(default_factory=dict)
    parents: dict[str, str] = field(default_factory=dict)
    scales: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (scale code, value) -> values
    levels: dict[tuple[str, Decimal], dict[str, Any]] = field(default_factory=dict)
    scale_indications: dict[str, list[str]] = field(default_factory=dict)
    indications: dict[str, dict[str, Any]] = field(default_factory=dict)
    primary_scales: dict[str, str] = field(default_factory=dict)
    screening_rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    # (code, language) -> values
    pages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)


def _common(entry: Table) -> dict[str, Any]:
    return {
        "code": entry.text("code"),
        "label": entry.text("label"),
        "description": entry.text("description"),
        "source": entry.text("source"),
    }


def _finish(entry: Table, model: type[models.Model], values: dict[str, Any]) -> None:
    """Refuse keys nobody read, then run the model's own field checks and check
    constraints (lengths, choices, code formats, min below max...) before anything is
    written. Relations and uniqueness are checked against the files, not against the rows
    the files are about to replace."""
    entry.finish()
    instance = model(**values, data_version=1)
    relations = [f.name for f in model._meta.concrete_fields if f.is_relation]
    try:
        instance.full_clean(exclude=relations, validate_unique=False, validate_constraints=False)
        for constraint in model._meta.constraints:
            if isinstance(constraint, models.CheckConstraint):
                constraint.validate(model, instance)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            problems = "; ".join(
                " ".join(messages) if name == "__all__" else f"{name}: {' '.join(messages)}"
                for name, messages in exc.message_dict.items()
            )
        else:
            problems = " ".join(exc.messages)
        raise entry.error(problems) from None


def _check_refs(
    entry: Table, key: str, codes: Iterable[str], known: Iterable[object], file: str
) -> None:
    for code in codes:
        if code not in known:
            raise entry.error(f"{key!r} names {code!r}, which is not an entry of {file}")


def _parse(files: dict[str, ParsedFile]) -> _Catalogue:
    cat = _Catalogue()

    for entry in files["ingredient_classes.toml"].entries:
        values = _common(entry)
        _finish(entry, IngredientClass, values)
        cat.ingredient_classes[values["code"]] = values

    for entry in files["side_effects.toml"].entries:
        values = _common(entry)
        values["expected_course"] = entry.text("expected_course")
        values["settles_within_hours"] = entry.optional_integer("settles_within_hours")
        values["always_flag"] = entry.flag("always_flag")
        _finish(entry, SideEffect, values)
        cat.side_effects[values["code"]] = values

    for entry in files["protocols.toml"].entries:
        values = _common(entry)
        for name in (
            "sessions_min",
            "sessions_max",
            "interval_days",
            "interval_tolerance_days",
            "session_minutes",
            "maintenance_per_year_min",
            "maintenance_per_year_max",
        ):
            values[name] = entry.integer(name)
        values["anaesthetic_cream_optional"] = entry.flag("anaesthetic_cream_optional")
        _finish(entry, Protocol, values)
        cat.protocols[values["code"]] = values

    _parse_drug_classes(files["drug_classes.toml"], cat)

    for entry in files["precare_rules.toml"].entries:
        values = _common(entry)
        values["window_days"] = entry.integer("window_days")
        values["patient_message"] = entry.text("patient_message")
        classes = entry.texts("drug_classes")
        _finish(entry, PreCareRule, values)
        _check_refs(entry, "drug_classes", classes, cat.drug_classes, "drug_classes.toml")
        cat.rules[values["code"]] = values
        cat.rule_classes[values["code"]] = classes

    _parse_body_areas(files["body_areas.toml"], cat)
    _parse_screening_rules(files["screening_rules.toml"], cat)
    _parse_patient_information(files["patient_information.toml"], cat)

    indication_codes = {entry.raw.get("code") for entry in files["indications.toml"].entries}
    _parse_scales(files["outcome_scales.toml"], cat, indication_codes)

    for entry in files["indications.toml"].entries:
        values = _common(entry)
        values["evidence_note"] = entry.text("evidence_note", default="")
        scale = entry.text("primary_scale")
        _finish(entry, Indication, values)
        _check_refs(entry, "primary_scale", [scale], cat.scales, "outcome_scales.toml")
        if not (
            cat.scales[scale]["all_indications"] or values["code"] in cat.scale_indications[scale]
        ):
            raise entry.error(f"its primary scale {scale!r} does not list it in 'indications'")
        cat.indications[values["code"]] = values
        cat.primary_scales[values["code"]] = scale
    return cat


# Parameters a screening rule may give, read as lists of strings except the pre-care rule.
_LIST_PARAMETERS = ("drug_classes", "condition_kinds", "ingredients", "terms")


def _parse_screening_rules(file: ParsedFile, cat: _Catalogue) -> None:
    for entry in file.entries:
        values = _common(entry)
        for name in ("severity", "message", "action"):
            values[name] = entry.text(name)
        values["check_kind"] = entry.text("check")
        values["overridable"] = entry.flag("overridable", required=True)
        parameters: dict[str, Any] = {}
        for name in _LIST_PARAMETERS:
            if name in entry.raw:
                parameters[name] = entry.texts(name)
        if "precare_rule" in entry.raw:
            parameters["precare_rule"] = entry.text("precare_rule")
        values["parameters"] = parameters
        _finish(entry, ScreeningRule, values)
        needed = CHECK_PARAMETERS[ScreeningCheck(values["check_kind"])]
        missing = sorted(needed - set(parameters))
        if missing:
            raise entry.error(f"check {values['check_kind']!r} needs {missing[0]!r}")
        extra = sorted(set(parameters) - needed)
        if extra:
            raise entry.error(f"check {values['check_kind']!r} does not use {extra[0]!r}")
        _check_refs(
            entry,
            "drug_classes",
            parameters.get("drug_classes", []),
            cat.drug_classes,
            "drug_classes.toml",
        )
        if "precare_rule" in parameters:
            _check_refs(
                entry, "precare_rule", [parameters["precare_rule"]], cat.rules, "precare_rules.toml"
            )
        for kind in parameters.get("condition_kinds", []):
            if kind not in ConditionKind.values:
                raise entry.error(
                    f"'condition_kinds' names {kind!r}, which is not one of {ConditionKind.values}"
                )
        if any(not item for name in _LIST_PARAMETERS for item in parameters.get(name, [])):
            raise entry.error("a parameter list holds an empty string")
        cat.screening_rules[values["code"]] = values


# The fields of a patient information page that hold text for patients.
_PAGE_TEXTS = ("title", "summary", "body", "reviewed_by", "sources")


def _parse_patient_information(file: ParsedFile, cat: _Catalogue) -> None:
    """Pages for patients, one entry per page and language. Every page must be given in
    every language, and no text may hold "<": the body is rendered from its own small markup
    (markup.py), never as HTML, and refusing the character keeps HTML from being written in
    the hope that it will be."""
    languages: dict[str, set[str]] = {}
    for entry in file.entries:
        code = entry.text("code")
        language = entry.text("language")
        if language not in PageLanguage.values:
            allowed = " or ".join(repr(value) for value in PageLanguage.values)
            raise entry.error(f"'language' must be {allowed}, not {language!r}")
        values: dict[str, Any] = {
            "code": code,
            "language": language,
            # The order the pages are read in: where each code first appears in the file.
            "position": len(languages) if code not in languages else list(languages).index(code),
            "title": entry.text("title"),
            "summary": entry.text("summary"),
            "body": entry.text("body"),
            "reviewed_on": entry.date("reviewed_on"),
            "reviewed_by": entry.text("reviewed_by"),
            "sources": entry.texts("sources"),
        }
        if not values["sources"]:
            raise entry.error("'sources' is missing: name where the facts come from")
        for name in _PAGE_TEXTS:
            texts = values[name] if isinstance(values[name], list) else [values[name]]
            if any("<" in text for text in texts):
                raise entry.error(
                    f"{name!r} holds '<': write plain text, not HTML (a body has paragraphs "
                    "separated by blank lines and lists of lines starting with '- ')"
                )
        _finish(entry, PatientInformationPage, values)
        languages.setdefault(code, set()).add(language)
        cat.pages[(code, language)] = values
    for code, given in languages.items():
        missing = [language for language in PageLanguage.values if language not in given]
        if missing:
            raise CatalogueError(
                f"{file.name}: page {code!r}: has no {missing[0]!r} version (every page is "
                f"given in {' and '.join(repr(value) for value in PageLanguage.values)})"
            )


def _parse_drug_classes(file: ParsedFile, cat: _Catalogue) -> None:
    for entry in file.entries:
        values = _common(entry)
        values["atc_code"] = entry.text("atc_code")
        values["bleeding_risk"] = entry.flag("bleeding_risk")
        names = [(DrugNameKind.INGREDIENT, name) for name in entry.texts("ingredients")] + [
            (DrugNameKind.BRAND, name) for name in entry.texts("brands")
        ]
        _finish(entry, DrugClass, values)
        if any(other["atc_code"] == values["atc_code"] for other in cat.drug_classes.values()):
            raise entry.error(f"ATC code {values['atc_code']} is given to another class too")
        cat.drug_classes[values["code"]] = values
        for kind, name in names:
            name_values = {"name": name, "normalised_name": normalise_name(name), "kind": kind}
            key = (values["code"], name_values["normalised_name"])
            if key in cat.drug_names:
                raise entry.error(f"the name {name!r} is listed twice")
            try:
                DrugName(**name_values, data_version=1).full_clean(
                    exclude=["drug_class"], validate_unique=False
                )
            except ValidationError as exc:
                raise entry.error(f"name {name!r}: {' '.join(exc.messages)}") from None
            cat.drug_names[key] = name_values


def _parse_body_areas(file: ParsedFile, cat: _Catalogue) -> None:
    for entry in file.entries:
        values = _common(entry)
        values["snomed_code"] = entry.text("snomed_code")
        values["view"] = entry.text("view")
        values["paired"] = entry.flag("paired")
        parent = entry.text("parent", default="")
        _finish(entry, BodyArea, values)
        if parent:
            cat.parents[values["code"]] = parent
        cat.body_areas[values["code"]] = values
    for entry in file.entries:
        code = entry.raw["code"]
        if code in cat.parents:
            _check_refs(entry, "parent", [cat.parents[code]], cat.body_areas, file.name)
        seen = {code}
        while code in cat.parents:
            code = cat.parents[code]
            if code in seen:
                raise entry.error("its parents lead back to itself")
            seen.add(code)


def _parse_scales(file: ParsedFile, cat: _Catalogue, indications: set[object]) -> None:
    for entry in file.entries:
        values = _common(entry)
        values["kind"] = entry.text("kind")
        values["variant"] = entry.text("variant", default="")
        values["min_value"] = entry.decimal("min")
        values["max_value"] = entry.decimal("max")
        values["step"] = entry.decimal("step")
        values["unit"] = entry.text("unit", default="")
        values["direction"] = entry.text("direction")
        values["loinc_code"] = entry.text("loinc_code", default="")
        values["minimal_important_difference"] = entry.optional_decimal(
            "minimal_important_difference"
        )
        values["all_indications"] = entry.flag("all_indications")
        served = entry.texts("indications")
        levels = entry.tables("levels", "level")
        _finish(entry, OutcomeScale, values)
        _check_refs(entry, "indications", served, indications, "indications.toml")
        if not served and not values["all_indications"]:
            raise entry.error("serves no indication: give 'indications' or 'all_indications'")
        cat.scales[values["code"]] = values
        cat.scale_indications[values["code"]] = served
        _parse_levels(entry, levels, values, cat)


def _parse_levels(
    entry: Table, levels: list[Table], scale: dict[str, Any], cat: _Catalogue
) -> None:
    # The scale passed its check constraints, so step > 0 and min < max here.
    low, high, step = scale["min_value"], scale["max_value"], scale["step"]
    seen: set[Decimal] = set()
    for level in levels:
        value = level.decimal("value")
        values: dict[str, Any] = {
            "value": value,
            "label": level.text("label"),
            "description": level.text("description", default=""),
        }
        _finish(level, ScaleLevel, values)
        if not low <= value <= high or (value - low) % step:
            raise level.error(f"{value} is not a point of the scale ({low} to {high} by {step})")
        if value in seen:
            raise level.error(f"{value} is labelled twice")
        seen.add(value)
        cat.levels[(scale["code"], value)] = values
    points = int((high - low) / step) + 1
    if scale["kind"] == ScaleKind.ORDINAL and len(seen) != points:
        raise entry.error(f"an ordinal scale labels each of its {points} levels")


# ---- Writing -------------------------------------------------------------------------


class _Status(Enum):
    CREATED = "created"
    UPDATED = "updated"
    RETIRED = "retired"
    UNCHANGED = "unchanged"


M = TypeVar("M", bound=Loaded)
E = TypeVar("E", bound=CatalogueEntry)
K = TypeVar("K", bound=Hashable)


class _Writer:
    """Writes rows that differ from the files and remembers what happened to each."""

    def __init__(self) -> None:
        self.status: dict[tuple[type[Loaded], int], _Status] = {}

    def upsert(
        self,
        model: type[M],
        rows: Mapping[K, dict[str, Any]],
        key: Callable[[M], K],
        version: int,
    ) -> dict[K, int]:
        """Create or update one row per entry of ``rows``; returns their primary keys."""
        existing = {key(obj): obj for obj in model._default_manager.all()}
        pks: dict[K, int] = {}
        for row_key, values in rows.items():
            wanted = {**values, "retired": False}
            obj = existing.get(row_key)
            if obj is None:
                obj = model._default_manager.create(**wanted, data_version=version)
                self.status[(model, obj.pk)] = _Status.CREATED
            else:
                changed = [name for name, value in wanted.items() if getattr(obj, name) != value]
                if changed:
                    for name in changed:
                        setattr(obj, name, wanted[name])
                    obj.data_version = version
                    obj.save(update_fields=[*changed, "data_version"])
                    self.status[(model, obj.pk)] = _Status.UPDATED
                else:
                    self.status[(model, obj.pk)] = _Status.UNCHANGED
            pks[row_key] = obj.pk
        return pks

    def retire(self, model: type[M], rows: models.QuerySet[M], version: int) -> None:
        for obj in rows.filter(retired=False):
            obj.retired = True
            obj.data_version = version
            obj.save(update_fields=["retired", "data_version"])
            self.status[(model, obj.pk)] = _Status.RETIRED

    def set_related(
        self, model: type[Loaded], name: str, wanted: Mapping[int, set[int]], version: int
    ) -> None:
        """Make each row's many-to-many ``name`` hold exactly the wanted primary keys."""
        for obj in model._default_manager.filter(pk__in=list(wanted)).prefetch_related(name):
            manager = getattr(obj, name)
            if {related.pk for related in manager.all()} == wanted[obj.pk]:
                continue
            manager.set(wanted[obj.pk])
            if self.status[(model, obj.pk)] is _Status.UNCHANGED:
                obj.data_version = version
                obj.save(update_fields=["data_version"])
                self.status[(model, obj.pk)] = _Status.UPDATED

    def sync(
        self, model: type[E], rows: Mapping[str, dict[str, Any]], version: int
    ) -> dict[str, int]:
        """Retire the entries a file no longer has, then upsert the others by code.
        Retiring first frees what must be unique among active entries (a drug class's
        ATC code) for an entry that takes it over under a new code."""
        self.retire(model, model._default_manager.exclude(code__in=list(rows)), version)
        return self.upsert(model, rows, lambda obj: obj.code, version)


def _write(cat: _Catalogue, files: dict[str, ParsedFile]) -> LoadReport:
    writer = _Writer()

    def version(name: str) -> int:
        return files[name].version

    writer.sync(IngredientClass, cat.ingredient_classes, version("ingredient_classes.toml"))
    writer.sync(SideEffect, cat.side_effects, version("side_effects.toml"))
    writer.sync(Protocol, cat.protocols, version("protocols.toml"))

    drugs = version("drug_classes.toml")
    class_pks = writer.sync(DrugClass, cat.drug_classes, drugs)
    names = {
        (class_pks[class_code], normalised): {**values, "drug_class_id": class_pks[class_code]}
        for (class_code, normalised), values in cat.drug_names.items()
    }
    name_pks = writer.upsert(
        DrugName, names, lambda name: (name.drug_class_id, name.normalised_name), drugs
    )
    writer.retire(DrugName, DrugName.objects.exclude(pk__in=name_pks.values()), drugs)

    rules = version("precare_rules.toml")
    rule_pks = writer.sync(PreCareRule, cat.rules, rules)
    writer.set_related(
        PreCareRule,
        "drug_classes",
        {
            rule_pks[code]: {class_pks[c] for c in classes}
            for code, classes in cat.rule_classes.items()
        },
        rules,
    )

    _write_body_areas(writer, cat, version("body_areas.toml"))
    writer.sync(ScreeningRule, cat.screening_rules, version("screening_rules.toml"))

    scales = version("outcome_scales.toml")
    scale_pks = writer.sync(OutcomeScale, cat.scales, scales)
    levels = {
        (scale_pks[scale_code], value): {**values, "scale_id": scale_pks[scale_code]}
        for (scale_code, value), values in cat.levels.items()
    }
    level_pks = writer.upsert(
        ScaleLevel, levels, lambda level: (level.scale_id, level.value), scales
    )
    writer.retire(ScaleLevel, ScaleLevel.objects.exclude(pk__in=level_pks.values()), scales)

    indication_rows = {
        code: {**values, "primary_scale_id": scale_pks[cat.primary_scales[code]]}
        for code, values in cat.indications.items()
    }
    indication_pks = writer.sync(Indication, indication_rows, version("indications.toml"))
    # Scales are written before indications (an indication needs its primary scale), so
    # the scales' list of indications can only be set now.
    writer.set_related(
        OutcomeScale,
        "indications",
        {
            scale_pks[code]: {indication_pks[i] for i in served}
            for code, served in cat.scale_indications.items()
        },
        scales,
    )

    pages = version("patient_information.toml")
    page_pks = writer.upsert(
        PatientInformationPage, cat.pages, lambda page: (page.code, page.language), pages
    )
    writer.retire(
        PatientInformationPage,
        PatientInformationPage.objects.exclude(pk__in=page_pks.values()),
        pages,
    )

    counts = Counter(writer.status.values())
    return LoadReport(
        created=counts[_Status.CREATED],
        updated=counts[_Status.UPDATED],
        retired=counts[_Status.RETIRED],
        unchanged=counts[_Status.UNCHANGED],
        changed_files=_record_files(files),
    )


def _write_body_areas(writer: _Writer, cat: _Catalogue, version: int) -> None:
    """Parents first, level by level, so that each sub-area can point to its parent's key."""
    writer.retire(BodyArea, BodyArea.objects.exclude(code__in=list(cat.body_areas)), version)
    pks: dict[str, int] = {}
    pending = dict(cat.body_areas)
    while pending:
        ready = {
            code: {**values, "parent_id": pks[cat.parents[code]] if code in cat.parents else None}
            for code, values in pending.items()
            if code not in cat.parents or cat.parents[code] in pks
        }
        pks.update(writer.upsert(BodyArea, ready, lambda area: area.code, version))
        for code in ready:
            del pending[code]


def _record_files(files: dict[str, ParsedFile]) -> list[str]:
    """Records each file's version and checksum; returns the names of new or changed ones."""
    return [file.name for file in files.values() if record_file(file)]


def record_file(file: ParsedFile) -> bool:
    """Records the file's version and checksum in ``DataFile``; true if it is new or changed."""
    known = DataFile.objects.filter(name=file.name).first()
    if known is not None and (known.version, known.sha256) == (file.version, file.sha256):
        return False
    DataFile.objects.update_or_create(
        name=file.name,
        defaults={"version": file.version, "sha256": file.sha256, "loaded_at": timezone.now()},
    )
    return True
