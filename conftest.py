"""Fixtures shared by every test under mesoclinic/ and tests/.

Named people, as in the tests of the projects we learn from: in clinic A, alice the
administrator, pat the practitioner, asha the assistant; rhea the researcher (no clinic
records); and in clinic B, bob the practitioner, whose records clinic A must never reach.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.test import Client, override_settings

from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.clinics.testing import create_user, sign_in


@pytest.fixture(scope="session", autouse=True)
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The suite runs with DEBUG off, where `{% static %}` asks the manifest storage for hashed
    names that exist only after collectstatic: collect as a deployment does, into a directory
    of this run's own so that concurrent runs cannot disturb each other."""
    # override_settings (not plain assignment) sends setting_changed, which resets a static
    # storage already built while test modules were imported.
    override_settings(STATIC_ROOT=tmp_path_factory.mktemp("static")).enable()
    call_command("collectstatic", interactive=False, verbosity=0)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """SQLite tests use a file of this run's own, not Django's in-memory default: the browser
    tests' server threads and the concurrency tests need SQLite's real locking (WAL, busy
    timeout), which an in-memory database shared between threads does not have."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(
            tmp_path_factory.mktemp("db") / "test.sqlite3"
        )


@pytest.fixture
def catalogue(db: None) -> None:
    call_command("load_catalogue", verbosity=0)


@pytest.fixture
def clinic_a(db: None) -> Clinic:
    return Clinic.objects.create(name="Clinique des Tilleuls", slug="a", time_zone="Europe/Paris")


@pytest.fixture
def clinic_b(db: None) -> Clinic:
    return Clinic.objects.create(name="Harbour Skin Clinic", slug="b", time_zone="Europe/London")


@pytest.fixture
def alice(clinic_a: Clinic) -> User:
    return create_user("alice.admin", Role.ADMIN, clinic_a)


@pytest.fixture
def pat(clinic_a: Clinic) -> User:
    return create_user("pat.practitioner", Role.PRACTITIONER, clinic_a)


@pytest.fixture
def asha(clinic_a: Clinic) -> User:
    return create_user("asha.assistant", Role.ASSISTANT, clinic_a)


@pytest.fixture
def rhea(db: None) -> User:
    return create_user("rhea.researcher", Role.RESEARCHER, None)


@pytest.fixture
def bob(clinic_b: Clinic) -> User:
    return create_user("bob.practitioner", Role.PRACTITIONER, clinic_b)


@pytest.fixture
def client_for(db: None) -> Callable[[User], Client]:
    """A test client signed in as the user, second factor verified."""
    return lambda user: sign_in(Client(), user)
