"""Scade flows: hook, operator, sensor."""

from __future__ import annotations

from airflow_workflow_providers.core.registry import PlatformInfo

PLATFORM = PlatformInfo(
    key="scade",
    name="Scade",
    default_base_url="https://api.scade.pro/api/v1",
    hook="airflow_workflow_providers.scade.hooks.ScadeHook",
    emulator="airflow_workflow_providers.testing.scade:ScadeEmulator",
    key_label="Server key",
    key_placeholder="the base64 server key from Scade's settings, as it is",
    docs_url="https://scade.pro/",
)
