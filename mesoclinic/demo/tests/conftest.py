from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings


@pytest.fixture(autouse=True)
def fast_password_hasher() -> Iterator[None]:
    # The configured PBKDF2 costs about half a second a password; these tests build the six
    # demo logins many times and check how they sign in, not how hard the hash is.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def media_root(tmp_path: Path, settings: Any) -> Path:
    # The demo's charts store their photos: in this test's own directory, not the data
    # directory's, which a rolled-back build would leave them in.
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT
