"""Building signed-in users for tests, as the application would have them."""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from mesoclinic.clinics.models import Clinic, Role, User

PASSWORD = "correct horse battery staple"


def create_user(username: str, role: Role | str, clinic: Clinic | None) -> User:
    first, _, last = username.partition(".")
    return User.objects.create_user(
        username=username,
        password=PASSWORD,
        role=role,
        clinic=clinic,
        first_name=first.title(),
        last_name=last.title(),
    )


def sign_in(client: Client, user: User, *, second_factor: bool = True) -> Client:
    """Sign ``user`` in on ``client``; with ``second_factor``, as after a verified TOTP code."""
    client.force_login(user)
    if second_factor:
        device, _ = TOTPDevice.objects.get_or_create(
            user=user, confirmed=True, defaults={"name": "test"}
        )
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return client
