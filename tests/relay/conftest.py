from __future__ import annotations

import pytest

import tests.relay  # noqa: F401 - registers the platform
from airflow_workflow_providers.testing.pytest_plugin import emulator_fixtures

relay_emulator_session, relay_emulator = emulator_fixtures("relay")


@pytest.fixture
def relay(relay_emulator, emulator_connection):
    """The Relay emulator, with ``relay_default`` pointing at it."""
    emulator_connection(relay_emulator)
    return relay_emulator
