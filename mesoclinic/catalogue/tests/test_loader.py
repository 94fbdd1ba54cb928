from __future__ import annotations

import hashlib
import tomllib
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from mesoclinic.catalogue import loader
from mesoclinic.catalogue.loader import CatalogueError, LoadReport, load_catalogue
from mesoclinic.catalogue.models import (
    DataFile,
    DrugClass,
    DrugName,
    Indication,
    OutcomeScale,
    PreCareRule,
    ScaleLevel,
    SideEffect,
    normalise_name,
)
from mesoclinic.catalogue.tests.helpers import edit, remove_entry, snapshot


def test_first_load_creates_every_entry(catalogue: LoadReport) -> None:
    assert catalogue.created > 0
    assert (catalogue.updated, catalogue.retired, catalogue.unchanged) == (0, 0, 0)
    assert sorted(catalogue.changed_files) == sorted(loader.FILES)


def test_loading_twice_equals_loading_once(catalogue: LoadReport) -> None:
    once = snapshot()

    again = load_catalogue()

    assert snapshot() == once
    assert (again.created, again.updated, again.retired) == (0, 0, 0)
    assert again.unchanged == catalogue.created
    assert again.changed_files == []


def test_every_data_file_is_recorded_with_version_and_checksum(catalogue: LoadReport) -> None:
    for name in loader.FILES:
        content = (loader.DATA_DIR / name).read_bytes()
        recorded = DataFile.objects.get(name=name)
        assert recorded.version == tomllib.loads(content.decode())["version"] >= 1
        assert recorded.sha256 == hashlib.sha256(content).hexdigest()


def test_a_changed_label_updates_that_entry_and_keeps_its_key(
    catalogue: LoadReport, data_dir: Path
) -> None:
    before = snapshot()
    cellulite = Indication.objects.get(code="cellulite")
    path = data_dir / "indications.toml"
    edit(path, 'label = "Cellulite"', 'label = "Cellulite (orange-peel skin)"')
    edit(path, "version = 1", "version = 2")

    report = load_catalogue(data_dir)

    assert (report.created, report.updated, report.retired) == (0, 1, 0)
    assert report.changed_files == ["indications.toml"]
    updated = Indication.objects.get(pk=cellulite.pk)
    assert updated.label == "Cellulite (orange-peel skin)"
    assert updated.data_version == 2
    # Every other row of every table is as it was, but for the file's own record.
    changed_rows = [
        (table, row["id"])
        for table, rows in snapshot().items()
        for row in rows
        if row not in before[table]
    ]
    recorded = DataFile.objects.get(name="indications.toml")
    assert sorted(changed_rows) == [
        (DataFile._meta.db_table, recorded.pk),
        (Indication._meta.db_table, cellulite.pk),
    ]
    assert recorded.version == 2


def test_an_entry_removed_from_its_file_is_retired_not_deleted(
    catalogue: LoadReport, data_dir: Path
) -> None:
    nausea = SideEffect.objects.get(code="nausea")
    remove_entry(data_dir / "side_effects.toml", "nausea")

    report = load_catalogue(data_dir)

    assert (report.created, report.updated, report.retired) == (0, 0, 1)
    nausea.refresh_from_db()
    assert nausea.retired
    assert SideEffect.objects.filter(retired=False).count() == 11

    # Put back, it comes back under the same key.
    report = load_catalogue()
    assert (report.created, report.updated, report.retired) == (0, 1, 0)
    nausea.refresh_from_db()
    assert not nausea.retired


def test_a_removed_drug_name_and_scale_level_are_retired(
    catalogue: LoadReport, data_dir: Path
) -> None:
    edit(data_dir / "drug_classes.toml", '"Advil", ', "")
    edit(
        data_dir / "outcome_scales.toml",
        '  { value = 10, label = "Worst pain imaginable" },\n]\nsource = "DOMAIN.md: LOINC',
        ']\nsource = "DOMAIN.md: LOINC',
    )

    load_catalogue(data_dir)

    assert DrugName.objects.get(normalised_name="advil").retired
    assert ScaleLevel.objects.get(scale__code="pain-nrs", value=10).retired
    assert not ScaleLevel.objects.get(scale__code="pain-nrs-movement", value=10).retired


def test_a_renamed_code_retires_the_old_entry_and_creates_a_new_one(
    catalogue: LoadReport, data_dir: Path
) -> None:
    old = DrugClass.objects.get(code="salicylates")
    edit(data_dir / "drug_classes.toml", 'code = "salicylates"', 'code = "salicylate-painkillers"')
    edit(data_dir / "precare_rules.toml", '"salicylates"', '"salicylate-painkillers"')
    edit(data_dir / "screening_rules.toml", '"salicylates"', '"salicylate-painkillers"')

    load_catalogue(data_dir)

    old.refresh_from_db()
    assert old.retired
    assert not old.names.filter(retired=False).exists()
    new = DrugClass.objects.get(code="salicylate-painkillers")
    assert (new.atc_code, new.retired) == ("N02BA", False)
    assert new.names.filter(normalised_name="aspegic", retired=False).exists()
    rule = PreCareRule.objects.get()
    assert new in rule.drug_classes.all()
    assert old not in rule.drug_classes.all()


def test_a_changed_scale_membership_updates_the_scale(
    catalogue: LoadReport, data_dir: Path
) -> None:
    edit(
        data_dir / "outcome_scales.toml",
        'indications = ["wrinkles-and-lines", "dull-skin"]',
        'indications = ["wrinkles-and-lines"]',
    )

    report = load_catalogue(data_dir)

    assert (report.created, report.updated, report.retired) == (0, 1, 0)
    glogau = OutcomeScale.objects.get(code="glogau")
    assert [i.code for i in glogau.indications.all()] == ["wrinkles-and-lines"]


MALFORMED = [
    ("indications.toml", 'code = "cellulite"', 'code = "cellulite', "is not valid TOML"),
    ("protocols.toml", "version = 1\n", "\n", "'version' is missing"),
    ("side_effects.toml", 'label = "Rash"', 'lable = "Rash"', "'label' is missing"),
    (
        "side_effects.toml",
        'always_flag = true\nsource = "seed"\n',
        'alwaysflag = true\nsource = "seed"\n',
        "unknown key 'alwaysflag'",
    ),
    ("precare_rules.toml", "window_days = 7", 'window_days = "seven"', "must be a whole number"),
    ("protocols.toml", "sessions_max = 8", "sessions_max = 4", "sessions_min must be at least 1"),
    (
        "body_areas.toml",
        'view = "back"\npaired = true\nsource = "seed; DOMAIN.md: SNOMED CT 46862004"',
        'view = "side"\npaired = true\nsource = "seed; DOMAIN.md: SNOMED CT 46862004"',
        "view",
    ),
    ("body_areas.toml", 'parent = "scalp"', 'parent = "head"', "'parent' names 'head'"),
    (
        "indications.toml",
        'primary_scale = "mmasi"',
        'primary_scale = "nope"',
        "'primary_scale' names 'nope'",
    ),
    (
        "indications.toml",
        'primary_scale = "mmasi"',
        'primary_scale = "hexsel-css"',
        "does not list it",
    ),
    (
        "outcome_scales.toml",
        '{ value = 4, label = "Type IV"',
        '{ value = 5, label = "Type IV"',
        "not a point of the scale",
    ),
    (
        "outcome_scales.toml",
        '  { value = 4, label = "Type IV", description = "Only wrinkles: little unlined skin left." },\n',
        "",
        "labels each of its 4 levels",
    ),
    ("drug_classes.toml", 'atc_code = "B01AX"', 'atc_code = "B01-AX"', "An ATC code looks like"),
    ("drug_classes.toml", '"Advil", ', '"Advil", "ADVIL", ', "listed twice"),
    (
        "ingredient_classes.toml",
        'code = "other"',
        'code = "drug"',
        "its code is used by another entry",
    ),
]


@pytest.mark.parametrize(("file", "old", "new", "problem"), MALFORMED)
def test_a_malformed_file_changes_nothing_and_says_why(
    catalogue: LoadReport, data_dir: Path, file: str, old: str, new: str, problem: str
) -> None:
    edit(data_dir / "indications.toml", 'label = "Cellulite"', 'label = "Changed"')
    edit(data_dir / file, old, new)
    before = snapshot()

    with pytest.raises(CatalogueError) as raised:
        load_catalogue(data_dir)

    assert str(raised.value).startswith(f"{file}: ")
    assert problem in str(raised.value)
    assert snapshot() == before


def test_a_missing_file_is_reported(db: None, data_dir: Path) -> None:
    (data_dir / "protocols.toml").unlink()

    with pytest.raises(CatalogueError, match=r"^protocols\.toml: cannot be read"):
        load_catalogue(data_dir)

    assert not Indication.objects.exists()


def test_a_failure_while_writing_rolls_everything_back(
    catalogue: LoadReport, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot()
    edit(data_dir / "indications.toml", 'label = "Cellulite"', 'label = "Changed"')
    remove_entry(data_dir / "side_effects.toml", "nausea")

    def fail(files: object) -> list[str]:
        raise RuntimeError("disk full")

    # The last step of a load: everything else has been written by then.
    monkeypatch.setattr(loader, "_record_files", fail)

    with pytest.raises(RuntimeError):
        load_catalogue(data_dir)

    assert snapshot() == before


def test_the_command_prints_a_one_line_summary(db: None) -> None:
    out = StringIO()

    call_command("load_catalogue", stdout=out)

    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Catalogue loaded: ")
    assert "0 updated, 0 retired, 0 unchanged" in lines[0]


def test_the_command_reads_another_directory_and_refuses_a_bad_file(
    catalogue: LoadReport, data_dir: Path
) -> None:
    edit(
        data_dir / "side_effects.toml",
        'settles_within_hours = 24\nsource = "seed"\n\n[[side_effect]]\ncode = "swelling"',
        'settles_within_hours = -24\nsource = "seed"\n\n[[side_effect]]\ncode = "swelling"',
    )
    before = snapshot()

    with pytest.raises(CommandError, match=r"side_effects\.toml: side effect 'bruising': "):
        call_command("load_catalogue", data_dir=data_dir, stdout=StringIO())

    assert snapshot() == before


def test_drug_names_are_normalised_for_lookup(catalogue: LoadReport) -> None:
    assert normalise_name("  Aspégic  ") == "aspegic"
    assert normalise_name("Acetylsalicylic   ACID") == "acetylsalicylic acid"
    classes = DrugName.objects.filter(normalised_name=normalise_name("ASPEGIC")).values_list(
        "drug_class__atc_code", flat=True
    )
    assert list(classes) == ["N02BA"]
    aspirin = DrugName.objects.filter(normalised_name="aspirin").values_list(
        "drug_class__atc_code", flat=True
    )
    assert sorted(aspirin) == ["B01AC06", "N02BA"]
