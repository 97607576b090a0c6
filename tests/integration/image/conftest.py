import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(__file__))), "unit", "image"))

from regfix import Registry  # noqa: E402


@pytest.fixture(scope="session")
def plain_registry():
    registry = Registry()
    yield registry
    registry.stop()


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "berth"
    path.mkdir()
    return str(path)
