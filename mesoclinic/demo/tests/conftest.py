from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings


@pytest.fixture(autouse=True)
def fast_password_hasher() -> Iterator[None]:
    # The configured PBKDF2 costs about half a second a password; these tests build the six
    # demo logins many times and check how they sign in, not how hard the hash is.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield
