"""Backup and restore round trip, on whichever database the suite runs (SQLite or PostgreSQL).

``transactional_db``: the rows must be committed, because pg_dump and pg_restore are other
processes with their own connections.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.db import connection, connections

from mesoclinic import backup
from mesoclinic.backup import BackupError, create_backup, restore_backup
from mesoclinic.clinics.models import Clinic
from mesoclinic.patients.models import Medication, Patient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def media_root(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "data" / "media"
    settings.MEDIA_ROOT = root
    settings.DATA_DIR = tmp_path / "data"
    return root


def snapshot_tables() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    tables: dict[str, list[tuple[Any, ...]]] = {}
    with connection.cursor() as cursor:
        for name in connection.introspection.table_names(cursor):
            columns = connection.introspection.get_table_description(cursor, name)
            order = ", ".join(str(position) for position in range(1, len(columns) + 1))
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(name)} ORDER BY {order}")  # noqa: S608 - names from the schema
            tables[name] = cursor.fetchall()
    return tables


def snapshot_media(root: Path) -> dict[str, bytes | None]:
    """Every directory (None) and file (its bytes) under root."""
    return {
        str(path.relative_to(root)): path.read_bytes() if path.is_file() else None
        for path in sorted(root.rglob("*"))
    }


def make_records() -> None:
    paris = Clinic.objects.create(name="Clinique Lumière", slug="lumiere")
    lyon = Clinic.objects.create(name="Centre Rhône", slug="rhone", time_zone="Europe/Paris")
    get_user_model().objects.create_user(
        "alice", password="correct horse battery", clinic=paris, role="practitioner"
    )
    get_user_model().objects.create_user("bob", clinic=lyon, role="assistant")
    claire = Patient.objects.create(
        clinic=paris, given_name="Claire", family_name="Dubois", date_of_birth=date(1980, 5, 17)
    )
    Patient.objects.create(
        clinic=lyon, given_name="Hélène", family_name="Martin", date_of_birth=date(1975, 1, 2)
    )
    Medication.objects.create(patient=claire, name="Aspirin", dose="100 mg")
    Medication.objects.create(patient=claire, name="Levothyrox", dose="50 µg")


def change_everything(media: Path) -> None:
    paris = Clinic.objects.get(slug="lumiere")
    Clinic.objects.create(name="Late Clinic", slug="late")
    Patient.objects.filter(family_name="Dubois").update(phone="+33 6 00 00 00 00")
    Medication.objects.filter(name="Aspirin").delete()
    Patient.objects.create(
        clinic=paris, given_name="Zoé", family_name="Petit", date_of_birth=date(1990, 3, 3)
    )
    get_user_model().objects.filter(username="bob").delete()
    (media / "photos" / "claire-before.jpg").write_bytes(b"overwritten")
    (media / "consents" / "claire.pdf").unlink()
    (media / "new.txt").write_text("added after the backup")


def test_restore_brings_back_every_table_and_the_media(media_root: Path) -> None:
    make_records()
    (media_root / "photos").mkdir(parents=True)
    (media_root / "photos" / "claire-before.jpg").write_bytes(b"\xff\xd8 a photo \x00\x01")
    (media_root / "consents").mkdir()
    (media_root / "consents" / "claire.pdf").write_bytes(b"%PDF-1.7 consent")
    (media_root / "empty").mkdir()
    tables, media = snapshot_tables(), snapshot_media(media_root)

    archive = create_backup()

    assert archive.parent == media_root.parent / "backups"
    assert archive.name.startswith("mesoclinic-") and archive.name.endswith(".tar.gz")
    assert archive.stat().st_mode & 0o777 == 0o600, "patient records for this user only"
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["format"] == "mesoclinic-backup"
    assert manifest["engine"] == connection.vendor
    assert manifest["tables"] == {name: len(rows) for name, rows in tables.items()}

    change_everything(media_root)
    assert snapshot_tables() != tables
    assert snapshot_media(media_root) != media

    restore_backup(archive)

    assert snapshot_tables() == tables
    assert snapshot_media(media_root) == media
    # The restored database works through the ORM as before.
    assert list(Patient.objects.values_list("given_name", flat=True)) == ["Claire", "Hélène"]
    assert not list(media_root.parent.glob(".mesoclinic-*")), "temporary files left behind"


def test_backup_to_a_chosen_file_without_media(media_root: Path, tmp_path: Path) -> None:
    Clinic.objects.create(name="Clinique Lumière", slug="lumiere")
    tables = snapshot_tables()
    target = tmp_path / "elsewhere" / "nightly.tar.gz"

    assert create_backup(target) == target
    Clinic.objects.all().delete()
    restore_backup(str(target))

    assert snapshot_tables() == tables
    assert snapshot_media(media_root) == {}


def test_restore_of_a_file_that_is_not_a_backup_changes_nothing(
    media_root: Path, tmp_path: Path
) -> None:
    make_records()
    media_root.mkdir(parents=True)
    (media_root / "photo.jpg").write_bytes(b"photo")
    tables, media = snapshot_tables(), snapshot_media(media_root)
    not_a_backup = tmp_path / "notes.tar.gz"
    not_a_backup.write_text("shopping list")

    with pytest.raises(BackupError) as error:
        restore_backup(not_a_backup)

    assert (
        str(error.value)
        == f"{not_a_backup} is not a mesoclinic backup: it is not a .tar.gz archive."
    )
    assert snapshot_tables() == tables
    assert snapshot_media(media_root) == media


def write_archive(path: Path, entries: dict[str, bytes | None]) -> Path:
    """A .tar.gz with the given files (bytes) and directories (None), in this order."""
    with tarfile.open(path, "w:gz") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def manifest(**changes: Any) -> bytes:
    fields = {
        "format": "mesoclinic-backup",
        "format_version": 1,
        "engine": connection.vendor,
        "tables": {},
    }
    return json.dumps(fields | changes).encode()


@pytest.mark.parametrize(
    ("entries", "sentence"),
    [
        (
            {"notes.txt": b"hello"},
            "is not a mesoclinic backup: it does not start with manifest.json.",
        ),
        ({"manifest.json": b"{}"}, "is not a mesoclinic backup: its manifest.json is not ours."),
        (
            {"manifest.json": manifest(format_version=99)},
            "was written by a newer mesoclinic (backup format 99, this one reads 1); "
            "upgrade mesoclinic to restore it.",
        ),
        ({"manifest.json": manifest(), "media": None}, "is incomplete: it has no {database}."),
        (
            {"manifest.json": manifest(), "media": None, "media/../../escape.txt": b"x"},
            "holds an unexpected entry 'media/../../escape.txt'; it was not written by "
            "mesoclinic backup.",
        ),
    ],
)
def test_restore_refuses_a_wrong_archive_and_changes_nothing(
    media_root: Path, tmp_path: Path, entries: dict[str, bytes | None], sentence: str
) -> None:
    Clinic.objects.create(name="Clinique Lumière", slug="lumiere")
    media_root.mkdir(parents=True)
    (media_root / "photo.jpg").write_bytes(b"photo")
    tables, media = snapshot_tables(), snapshot_media(media_root)
    archive = write_archive(tmp_path / "suspect.tar.gz", entries)

    with pytest.raises(BackupError) as error:
        restore_backup(archive)

    assert sentence.format(database=backup.DATABASE_FILES[connection.vendor]) in str(error.value)
    assert str(error.value).startswith(str(archive))
    assert snapshot_tables() == tables
    assert snapshot_media(media_root) == media
    assert not (tmp_path / "escape.txt").exists()


def test_restore_refuses_a_backup_of_the_other_engine(media_root: Path, tmp_path: Path) -> None:
    other = "postgresql" if connection.vendor == "sqlite" else "sqlite"
    archive = write_archive(
        tmp_path / "other.tar.gz",
        {"manifest.json": manifest(engine=other), backup.DATABASE_FILES[other]: b"", "media": None},
    )
    names = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}

    with pytest.raises(BackupError) as error:
        restore_backup(archive)

    assert str(error.value) == (
        f"{archive} holds a {names[other]} database, but this installation uses "
        f"{names[connection.vendor]}; restore it where DATABASE_URL names a {names[other]} database."
    )


def test_a_database_that_fails_to_restore_leaves_data_and_media_as_they_were(
    media_root: Path, tmp_path: Path
) -> None:
    Clinic.objects.create(name="Clinique Lumière", slug="lumiere")
    media_root.mkdir(parents=True)
    (media_root / "photo.jpg").write_bytes(b"photo")
    tables, media = snapshot_tables(), snapshot_media(media_root)
    archive = write_archive(
        tmp_path / "damaged.tar.gz",
        {
            "manifest.json": manifest(),
            backup.DATABASE_FILES[connection.vendor]: b"not a database at all\n" * 100,
            "media": None,
            "media/other.jpg": b"another photo",
        },
    )

    with pytest.raises(BackupError) as error:
        restore_backup(archive)

    expected = {
        "sqlite": f"{archive} holds a damaged SQLite database (file is not a database).",
        "postgresql": "pg_restore failed: input file does not appear to be a valid archive",
    }
    assert str(error.value) == expected[connection.vendor]
    assert snapshot_tables() == tables
    assert snapshot_media(media_root) == media


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="pg_dump runs only for PostgreSQL"
)


@postgresql_only
def test_a_failing_pg_dump_reports_its_error_and_leaves_no_file(
    media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection.ensure_connection()  # Django keeps this connection; pg_dump gets the bad port
    monkeypatch.setitem(connection.settings_dict, "PORT", "1")

    with pytest.raises(BackupError) as error:
        create_backup()

    assert str(error.value).startswith(
        'pg_dump failed: connection to server at "127.0.0.1", port 1 failed: Connection refused'
    )
    assert list((media_root.parent / "backups").iterdir()) == []


@postgresql_only
def test_a_missing_pg_dump_is_named(
    media_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))

    with pytest.raises(BackupError, match=r"^pg_dump was not found; install the PostgreSQL client"):
        create_backup()


@postgresql_only
def test_the_snapshot_is_consistent_while_rows_are_written(media_root: Path) -> None:
    """pg_dump reads the very snapshot whose rows the manifest counts, however busy the
    server is meanwhile."""
    stop = threading.Event()
    written = threading.Event()

    def write_clinics() -> None:
        try:
            number = 0
            while not stop.is_set():
                Clinic.objects.create(name=f"Clinic {number}", slug=f"clinic-{number}")
                number += 1
                written.set()
        finally:
            connections.close_all()  # this thread's connection, before the test database goes

    writer = threading.Thread(target=write_clinics)
    writer.start()
    try:
        assert written.wait(timeout=10)
        archive = create_backup()
    finally:
        stop.set()
        writer.join()
    total = Clinic.objects.count()
    with tarfile.open(archive) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]

    restore_backup(archive)

    restored = Clinic.objects.count()
    assert restored == manifest["tables"]["clinics_clinic"]
    assert 0 < restored < total, "the writer was not writing during the backup"


def test_a_backup_that_cannot_be_written_says_where(media_root: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")

    with pytest.raises(BackupError) as error:
        create_backup(tmp_path / "a-file" / "nightly.tar.gz")

    assert str(error.value) == (
        f"Cannot write the backup to {tmp_path}/a-file/nightly.tar.gz: "
        f"{tmp_path}/a-file is not a directory."
    )
