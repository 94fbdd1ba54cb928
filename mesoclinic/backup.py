"""Backups: one .tar.gz holding the database and the uploaded files, written while the
server runs (``mesoclinic backup``) and brought back by ``mesoclinic restore``.

Archive layout (manifest.json comes first, so that restore can reject a wrong file before
unpacking the rest)::

    manifest.json       format and version, mesoclinic version, engine, creation time (UTC),
                        row count per table
    database.sqlite3    SQLite: a copy made with SQLite's online backup API
    database.pgdump     PostgreSQL: pg_dump's custom format
    media/...           the uploaded files (MEDIA_ROOT)
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import zlib
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from django.conf import settings
from django.db import connection, transaction

import mesoclinic

FORMAT = "mesoclinic-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MEDIA = "media"
DATABASE_FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
ENGINE_NAMES = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}


class BackupError(Exception):
    """A backup or restore that cannot go ahead; the message is the whole explanation."""


def create_backup(output: str | Path | None = None) -> Path:
    """Write the database and MEDIA_ROOT to one archive and return its path."""
    engine = connection.vendor  # settings allow only "sqlite" and "postgresql"
    created = datetime.now(UTC)
    dest = Path(
        output
        or Path(settings.DATA_DIR) / "backups" / f"mesoclinic-{created:%Y%m%dT%H%M%SZ}.tar.gz"
    ).absolute()
    media_root = Path(settings.MEDIA_ROOT).absolute()
    if dest.is_relative_to(media_root):
        raise BackupError(
            f"Write the backup outside the media directory {media_root}; "
            "otherwise it would contain itself."
        )
    if dest.parent.exists() and not dest.parent.is_dir():  # mkdir would say "File exists"
        raise BackupError(f"Cannot write the backup to {dest}: {dest.parent} is not a directory.")
    try:
        # Patient records: readable by this user only.
        dest.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # The work happens beside the destination: no copy of the database lands in a small
        # /tmp, and the finished archive is renamed into place, so a file with the final
        # name is always complete.
        with tempfile.TemporaryDirectory(prefix=".mesoclinic-backup-", dir=dest.parent) as tmp:
            work = Path(tmp)
            db_file = work / DATABASE_FILES[engine]
            tables = _dump_sqlite(db_file) if engine == "sqlite" else _dump_postgresql(db_file)
            manifest = {
                "format": FORMAT,
                "format_version": FORMAT_VERSION,
                "mesoclinic_version": mesoclinic.__version__,
                "engine": engine,
                "created_at": created.isoformat(),
                "tables": tables,
            }
            partial = work / dest.name
            partial.touch(mode=0o600)
            with tarfile.open(partial, "w:gz") as tar:
                data = json.dumps(manifest, indent=2, sort_keys=True).encode()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mtime, info.mode = len(data), int(created.timestamp()), 0o644
                tar.addfile(info, io.BytesIO(data))
                tar.add(db_file, arcname=db_file.name)
                # After the database: a file uploaded meanwhile is in the archive without its
                # row, which is harmless; the other order could lose a row's file.
                if media_root.is_dir():
                    tar.add(media_root, arcname=MEDIA, filter=_only_files_and_dirs)
                else:
                    empty = tarfile.TarInfo(MEDIA)
                    empty.type, empty.mode, empty.mtime = tarfile.DIRTYPE, 0o755, info.mtime
                    tar.addfile(empty)
            os.replace(partial, dest)
    except OSError as exc:
        raise BackupError(f"Cannot write the backup to {dest}: {_describe(exc)}.") from exc
    return dest


def restore_backup(archive: str | Path) -> None:
    """Replace the database and MEDIA_ROOT with the archive's; on any error, change nothing."""
    engine = connection.vendor
    path = Path(archive)
    if not path.is_file():
        raise BackupError(f"{path} does not exist or is not a file.")
    media_root = Path(settings.MEDIA_ROOT).absolute()
    try:
        media_root.mkdir(parents=True, exist_ok=True)
        # Unpacked beside MEDIA_ROOT so that the media swap below is a rename within one
        # filesystem; the temporary directory also takes the previous media away at the end.
        with tempfile.TemporaryDirectory(
            prefix=".mesoclinic-restore-", dir=media_root.parent
        ) as tmp:
            staging = Path(tmp) / "archive"
            _unpack(path, staging, engine)
            previous = Path(tmp) / "previous-media"
            media_root.rename(previous)
            try:
                (staging / MEDIA).rename(media_root)
            except OSError:
                previous.rename(media_root)
                raise
            try:
                if engine == "sqlite":
                    _restore_sqlite(staging / DATABASE_FILES[engine], path)
                else:
                    _restore_postgresql(staging / DATABASE_FILES[engine])
            except BaseException:
                # The database kept its data (SQLite copies in one transaction, pg_restore
                # runs in one), so put the media back too.
                media_root.rename(Path(tmp) / "rejected-media")
                previous.rename(media_root)
                raise
    except OSError as exc:
        raise BackupError(f"Cannot restore {path}: {_describe(exc)}.") from exc


def _describe(exc: OSError) -> str:
    if exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    return exc.strerror or str(exc)


def _only_files_and_dirs(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Restore accepts only regular files and directories (a link could point anywhere on
    # the server), so a backup holding anything else would be one that cannot be restored.
    if not (info.isfile() or info.isdir()):
        raise BackupError(
            f"The media directory holds {info.name.removeprefix(MEDIA + '/')}, which is not a "
            "regular file or directory; replace it with a copy of what it points to."
        )
    return info


def _dump_sqlite(target: Path) -> dict[str, int]:
    connection.ensure_connection()
    with closing(sqlite3.connect(target)) as snapshot:
        # One step copies every page inside one read transaction, so the copy is consistent
        # while the server keeps writing (WAL lets it).
        connection.connection.backup(snapshot)
        names = [
            row[0]
            for row in snapshot.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
                " AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name"
            )
        ]
        return {
            name: snapshot.execute(
                f"SELECT count(*) FROM {connection.ops.quote_name(name)}"  # noqa: S608 - a table name from the schema
            ).fetchone()[0]
            for name in names
        }


def _dump_postgresql(target: Path) -> dict[str, int]:
    with transaction.atomic(), connection.cursor() as cursor:
        # REPEATABLE READ pins one snapshot for the whole transaction; exporting it lets
        # pg_dump read exactly the rows counted here, whatever the server writes meanwhile.
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        (snapshot,) = cursor.fetchone()
        tables: dict[str, int] = {}
        for name in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT count(*) FROM {connection.ops.quote_name(name)}")  # noqa: S608 - a table name from the schema
            tables[name] = cursor.fetchone()[0]
        _run_postgres_tool(
            "pg_dump",
            ["--format=custom", "--no-owner", f"--snapshot={snapshot}", f"--file={target}"],
        )
    return tables


def _unpack(archive: Path, staging: Path, engine: str) -> None:
    """Check the archive while unpacking it into ``staging``; raise BackupError if it is
    not a complete backup for this engine. Only ``staging`` is written."""
    not_ours = f"{archive} is not a mesoclinic backup"
    expected = {DATABASE_FILES[engine], MEDIA}
    manifest_read = False
    try:
        with tarfile.open(archive, "r:gz") as tar:
            first = tar.next()
            reader = (
                tar.extractfile(first) if first is not None and first.name == MANIFEST else None
            )
            if reader is None:
                raise BackupError(f"{not_ours}: it does not start with {MANIFEST}.")
            _check_manifest(reader.read(), archive, engine)
            manifest_read = True
            while (member := tar.next()) is not None:
                _unpack_member(tar, member, staging, archive, engine)
                expected.discard(member.name)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        if not manifest_read:
            raise BackupError(f"{not_ours}: it is not a .tar.gz archive.") from exc
        raise BackupError(f"{archive} is damaged or truncated ({exc}).") from exc
    if expected:
        raise BackupError(f"{archive} is incomplete: it has no {', '.join(sorted(expected))}.")


def _check_manifest(data: bytes, archive: Path, engine: str) -> None:
    try:
        manifest: Any = json.loads(data)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{archive} is not a mesoclinic backup: its {MANIFEST} is not ours.")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise BackupError(
            f"{archive} was written by a newer mesoclinic (backup format {version}, "
            f"this one reads {FORMAT_VERSION}); upgrade mesoclinic to restore it."
        )
    if manifest.get("engine") != engine:
        named = manifest.get("engine")
        theirs = ENGINE_NAMES.get(str(named), repr(named))
        raise BackupError(
            f"{archive} holds a {theirs} database, but this installation uses "
            f"{ENGINE_NAMES[engine]}; restore it where DATABASE_URL names a {theirs} database."
        )


def _unpack_member(
    tar: tarfile.TarFile, member: tarfile.TarInfo, staging: Path, archive: Path, engine: str
) -> None:
    # Our own writer puts only these entries in an archive; refusing everything else keeps a
    # crafted archive from writing outside the staging directory.
    name = PurePosixPath(member.name)
    allowed = (member.isfile() and member.name == DATABASE_FILES[engine]) or (
        name.parts[0] == MEDIA
        and (member.isfile() or member.isdir())
        and not name.is_absolute()
        and ".." not in name.parts
    )
    if not allowed:
        raise BackupError(
            f"{archive} holds an unexpected entry {member.name!r}; it was not "
            "written by mesoclinic backup."
        )
    target = staging.joinpath(*name.parts)
    if member.isdir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    assert source is not None  # a regular file always has a reader
    with source, target.open("wb") as out:
        shutil.copyfileobj(source, out)


def _restore_sqlite(snapshot_file: Path, archive: Path) -> None:
    connection.ensure_connection()
    try:
        with closing(sqlite3.connect(snapshot_file)) as snapshot:
            # Copies every page into the live database inside one write transaction: other
            # connections see the old database or the restored one, never a mixture.
            snapshot.backup(connection.connection)
    except sqlite3.Error as exc:
        raise BackupError(f"{archive} holds a damaged SQLite database ({exc}).") from exc


def _restore_postgresql(dump_file: Path) -> None:
    # One transaction: if any statement fails, the database keeps its current data.
    _run_postgres_tool(
        "pg_restore",
        ["--clean", "--if-exists", "--no-owner", "--single-transaction", str(dump_file)],
    )


def _run_postgres_tool(program: str, args: list[str]) -> None:
    db = connection.settings_dict
    command = [program, "--no-password", *args, f"--dbname={db['NAME']}"]
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            command.append(f"{option}={db[key]}")
    env = os.environ.copy()
    if db.get("PASSWORD"):
        # The environment, not the command line, where other users could read it.
        env["PGPASSWORD"] = str(db["PASSWORD"])
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - our own arguments
    except FileNotFoundError as exc:
        raise BackupError(
            f"{program} was not found; install the PostgreSQL client tools "
            "(on Debian: apt-get install postgresql-client) and try again."
        ) from exc
    if result.returncode != 0:
        lines = [line.strip() for line in result.stderr.splitlines() if line.strip()]
        reason = lines[0] if lines else f"exit status {result.returncode}"
        reason = reason.removeprefix(f"{program}: ").removeprefix("error: ")
        raise BackupError(f"{program} failed: {reason}")
