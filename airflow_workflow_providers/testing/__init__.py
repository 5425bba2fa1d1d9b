"""Local emulators of the Dify, Scade, Arcee Orchestra and Flowy HTTP APIs, for tests and demos.

Each emulator serves real HTTP on loopback from a background thread, runs progress by the wall clock,
and a control plane under ``/_emulator/`` lets tests inspect requests, add apps, change settings and
inject faults::

    with start_emulator("dify") as dify:
        requests.post(f"{dify.base_url}/workflows/run", headers={"Authorization": f"Bearer {dify.api_key}"},
                      json={"inputs": {"query": "hi"}, "user": "me"})
        assert dify.control.count("starts") == 1

The default apps of each platform are listed in its module's docstring.
"""

from __future__ import annotations

import importlib
from typing import Any

from airflow_workflow_providers.testing._control import EmulatorControl
from airflow_workflow_providers.testing._server import Emulator, RunningEmulator

__all__ = ["PLATFORMS", "EmulatorControl", "RunningEmulator", "start_emulator"]

PLATFORMS: dict[str, str] = {
    "dify": "airflow_workflow_providers.testing.dify:DifyEmulator",
    "scade": "airflow_workflow_providers.testing.scade:ScadeEmulator",
    "arcee": "airflow_workflow_providers.testing.arcee:ArceeEmulator",
    "flowy": "airflow_workflow_providers.testing.flowy:FlowyEmulator",
}
"""Platform name -> ``module:class`` of its emulator."""


def _emulator_class(platform: str) -> type[Emulator]:
    if platform not in PLATFORMS:
        raise ValueError(f"unknown platform {platform!r}; expected one of {', '.join(PLATFORMS)}")
    module, _, name = PLATFORMS[platform].partition(":")
    return getattr(importlib.import_module(module), name)


def start_emulator(platform: str, host: str = "127.0.0.1", port: int = 0, **settings: Any) -> RunningEmulator:
    """Start ``platform``'s emulator in a background thread and return once it answers.

    :param platform: ``dify``, ``scade``, ``arcee`` or ``flowy``.
    :param port: 0 picks a free port.
    :param settings: initial control-plane settings (``reset`` returns to these).
    """
    return RunningEmulator(_emulator_class(platform)(**settings), host, port)
