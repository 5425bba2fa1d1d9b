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

__all__ = ["EmulatorControl", "RunningEmulator", "emulator_platforms", "start_emulator"]


def emulator_platforms() -> list[str]:
    """The keys of every known platform that ships an emulator (``core.registry``), sorted."""
    from airflow_workflow_providers.core.registry import platforms

    return sorted(key for key, info in platforms().items() if info.emulator)


def _emulator_class(platform_key: str) -> type[Emulator]:
    from airflow_workflow_providers.core.registry import platform

    where = platform(platform_key).emulator
    if where is None:
        raise ValueError(
            f"platform {platform_key!r} ships no emulator; these do: {', '.join(emulator_platforms())}"
        )
    module, _, name = where.partition(":")
    return getattr(importlib.import_module(module), name)


def start_emulator(
    platform_key: str, host: str = "127.0.0.1", port: int = 0, **settings: Any
) -> RunningEmulator:
    """Start a platform's emulator in a background thread and return once it answers.

    :param platform_key: the platform's key: ``dify``, ``scade``, ``arcee_orchestra``, ``flowy``, or that of
        any registered platform whose ``PlatformInfo`` names an emulator.
    :param port: 0 picks a free port.
    :param settings: initial control-plane settings (``reset`` returns to these).
    """
    return RunningEmulator(_emulator_class(platform_key)(**settings), host, port)
