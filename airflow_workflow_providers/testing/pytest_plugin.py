"""Pytest fixtures for the bundled platform emulators (registered as a ``pytest11`` plugin).

``dify_emulator``, ``scade_emulator``, ``arcee_emulator`` and ``flowy_emulator`` yield a
:class:`~airflow_workflow_providers.testing.RunningEmulator` that is started once per session and reset
before each test. ``emulator_connection(emulator, conn_id=None)`` points an Airflow connection (through its
``AIRFLOW_CONN_*`` environment variable) at an emulator and returns the conn id. Nothing here imports
Airflow, and emulators only start when a test asks for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_workflow_providers.testing import RunningEmulator


def _emulator_fixtures(platform: str) -> tuple[Any, Any]:
    @pytest.fixture(scope="session", name=f"{platform}_emulator_session")
    def session_emulator() -> Iterator[RunningEmulator]:
        """This platform's emulator for the whole session (not reset between tests)."""
        from airflow_workflow_providers.testing import start_emulator

        with start_emulator(platform) as emulator:
            yield emulator

    @pytest.fixture(name=f"{platform}_emulator")
    def emulator(request: pytest.FixtureRequest) -> RunningEmulator:
        """This platform's emulator, reset (runs, requests, faults, apps, settings) before the test."""
        running: RunningEmulator = request.getfixturevalue(f"{platform}_emulator_session")
        running.control.reset()
        return running

    return session_emulator, emulator


dify_emulator_session, dify_emulator = _emulator_fixtures("dify")
scade_emulator_session, scade_emulator = _emulator_fixtures("scade")
arcee_emulator_session, arcee_emulator = _emulator_fixtures("arcee")
flowy_emulator_session, flowy_emulator = _emulator_fixtures("flowy")


@pytest.fixture
def emulator_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Set ``AIRFLOW_CONN_<CONN_ID>`` to a connection reaching an emulator; returns the conn id.

    The conn id defaults to ``<conn_type>_default`` (e.g. ``arcee_orchestra_default``).
    """

    def connect(emulator: RunningEmulator, conn_id: str | None = None) -> str:
        conn_id = conn_id or f"{emulator.conn_type}_default"
        name, value = emulator.connection(conn_id)
        monkeypatch.setenv(name, value)
        return conn_id

    return connect
