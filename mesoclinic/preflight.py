"""Checks run before the CLI starts work, turning the usual setup mistakes into one
sentence each (the CLI prints it and exits non-zero) instead of a traceback."""

from __future__ import annotations

import errno
import socket

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection


class PreflightError(Exception):
    """A setup problem the user can fix; the message is the whole explanation."""


def check_data_dir() -> None:
    from mesoclinic.settings import ensure_data_dir

    try:
        ensure_data_dir(settings.DATA_DIR)
    except ImproperlyConfigured as exc:
        raise PreflightError(str(exc)) from exc


def describe_database_error(exc: Exception) -> str:
    db = connection.settings_dict
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if connection.vendor == "postgresql":
        where = f"{db.get('HOST') or 'localhost'}:{db.get('PORT') or 5432}"
        return (
            f"Cannot connect to PostgreSQL at {where} (database {db.get('NAME')!r}, "
            f"user {db.get('USER')!r}): {detail}. Check that the server is running and "
            "that DATABASE_URL is right."
        )
    return f"Cannot open the SQLite database {db.get('NAME')}: {detail}."


def check_database() -> None:
    try:
        connection.ensure_connection()
    except DatabaseError as exc:
        raise PreflightError(describe_database_error(exc)) from exc


def check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PreflightError(
                    f"Port {port} on {host} is already in use; stop the program using it "
                    "or choose another port with --port."
                ) from exc
            raise PreflightError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from exc
