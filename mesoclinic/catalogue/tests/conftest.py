from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from mesoclinic.catalogue.loader import DATA_DIR, LoadReport, load_catalogue


@pytest.fixture
def catalogue(db: None) -> LoadReport:
    """The shipped catalogue, loaded."""
    return load_catalogue()


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A copy of the shipped data files that a test may edit."""
    return Path(shutil.copytree(DATA_DIR, tmp_path / "data"))


@pytest.fixture
def alice_client(db: None, client: Client) -> Client:
    alice = get_user_model().objects.create_user("alice", password="not-used-in-tests-1952")
    client.force_login(alice)
    return client
