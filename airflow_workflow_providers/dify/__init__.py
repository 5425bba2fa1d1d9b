"""Dify: workflow apps (platform ``dify``, one key per app) and knowledge bases (platform
``dify_knowledge``, a workspace dataset key)."""

from __future__ import annotations

from airflow_workflow_providers.core.registry import PlatformInfo

PLATFORM = PlatformInfo(
    key="dify",
    name="Dify",
    default_base_url="https://api.dify.ai/v1",
    hook="airflow_workflow_providers.dify.hooks.DifyHook",
    emulator="airflow_workflow_providers.testing.dify:DifyEmulator",
    key_placeholder="app-... (the app's own API key: one connection per app)",
    docs_url="https://docs.dify.ai/",
)

#: the knowledge-base (dataset) API: its own connection type, since its keys are workspace dataset keys
KNOWLEDGE_PLATFORM = PlatformInfo(
    key="dify_knowledge",
    name="Dify Knowledge",
    default_base_url="https://api.dify.ai/v1",
    hook="airflow_workflow_providers.dify.knowledge.hooks.DifyKnowledgeHook",
    key_placeholder="dataset-... (a workspace's knowledge-base API key)",
    docs_url="https://docs.dify.ai/",
)

PLATFORMS = (PLATFORM, KNOWLEDGE_PLATFORM)
