"""Fixtures shared by every test under mesoclinic/ and tests/."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core.management import call_command


@pytest.fixture(scope="session", autouse=True)
def collected_static(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The suite runs with DEBUG off, where `{% static %}` asks the manifest storage for hashed
    names that exist only after collectstatic: collect as a deployment does, into a directory
    of this run's own so that concurrent runs cannot disturb each other. Set before anything
    renders a template, so the lazily built storage sees it."""
    settings.STATIC_ROOT = tmp_path_factory.mktemp("static")
    call_command("collectstatic", interactive=False, verbosity=0)
