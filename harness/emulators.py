"""The bundled platform emulators, started for a deployment, and the connections that reach them."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_workflow_providers.testing import RunningEmulator

log = logging.getLogger(__name__)

#: extra connections onto an emulator's other apps: conn id -> (platform, API key)
EXTRA_CONNECTIONS = {"dify_slow": ("dify", "app-slow")}


class Emulators:
    """Every platform emulator the package ships, each in a thread of this process on a free loopback port.

    A platform whose emulator fails to start is reported and left out: its example DAG then fails
    with a connection error that names it, rather than the whole deployment failing.
    """

    def __init__(self) -> None:
        self.running: dict[str, RunningEmulator] = {}
        self.failed: dict[str, str] = {}

    def start(self) -> Emulators:
        from airflow_workflow_providers.testing import PLATFORMS, start_emulator

        for platform in PLATFORMS:
            try:
                self.running[platform] = start_emulator(platform)
            except Exception as exc:  # another platform's emulator may be mid-development
                self.failed[platform] = f"{type(exc).__name__}: {exc}"
                log.warning("The %s emulator did not start: %s", platform, self.failed[platform])
        return self

    def __getitem__(self, platform: str) -> RunningEmulator:
        return self.running[platform]

    def connections(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` name -> JSON for each platform's default connection and the extra ones."""
        env = dict(emulator.connection() for emulator in self.running.values())
        for conn_id, (platform, key) in EXTRA_CONNECTIONS.items():
            if platform in self.running:
                name, value = self.running[platform].connection(conn_id)
                env[name] = json.dumps({**json.loads(value), "password": key})
        return env

    def reset(self) -> None:
        for emulator in self.running.values():
            emulator.control.reset()

    def stop(self) -> None:
        for emulator in self.running.values():
            emulator.stop()
        self.running.clear()
