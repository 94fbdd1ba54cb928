from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import AnonymousUser
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from django.test import Client, RequestFactory
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from mesoclinic.clinics.models import Clinic, Role, User
from mesoclinic.courses.models import Appointment, CoursePlan
from mesoclinic.demo.accounts import DEMO_ACCOUNTS, DEMO_PASSWORD, LONDON, demo_logins
from mesoclinic.demo.generator import DEMO_CLINIC_SLUG
from mesoclinic.demo.history import PATIENT_NOTE
from mesoclinic.formulas.models import Formula, Lot, LotUse
from mesoclinic.patients.models import Medication, Patient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("catalogue")]


def seed_demo(*args: str, **options: object) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out, **options)
    return out.getvalue()


def counts() -> tuple[int, ...]:
    return (
        Clinic.objects.count(),
        User.objects.count(),
        Patient.objects.count(),
        Medication.objects.count(),
        Formula.objects.count(),
        Lot.objects.count(),
        LotUse.objects.count(),
        CoursePlan.objects.count(),
        Appointment.objects.count(),
    )


def test_patients_option_gives_that_many_patients_across_both_clinics() -> None:
    output = seed_demo(patients=17, seed=5)
    clinic = Clinic.objects.get(slug=DEMO_CLINIC_SLUG)
    london = Clinic.objects.get(slug=LONDON)
    # Besides the Paris clinic's former patients of the synthetic history, counted apart.
    history = Patient.objects.filter(notes=PATIENT_NOTE)
    assert Patient.objects.exclude(notes=PATIENT_NOTE).count() == 17
    assert (clinic.patients.exclude(notes=PATIENT_NOTE).count(), london.patients.count()) == (11, 6)
    assert (clinic.time_zone, london.time_zone) == ("Europe/Paris", "Europe/London")
    assert "17 patients" in output and "seed 5" in output
    assert f"{Formula.objects.count()} formulas" in output
    plans = CoursePlan.objects.exclude(patient__in=history)
    assert f"{plans.count()} course plans" in output
    assert f"{Appointment.objects.exclude(patient__in=history).count()} appointments" in output
    assert f"synthetic history of {history.count()} past courses" in output
    assert plans.exists()


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
    assert counts() == (0,) * 9


def test_demo_logins_sign_in_with_their_role_and_clinic() -> None:
    seed_demo(patients=0)
    accounts = {account.username: account for account in DEMO_ACCOUNTS}
    for username, description in demo_logins():
        user = authenticate(sign_in_request(), username=username, password=DEMO_PASSWORD)
        assert isinstance(user, User), username
        assert user.clinic == Clinic.objects.get(slug=accounts[username].clinic)
        assert user.role == accounts[username].role
        assert description.startswith(Role(user.role).label)
    roles = [account.role for account in DEMO_ACCOUNTS]
    assert roles.count(Role.PRACTITIONER) >= 2
    assert set(roles) == {Role.ADMIN, Role.PRACTITIONER, Role.ASSISTANT, Role.RESEARCHER}


def test_demo_logins_refuse_a_wrong_password() -> None:
    seed_demo(patients=0)
    assert authenticate(sign_in_request(), username="admin", password=DEMO_PASSWORD + "x") is None


def sign_in_request() -> HttpRequest:
    # django-axes counts failures per request, so authenticate needs one; the audit of a
    # failure asks who was signed in.
    request = RequestFactory().post("/login/")
    request.user = AnonymousUser()
    return request


def demo_otp(username: str) -> str:
    out = StringIO()
    call_command("demo_otp", username, stdout=out)
    return out.getvalue().strip()


def test_demo_otp_prints_a_code_the_device_accepts() -> None:
    seed_demo(patients=0)
    code = demo_otp("dr.moreau")
    assert len(code) == 6 and code.isdigit()
    device = TOTPDevice.objects.get(user__username="dr.moreau")
    assert device.verify_token(code)


def test_demo_otp_signs_a_demo_user_in_through_the_pages() -> None:
    seed_demo(patients=0)
    client = Client()
    client.post(reverse("login"), {"username": "dr.patel", "password": DEMO_PASSWORD})
    assert client.get(reverse("home"))["Location"].startswith(reverse("account:two-factor"))
    client.post(reverse("account:two-factor"), {"code": demo_otp("dr.patel")})
    assert client.get(reverse("clinics:staff")).status_code == 200


@pytest.mark.parametrize(
    ("username", "message"),
    [("nobody", "not a demo login"), ("dr.moreau", "no user dr.moreau yet")],
)
def test_demo_otp_refuses_unknown_users(username: str, message: str) -> None:
    with pytest.raises(CommandError, match=message):
        demo_otp(username)


def test_demo_otp_refuses_a_user_without_a_device() -> None:
    seed_demo(patients=0)
    TOTPDevice.objects.filter(user__username="assistant").delete()
    with pytest.raises(CommandError, match="has no two-factor device"):
        demo_otp("assistant")


def test_demo_otp_refuses_real_staff(alice: User) -> None:
    TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)
    with pytest.raises(CommandError, match="not a demo login"):
        demo_otp(alice.username)
