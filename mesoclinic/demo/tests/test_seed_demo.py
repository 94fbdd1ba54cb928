from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.demo.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD, demo_logins
from mesoclinic.demo.generator import DEMO_CLINIC_SLUG
from mesoclinic.patients.models import Medication, Patient

pytestmark = pytest.mark.django_db


def seed_demo(*args: str, **options: object) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, **options)
    return out.getvalue()


def counts() -> tuple[int, int, int, int]:
    return (
        Clinic.objects.count(),
        User.objects.count(),
        Patient.objects.count(),
        Medication.objects.count(),
    )


def test_patients_option_gives_that_many_patients() -> None:
    output = seed_demo(patients=17, seed=5)
    clinic = Clinic.objects.get(slug=DEMO_CLINIC_SLUG)
    assert clinic.patients.count() == 17 == Patient.objects.count()
    assert clinic.time_zone == "Europe/Paris"
    assert "17 patients" in output and "seed 5" in output


def test_today_option_sets_the_reference_day() -> None:
    output = seed_demo("--today=2030-01-31", "--patients=5")
    assert "5 patients" in output and "today 2030-01-31" in output


def test_running_twice_changes_nothing() -> None:
    seed_demo(patients=12)
    before = counts()
    output = seed_demo(patients=30, seed=2)
    assert counts() == before
    assert "already present" in output


def test_negative_patients_is_refused() -> None:
    with pytest.raises(CommandError):
        seed_demo(patients=-1)
    assert counts() == (0, 0, 0, 0)


def test_demo_logins_sign_in_with_their_role_and_clinic() -> None:
    seed_demo(patients=0)
    clinic = Clinic.objects.get(slug=DEMO_CLINIC_SLUG)
    roles = {account.username: account.role for account in DEMO_ACCOUNTS}
    for username, description in demo_logins():
        user = authenticate(username=username, password=DEMO_PASSWORD)
        assert isinstance(user, User), username
        assert user.clinic == clinic
        assert user.role == roles[username]
        assert description.startswith(Role(user.role).label)
    assert sorted(roles.values()).count(Role.PRACTITIONER) >= 2
    assert set(roles.values()) == {Role.ADMIN, Role.PRACTITIONER, Role.ASSISTANT, Role.RESEARCHER}


def test_demo_logins_refuse_a_wrong_password() -> None:
    seed_demo(patients=0)
    assert authenticate(username="admin", password=DEMO_PASSWORD + "x") is None
