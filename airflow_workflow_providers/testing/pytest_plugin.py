"""Pytest fixtures for the bundled platform emulators (registered as a ``pytest11`` plugin).

``<platform key>_emulator`` (``dify_emulator``, ``scade_emulator``, ``arcee_orchestra_emulator``,
``flowy_emulator``, and one for every other registered platform with an emulator) yields a
:class:`~airflow_workflow_providers.testing.RunningEmulator` that is started once per session and reset
before each test; :func:`emulator_fixtures` makes the pair for a platform registered later. ``emulator_connection(emulator, conn_id=None)`` points an Airflow connection (through its
``AIRFLOW_CONN_*`` environment variable) at an emulator and returns the conn id. Nothing here imports
Airflow, and emulators only start when a test asks for one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from airflow_workflow_providers.testing import RunningEmulator


def emulator_fixtures(platform_key: str) -> tuple[Any, Any]:
    """``(<key>_emulator_session, <key>_emulator)`` fixtures; assign both to module names in a conftest."""
    platform = platform_key

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


def _declare_package_fixtures() -> None:
    from airflow_workflow_providers.core.registry import package_platforms

    for key, info in package_platforms().items():
        if info.emulator:
            session_fixture, fixture = emulator_fixtures(key)
            globals()[f"{key}_emulator_session"], globals()[f"{key}_emulator"] = session_fixture, fixture


_declare_package_fixtures()


@pytest.fixture
def emulator_connection(monkeypatch: pytest.MonkeyPatch) -> Callable[..., str]:
    """Set ``AIRFLOW_CONN_<CONN_ID>`` to a connection reaching an emulator; returns the conn id.

    The conn id defaults to ``<platform key>_default`` (e.g. ``arcee_orchestra_default``). Connections
    the triggerer looked up earlier under that id are forgotten (``core.connections``).
    """
    from airflow_workflow_providers.core.connections import forget

    def connect(emulator: RunningEmulator, conn_id: str | None = None) -> str:
        conn_id = conn_id or f"{emulator.platform_key}_default"
        name, value = emulator.connection(conn_id)
        monkeypatch.setenv(name, value)
        forget(conn_id)
        return conn_id

    return connect
