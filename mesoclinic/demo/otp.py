"""Two-factor codes for the demo logins, so that a visitor can sign in without a phone."""

from __future__ import annotations

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from mesoclinic.clinics.models import User
from mesoclinic.clinics.two_factor import confirmed_device, secret_of
from mesoclinic.demo.accounts import DEMO_ACCOUNTS

DEMO_USERNAMES = tuple(account.username for account in DEMO_ACCOUNTS)


class NoDemoDevice(LookupError):
    """The name is not a demo login with an authenticator set up; the message says which."""


def demo_device(username: str) -> TOTPDevice:
    # Demo logins only: a command that printed any staff member's code would be a second
    # factor anyone with a shell could skip.
    if username not in DEMO_USERNAMES:
        raise NoDemoDevice(
            f"{username} is not a demo login; codes are printed only for the demo's own "
            f"accounts ({', '.join(DEMO_USERNAMES)})."
        )
    user = User.objects.filter(username=username).first()
    if user is None:
        raise NoDemoDevice(
            f"There is no user {username} yet; build the demo first with `mesoclinic demo`."
        )
    device = confirmed_device(user)
    if device is None:
        raise NoDemoDevice(
            f"{username} has no two-factor device (an administrator reset it); sign in and set "
            "one up with an authenticator app."
        )
    return device


def current_code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):0{device.digits}d}"


def demo_keys() -> list[tuple[str, str]]:
    """Each demo login that has a device, with the key to type into an authenticator app."""
    keys = []
    for username in DEMO_USERNAMES:
        try:
            keys.append((username, secret_of(demo_device(username))))
        except NoDemoDevice:
            continue
    return keys
