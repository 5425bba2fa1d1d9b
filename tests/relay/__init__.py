"""Relay: a made-up fifth platform defined entirely inside the tests, to prove that a platform needs no
edit of the engine. ``docs/new-platform.md`` walks through it piece by piece.

Importing this package makes Relay known in this process (``register``); another distribution would
declare the same ``PLATFORM`` through the ``airflow_workflow_providers.platforms`` entry-point group
instead, so that every process (workers, the triggerer) finds it.
"""

from __future__ import annotations

from airflow_workflow_providers.core.registry import PlatformInfo, register

PLATFORM = register(
    PlatformInfo(
        key="relay",
        name="Relay",
        default_base_url="https://api.relay.invalid/v2",
        hook="tests.relay.hooks.RelayHook",
        emulator="tests.relay.emulator:RelayEmulator",
    )
)
