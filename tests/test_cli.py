"""The ``mesoclinic`` command as a user runs it: in its own process, configured by the
environment, answering setup mistakes with one sentence and no traceback."""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tests.cli_support import assert_fails_with, environment, mesoclinic

CONSOLE_SCRIPT = Path(sys.executable).with_name("mesoclinic")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.mark.parametrize(
    "command", [[sys.executable, "-m", "mesoclinic"], [str(CONSOLE_SCRIPT)]], ids=["-m", "script"]
)
def test_help_lists_the_commands(command: list[str]) -> None:
    result = subprocess.run(
        [*command, "--help"], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.returncode == 0
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")}
    assert {"demo", "serve", "backup", "restore"} <= listed


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        (
            "mysql://clinic:hunter2@db/clinic",
            "DATABASE_URL names a database mesoclinic does not support (mysql://); "
            "use PostgreSQL or SQLite",
        ),
        (
            "postgres//clinic:hunter2@db/clinic",
            "DATABASE_URL is not a URL; write it as postgres://",
        ),
        ("postgres://clinic:hunter2@db:port/clinic", "DATABASE_URL cannot be read ("),
        ("sqlite:///clinic.sqlite3", "DATABASE_URL names a relative SQLite path (clinic.sqlite3)"),
    ],
)
def test_a_wrong_database_url_is_one_sentence(data_dir: Path, url: str, sentence: str) -> None:
    result = mesoclinic("migrate", data_dir=data_dir, DATABASE_URL=url)

    assert_fails_with(result, sentence)
    assert "hunter2" not in result.stderr
    assert not (data_dir.parent / "clinic.sqlite3").exists()


@pytest.mark.parametrize("command", [["migrate"], ["serve", "--port", "0"], ["backup"]])
def test_an_unreachable_postgresql_is_one_sentence(data_dir: Path, command: list[str]) -> None:
    result = mesoclinic(
        *command, data_dir=data_dir, DATABASE_URL="postgres://clinic:hunter2@127.0.0.1:1/clinic"
    )

    assert_fails_with(
        result,
        "Cannot connect to PostgreSQL at 127.0.0.1:1 (database 'clinic', user 'clinic'): "
        "Connection refused; check that the server is running and that DATABASE_URL names "
        "the right host, port, database and user.",
    )
    assert "hunter2" not in result.stderr


@pytest.mark.parametrize(
    ("command", "env"),
    [
        (["serve"], {}),
        (["backup"], {}),
        (["check"], {"MESOCLINIC_DEBUG": "1", "MESOCLINIC_SECRET_KEY": None}),
        (["demo", "--no-serve"], {"MESOCLINIC_DEBUG": None, "MESOCLINIC_SECRET_KEY": None}),
    ],
)
def test_an_unwritable_data_directory_is_one_sentence(
    tmp_path: Path, command: list[str], env: dict[str, str | None]
) -> None:
    # A path under a regular file: root writes through chmod, but not through this.
    (tmp_path / "not-a-directory").write_text("")
    data_dir = tmp_path / "not-a-directory" / "data"

    result = mesoclinic(*command, data_dir=data_dir, **env)

    assert_fails_with(
        result,
        f"The data directory {data_dir} is not writable (Not a directory); "
        "set MESOCLINIC_DATA_DIR to a directory this user can write.",
    )


def test_a_database_in_an_unwritable_place_is_one_sentence(tmp_path: Path) -> None:
    (tmp_path / "not-a-directory").write_text("")
    data_dir = tmp_path / "not-a-directory" / "data"

    result = mesoclinic("migrate", data_dir=data_dir)

    assert_fails_with(
        result,
        f"Cannot open the SQLite database {data_dir}/mesoclinic.sqlite3: unable to open "
        "database file; check that its directory exists and that this user can write to it.",
    )


@pytest.mark.parametrize(
    ("command", "env"),
    [(["serve"], {}), (["demo"], {"MESOCLINIC_DEBUG": None, "MESOCLINIC_SECRET_KEY": None})],
)
def test_a_port_in_use_is_one_sentence(
    data_dir: Path, busy_port: int, command: list[str], env: dict[str, str | None]
) -> None:
    result = mesoclinic(*command, "--port", str(busy_port), data_dir=data_dir, **env)

    assert_fails_with(
        result,
        f"Port {busy_port} on 127.0.0.1 is already in use; stop the program using it or "
        "choose another port with --port.",
    )


def test_a_database_without_tables_asks_for_migrate(data_dir: Path) -> None:
    data_dir.mkdir()

    result = mesoclinic(
        "shell",
        "-c",
        "from mesoclinic.clinics.models import Clinic; Clinic.objects.count()",
        data_dir=data_dir,
    )

    assert_fails_with(
        result,
        "The database does not match this version of mesoclinic (no such table: "
        "clinics_clinic); run 'mesoclinic migrate' first.",
    )


def notes(data_dir: Path) -> list[str]:
    with closing(sqlite3.connect(data_dir / "mesoclinic.sqlite3")) as db:
        return [text for (text,) in db.execute("SELECT text FROM note ORDER BY text")]


def test_backup_then_restore_needs_yes_and_brings_the_data_back(
    data_dir: Path, tmp_path: Path
) -> None:
    """Through the command line, on a SQLite file in WAL mode (the in-process tests use the
    suite's in-memory database)."""
    data_dir.mkdir()
    with closing(sqlite3.connect(data_dir / "mesoclinic.sqlite3")) as db, db:
        db.execute("CREATE TABLE note (text TEXT)")
        db.execute("INSERT INTO note VALUES ('before')")
    (data_dir / "media").mkdir()
    (data_dir / "media" / "photo.jpg").write_bytes(b"before")
    archive = tmp_path / "nightly.tar.gz"

    backed_up = mesoclinic("backup", "--output", str(archive), data_dir=data_dir)
    assert backed_up.returncode == 0, backed_up.stderr
    assert backed_up.stdout == f"Backup written to {archive}\n"

    with closing(sqlite3.connect(data_dir / "mesoclinic.sqlite3")) as db, db:
        db.execute("INSERT INTO note VALUES ('after')")
    (data_dir / "media" / "photo.jpg").write_bytes(b"after")

    refused = mesoclinic("restore", str(archive), data_dir=data_dir)
    assert_fails_with(
        refused,
        "restore replaces every record and uploaded file with the snapshot's; "
        "run it again with --yes to confirm.",
    )
    assert notes(data_dir) == ["after", "before"]
    assert (data_dir / "media" / "photo.jpg").read_bytes() == b"after"

    restored = mesoclinic("restore", str(archive), "--yes", data_dir=data_dir)
    assert restored.returncode == 0, restored.stderr
    assert restored.stdout == f"Restored {archive}\n"
    assert notes(data_dir) == ["before"]
    assert (data_dir / "media" / "photo.jpg").read_bytes() == b"before"


def test_backup_of_a_busy_sqlite_database_is_consistent(data_dir: Path, tmp_path: Path) -> None:
    """The server keeps writing while the backup reads: neither waits for the other to fail,
    and the copy is a whole database whose counts the manifest gives."""
    data_dir.mkdir()
    database = data_dir / "mesoclinic.sqlite3"
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("CREATE TABLE note (text TEXT)")
    stop, written = threading.Event(), threading.Event()

    def write_notes() -> None:
        with closing(sqlite3.connect(database, timeout=20)) as db:
            while not stop.is_set():
                with db:
                    db.execute("INSERT INTO note VALUES ('a note')")
                written.set()

    writer = threading.Thread(target=write_notes)
    writer.start()
    try:
        assert written.wait(timeout=10)
        result = mesoclinic("backup", "--output", str(tmp_path / "busy.tar.gz"), data_dir=data_dir)
    finally:
        stop.set()
        writer.join()

    assert result.returncode == 0, result.stderr
    with tarfile.open(tmp_path / "busy.tar.gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    manifest = json.loads((tmp_path / "unpacked" / "manifest.json").read_text())
    with closing(sqlite3.connect(tmp_path / "unpacked" / "database.sqlite3")) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        copied = copy.execute("SELECT count(*) FROM note").fetchone()[0]
    assert manifest["tables"] == {"note": copied}
    assert 0 < copied < len(notes(data_dir)), "the writer was not writing during the backup"


def test_restore_of_a_file_that_is_not_a_backup_is_one_sentence(
    data_dir: Path, tmp_path: Path
) -> None:
    not_a_backup = tmp_path / "notes.txt"
    not_a_backup.write_text("shopping list")

    result = mesoclinic("restore", str(not_a_backup), "--yes", data_dir=data_dir)

    assert_fails_with(
        result, f"{not_a_backup} is not a mesoclinic backup: it is not a .tar.gz archive."
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(url: str) -> tuple[int, str, str]:
    """Status, Location header and body, without following redirects."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    try:
        with urllib.request.build_opener(NoRedirect).open(url, timeout=5) as response:
            return response.status, response.headers.get("Location", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", ""), ""


def test_serve_starts_gunicorn_and_answers_health_over_plain_http(
    data_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mesoclinic", "serve", "--port", str(port), "--workers", "1"],
        # Production: HTTPS everywhere but /health. HOME: gunicorn (25.1+) puts its control
        # socket there.
        env=environment(data_dir, MESOCLINIC_INSECURE_HTTP=None, HOME=str(tmp_path)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = get(f"http://127.0.0.1:{port}/health")
                break
            except OSError:
                assert server.poll() is None, server.stderr.read() if server.stderr else ""
                assert time.monotonic() < deadline, "gunicorn did not answer within 60 s"
                time.sleep(0.2)
        assert health[0] == 200
        assert json.loads(health[2]) == {"status": "ok"}
        assert get(f"http://127.0.0.1:{port}/login/")[:2] == (
            301,
            f"https://127.0.0.1:{port}/login/",
        )
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_a_port_whose_server_stopped_a_moment_ago_counts_as_free() -> None:
    """The closed connection lingers in TIME_WAIT; gunicorn can bind over it, so the
    preflight check must not call the port busy."""
    from mesoclinic.preflight import check_port

    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)) as client:
            served, _ = listener.accept()
            served.close()  # the server closes first: its side enters TIME_WAIT
            client.recv(1)

    check_port("127.0.0.1", port)
