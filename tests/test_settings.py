"""Settings from the environment: production refuses to start without what it needs, says so
in one sentence, and passes Django's deployment checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from mesoclinic.env import env_bool, env_int, env_list, env_str
from tests.cli_support import assert_fails_with, mesoclinic

PRODUCTION_KEY = "a-production-key-" + "k7Rq2xZp9LmW4vNt8sYb3HcJ6dFg1QeUo5Ai0" * 2


@pytest.mark.parametrize("debug", ["0", None], ids=["debug-off", "debug-unset"])
def test_production_refuses_to_start_without_a_secret_key(
    tmp_path: Path, debug: str | None
) -> None:
    result = mesoclinic(
        "check", data_dir=tmp_path, MESOCLINIC_DEBUG=debug, MESOCLINIC_SECRET_KEY=None
    )

    assert_fails_with(
        result,
        "MESOCLINIC_SECRET_KEY (or MESOCLINIC_SECRET_KEY_FILE) must be set when "
        "MESOCLINIC_DEBUG is off; generate one with: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'",
    )


def test_production_refuses_a_short_secret_key(tmp_path: Path) -> None:
    result = mesoclinic("check", data_dir=tmp_path, MESOCLINIC_SECRET_KEY="changeme")

    assert_fails_with(result, "MESOCLINIC_SECRET_KEY must be at least 50 characters long.")


def test_a_secret_key_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "secrets" / "key"

    result = mesoclinic(
        "check",
        data_dir=tmp_path,
        MESOCLINIC_SECRET_KEY=None,
        MESOCLINIC_SECRET_KEY_FILE=str(missing),
    )

    assert_fails_with(
        result,
        f"MESOCLINIC_SECRET_KEY_FILE points to {missing}, which cannot be read "
        "(No such file or directory).",
    )


def test_a_mistyped_switch_is_named(tmp_path: Path) -> None:
    result = mesoclinic("check", data_dir=tmp_path, MESOCLINIC_DEBUG="maybe")

    assert_fails_with(
        result, "MESOCLINIC_DEBUG must be one of 1/0, true/false, yes/no or on/off, not 'maybe'."
    )


def test_production_settings_pass_the_deployment_checks(tmp_path: Path) -> None:
    result = mesoclinic(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        data_dir=tmp_path,
        MESOCLINIC_DEBUG="0",
        MESOCLINIC_SECRET_KEY=PRODUCTION_KEY,
        MESOCLINIC_INSECURE_HTTP=None,
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_demo_mode_keeps_one_generated_key_in_the_data_directory(tmp_path: Path) -> None:
    show_key = ("shell", "-c", "from django.conf import settings; print(settings.SECRET_KEY)")
    env: dict[str, str | None] = {"MESOCLINIC_DEBUG": "1", "MESOCLINIC_SECRET_KEY": None}

    first = mesoclinic(*show_key, data_dir=tmp_path, **env)
    second = mesoclinic(*show_key, data_dir=tmp_path, **env)

    key = (tmp_path / "secret_key").read_text().strip()
    assert len(key) >= 50
    assert (tmp_path / "secret_key").stat().st_mode & 0o777 == 0o600
    assert first.stdout.splitlines()[-1] == second.stdout.splitlines()[-1] == key


def test_env_str_reads_a_secret_from_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "password").write_text("s3cret\n")
    monkeypatch.setenv("MESOCLINIC_EMAIL_PASSWORD", "from-the-variable")
    monkeypatch.setenv("MESOCLINIC_EMAIL_PASSWORD_FILE", str(tmp_path / "password"))

    assert env_str("MESOCLINIC_EMAIL_PASSWORD") == "s3cret"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("Yes", True), (" on ", True), ("0", False), ("off", False), ("", False)],
)
def test_env_bool_reads_the_usual_spellings(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool
) -> None:
    monkeypatch.setenv("MESOCLINIC_SWITCH", raw)

    assert env_bool("MESOCLINIC_SWITCH", default=not expected) is expected


def test_env_helpers_fall_back_to_their_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MESOCLINIC_UNSET", raising=False)
    monkeypatch.setenv("MESOCLINIC_BLANK_NUMBER", " ")

    assert env_bool("MESOCLINIC_UNSET", default=True) is True
    assert env_int("MESOCLINIC_UNSET", 25) == 25
    assert env_int("MESOCLINIC_BLANK_NUMBER", 25) == 25
    assert env_list("MESOCLINIC_UNSET", ["localhost"]) == ["localhost"]
    assert env_str("MESOCLINIC_UNSET", "fallback") == "fallback"


def test_env_int_and_env_list_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESOCLINIC_PORT", "587")
    monkeypatch.setenv("MESOCLINIC_HOSTS", " clinic.example, ,www.clinic.example ")

    assert env_int("MESOCLINIC_PORT", 25) == 587
    assert env_list("MESOCLINIC_HOSTS", []) == ["clinic.example", "www.clinic.example"]


def test_env_int_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESOCLINIC_EMAIL_PORT", "twenty-five")

    with pytest.raises(ImproperlyConfigured) as error:
        env_int("MESOCLINIC_EMAIL_PORT", 25)

    assert str(error.value) == "MESOCLINIC_EMAIL_PORT must be a whole number, not 'twenty-five'."
