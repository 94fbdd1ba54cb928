"""The ``mesoclinic`` console script: a few commands of its own, and every Django
management command passed through (``mesoclinic migrate``, ``mesoclinic check``...)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

OWN_COMMANDS = {
    "demo": "migrate, load the catalogue, build the demo clinic once, serve it on 127.0.0.1:8000",
    "serve": "serve mesoclinic with gunicorn (production)",
    "backup": "write a consistent snapshot of the database and uploaded files",
    "restore": "replace the database and uploaded files with a snapshot",
}

HELP = """usage: mesoclinic COMMAND [options]

Commands:
{commands}

Any other COMMAND is a Django management command, for example:
  mesoclinic migrate         apply database migrations
  mesoclinic load_catalogue  load or update the reference catalogue
  mesoclinic seed_demo       build the demo clinic (--seed, --patients)
  mesoclinic worker          send due reminders by email until stopped (--once)
  mesoclinic scan_outbreaks  look for infection clusters and raise outbreak alerts
  mesoclinic check --deploy  check production settings
  mesoclinic help            list every management command

Configuration comes from environment variables (see README.md).
"""


def _print_help() -> None:
    commands = "\n".join(f"  {name:<26} {text}" for name, text in OWN_COMMANDS.items())
    print(HELP.format(commands=commands))


def _fail(message: str, code: int = 2) -> int:
    print(f"mesoclinic: {message}", file=sys.stderr)
    return code


def _demo(argv: Sequence[str]) -> int:
    from django.core.management import call_command

    from mesoclinic import preflight
    from mesoclinic.demo.accounts import DEMO_PASSWORD, demo_logins
    from mesoclinic.demo.otp import demo_keys
    from mesoclinic.demo.portal import demo_patient_logins

    parser = argparse.ArgumentParser(prog="mesoclinic demo", description=OWN_COMMANDS["demo"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--seed", type=int, default=1952)
    parser.add_argument("--patients", type=int, default=120)
    parser.add_argument("--no-serve", action="store_true", help="prepare the data, do not serve")
    args = parser.parse_args(argv)

    preflight.check_data_dir()
    preflight.check_database()
    if not args.no_serve:
        preflight.check_port(args.host, args.port)
    call_command("migrate", interactive=False, verbosity=0)
    call_command("load_catalogue", verbosity=0)
    call_command("seed_demo", seed=args.seed, patients=args.patients, verbosity=1)
    print(f"\nDemo logins (password for all: {DEMO_PASSWORD}):")
    for username, description in demo_logins():
        print(f"  {username:<17} {description}")
    print("\nPatients sign in to the portal with their email address and the same password:")
    for username, description in demo_patient_logins():
        print(f"  {username}  {description}")
    print(
        "\nTwo-factor sign-in is set up for every login. For the current 6-digit code run\n"
        "  mesoclinic demo_otp dr.moreau\n"
        "or add the login's key to an authenticator app (time-based, 6 digits, 30 seconds):"
    )
    for username, key in demo_keys():
        print(f"  {username:<17} {key}")
    if args.no_serve:
        return 0
    print(f"\nServing the demo clinic on http://{args.host}:{args.port}/  (Ctrl+C stops it)\n")
    call_command("runserver", f"{args.host}:{args.port}", use_reloader=False)
    return 0


def _serve(argv: Sequence[str]) -> int:
    from django.conf import settings
    from django.core.management import call_command

    from mesoclinic import preflight

    parser = argparse.ArgumentParser(prog="mesoclinic serve", description=OWN_COMMANDS["serve"])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 1) + 1))
    args = parser.parse_args(argv)

    preflight.check_data_dir()
    preflight.check_database()
    preflight.check_port(args.host, args.port)
    # Hashed, compressed copies for WhiteNoise to serve with far-future caching; only
    # changed files are copied again on the next start.
    call_command("collectstatic", interactive=False, verbosity=0)
    os.execvp(  # noqa: S606 - replaces this process with gunicorn, arguments are ours
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "mesoclinic.wsgi:application",
            "--bind",
            f"{args.host}:{args.port}",
            "--workers",
            str(args.workers),
            "--access-logfile",
            "-",
            # gunicorn's default control socket is one per machine user, under $HOME;
            # keep each installation's beside its data.
            "--control-socket",
            str(settings.DATA_DIR / "gunicorn.ctl"),
        ],
    )
    return 0  # pragma: no cover - execvp does not return


def _backup(argv: Sequence[str]) -> int:
    from mesoclinic import backup, preflight

    parser = argparse.ArgumentParser(prog="mesoclinic backup", description=OWN_COMMANDS["backup"])
    parser.add_argument(
        "--output", help="file to write (default: a dated file in DATA_DIR/backups)"
    )
    args = parser.parse_args(argv)
    preflight.check_data_dir()
    preflight.check_database()
    path = backup.create_backup(args.output)
    print(f"Backup written to {path}")
    return 0


def _restore(argv: Sequence[str]) -> int:
    from mesoclinic import backup, preflight

    parser = argparse.ArgumentParser(prog="mesoclinic restore", description=OWN_COMMANDS["restore"])
    parser.add_argument("archive", help="a file written by 'mesoclinic backup'")
    parser.add_argument("--yes", action="store_true", help="confirm replacing the current data")
    args = parser.parse_args(argv)
    if not args.yes:
        return _fail(
            "restore replaces every record and uploaded file with the snapshot's; "
            "run it again with --yes to confirm."
        )
    preflight.check_data_dir()
    preflight.check_database()
    backup.restore_backup(args.archive)
    print(f"Restored {args.archive}")
    return 0


def _django(argv: Sequence[str]) -> int:
    from django.core.management import execute_from_command_line

    execute_from_command_line(["mesoclinic", *argv])
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        _print_help()
        return 0
    command, rest = args[0], args[1:]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mesoclinic.settings")
    if command == "demo":
        os.environ.setdefault("MESOCLINIC_DEBUG", "1")

    handlers: dict[str, Callable[[Sequence[str]], int]] = {
        "demo": _demo,
        "serve": _serve,
        "backup": _backup,
        "restore": _restore,
    }
    from django.core.exceptions import ImproperlyConfigured
    from django.db import DatabaseError

    from mesoclinic.backup import BackupError
    from mesoclinic.preflight import PreflightError, describe_database_error

    try:
        import django

        django.setup()
        if command in handlers:
            return handlers[command](rest)
        return _django(args)
    except (ImproperlyConfigured, PreflightError, BackupError) as exc:
        return _fail(str(exc))
    except DatabaseError as exc:
        return _fail(describe_database_error(exc))
    except KeyboardInterrupt:
        return 130
