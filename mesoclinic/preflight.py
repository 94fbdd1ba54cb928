"""Checks run before the CLI starts work, turning the usual setup mistakes into one
sentence each (the CLI prints it and exits non-zero) instead of a traceback."""

from __future__ import annotations

import errno
import socket

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created


class PreflightError(Exception):
    """A setup problem the user can fix; the message is the whole explanation."""


# Database aliases this process has connected to: an error after that is about a statement,
# not about reaching the database. The connection object cannot tell, because Django closes
# it when a management command ends.
_connected: set[str] = set()


def _remember_connection(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    _connected.add(connection.alias)


connection_created.connect(_remember_connection)


def check_data_dir() -> None:
    from mesoclinic.settings import ensure_data_dir

    try:
        ensure_data_dir(settings.DATA_DIR)
    except ImproperlyConfigured as exc:
        raise PreflightError(str(exc)) from exc


def describe_database_error(exc: Exception) -> str:
    """One sentence for a database error that reached the command line."""
    db = connection.settings_dict
    reason = _reason(exc)
    if connection.alias in _connected:
        if "no such table" in reason or "does not exist" in reason:
            return (
                f"The database does not match this version of mesoclinic ({reason}); "
                "run 'mesoclinic migrate' first."
            )
        return f"The database refused the command: {reason}."
    if connection.vendor == "postgresql":
        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
        return (
            f"Cannot connect to PostgreSQL at {where} (database {db.get('NAME')!r}, "
            f"user {db.get('USER')!r}): {reason}; check that the server is running and "
            "that DATABASE_URL names the right host, port, database and user."
        )
    return (
        f"Cannot open the SQLite database {db.get('NAME')}: {reason}; check that its "
        "directory exists and that this user can write to it."
    )


def _reason(exc: Exception) -> str:
    """The useful end of a driver's message: psycopg wraps the server's answer in
    'connection to server at "host", port N failed: FATAL:  ...' over several lines."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    reason = lines[0].rpartition(" failed: ")[2]
    return reason.removeprefix("FATAL:").strip()


def check_database() -> None:
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        raise PreflightError(describe_database_error(exc)) from exc


def check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # As gunicorn and runserver do: without it, a server stopped a moment ago would
        # still hold the port (TIME_WAIT) for this probe, though not for the server itself.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PreflightError(
                    f"Port {port} on {host} is already in use; stop the program using it "
                    "or choose another port with --port."
                ) from exc
            raise PreflightError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from exc
