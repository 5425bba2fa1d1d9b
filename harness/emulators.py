"""The bundled platform emulators, started for a deployment, and the connections that reach them.

Each emulator accepts API keys made for this start only (``<its usual key>-<random hex>``), so a test
can scan the deployment for them afterwards and know that any hit is a leak, not a coincidence.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import logging
import secrets
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow_workflow_providers.testing import RunningEmulator
    from airflow_workflow_providers.testing._server import Emulator

log = logging.getLogger(__name__)

#: extra connections onto an emulator's other apps: conn id -> (platform, app short name)
EXTRA_CONNECTIONS = {
    "dify_slow": ("dify", "slow"),
    "dify_chatflow": ("dify", "chatflow"),
    "dify_approval": ("dify", "approval"),
}


def with_fresh_keys(cls: type[Emulator]) -> type[Emulator]:
    """A subclass of an emulator whose API keys are new random strings.

    A platform with one key per workspace (Scade, Arcee, Flowy) gets a new ``api_key``; Dify, whose
    keys are its apps' ids, gets its default apps under new ids.
    """
    usual = cls()
    renamed = {key: f"{key}-{secrets.token_hex(8)}" for key in {*usual.app_keys().values(), usual.api_key}}

    class FreshKeys(cls):  # type: ignore[misc, valid-type]
        api_key = renamed[cls.api_key]
        default_app_ids = {name: renamed.get(app_id, app_id) for name, app_id in cls.default_app_ids.items()}

        def default_apps(self):
            return [
                dataclasses.replace(app, id=renamed.get(app.id, app.id)) for app in super().default_apps()
            ]

    FreshKeys.__name__ = FreshKeys.__qualname__ = f"{cls.__name__}WithFreshKeys"
    return FreshKeys


class Emulators:
    """Every platform emulator the package ships, each in a thread of this process on a free loopback port.

    A platform whose emulator fails to start is reported and left out: its example DAG then fails
    with a connection error that names it, rather than the whole deployment failing.
    """

    def __init__(self) -> None:
        self.running: dict[str, RunningEmulator] = {}
        self.failed: dict[str, str] = {}

    def start(self) -> Emulators:
        from airflow_workflow_providers.core.registry import package_platforms
        from airflow_workflow_providers.testing import RunningEmulator

        for platform, info in package_platforms().items():
            if not info.emulator:  # served by another platform's emulator (dify_knowledge: Dify's)
                continue
            try:
                module, _, name = (info.emulator or "").partition(":")
                emulator = with_fresh_keys(getattr(importlib.import_module(module), name))()
                self.running[platform] = RunningEmulator(emulator, "127.0.0.1", 0)
            except Exception as exc:  # another platform's emulator may be mid-development
                self.failed[platform] = f"{type(exc).__name__}: {exc}"
                log.warning("The %s emulator did not start: %s", platform, self.failed[platform])
        return self

    def __getitem__(self, platform: str) -> RunningEmulator:
        return self.running[platform]

    def connections(self) -> dict[str, str]:
        """``AIRFLOW_CONN_*`` name -> JSON for each platform's default connection and the extra ones."""
        env = dict(emulator.connection() for emulator in self.running.values())
        for conn_id, (platform, app) in EXTRA_CONNECTIONS.items():
            if platform in self.running:
                name, value = self.running[platform].connection(conn_id)
                env[name] = json.dumps(
                    {**json.loads(value), "password": self.running[platform].app_keys[app]}
                )
        if "dify" in self.running:  # the Dify emulator also serves the knowledge-base (dataset) API
            from airflow_workflow_providers.testing.dify_knowledge import DATASET_KEY

            knowledge = {
                "conn_type": "dify_knowledge",
                "host": self.running["dify"].base_url,
                "password": DATASET_KEY,
            }
            env["AIRFLOW_CONN_DIFY_KNOWLEDGE_DEFAULT"] = json.dumps(knowledge)
        return env

    def api_keys(self) -> set[str]:
        """Every API key the emulators accept: what must never be written anywhere."""
        keys = {
            key
            for emulator in self.running.values()
            for key in {emulator.api_key, *emulator.app_keys.values()}
        }
        if "dify" in self.running:
            from airflow_workflow_providers.testing.dify_knowledge import DATASET_KEY

            keys.add(DATASET_KEY)
        return keys

    def reset(self) -> None:
        for emulator in self.running.values():
            emulator.control.reset()

    def stop(self) -> None:
        for emulator in self.running.values():
            emulator.stop()
        self.running.clear()
