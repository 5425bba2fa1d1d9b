"""Arcee Orchestra workflows: hook, operator, sensor."""

from __future__ import annotations

from airflow_workflow_providers.core.registry import PlatformInfo

PLATFORM = PlatformInfo(
    key="arcee_orchestra",
    name="Arcee Orchestra",
    default_base_url="https://orchestra.arcee.ai/api/v1/workflow",
    hook="airflow_workflow_providers.arcee.hooks.ArceeOrchestraHook",
    emulator="airflow_workflow_providers.testing.arcee:ArceeEmulator",
    key_placeholder="an Arcee Orchestra API key",
    docs_url="https://docs.arcee.ai/",
)
