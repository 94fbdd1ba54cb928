from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import Client

from mesoclinic.catalogue.loader import DATA_DIR, LoadReport, load_catalogue
from mesoclinic.clinics.models import User


@pytest.fixture
def catalogue(db: None) -> LoadReport:
    """The shipped catalogue, loaded."""
    return load_catalogue()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the shipped data files that a test may edit."""
    return Path(shutil.copytree(DATA_DIR, tmp_path / "data"))


@pytest.fixture
def alice_client(alice: User, client_for: Callable[[User], Client]) -> Client:
    """The root conftest's administrator of clinic A, second factor verified."""
    return client_for(alice)
