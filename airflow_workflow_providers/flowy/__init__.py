"""Flowy generative apps: hook, operator, sensor."""

from __future__ import annotations

from airflow_workflow_providers.core.registry import PlatformInfo

PLATFORM = PlatformInfo(
    key="flowy",
    name="Flowy",
    default_base_url="https://apis.tryflowy.ai/genstudio-svc-v2/api/v1",
    hook="airflow_workflow_providers.flowy.hooks.FlowyHook",
    emulator="airflow_workflow_providers.testing.flowy:FlowyEmulator",
    key_placeholder="flw_sk_... (a secret API key)",
    docs_url="https://tryflowy.ai/",
)
