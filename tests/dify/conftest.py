from __future__ import annotations

import json

import pytest

from airflow_workflow_providers.testing import dify_chat


@pytest.fixture
def dify(dify_emulator, monkeypatch):
    """The Dify emulator with ``dify_default`` -> its echo app, ``dify_slow`` -> its slow app and
    ``dify_<name>`` -> each chat and Human Input app (``dify_chatflow``, ``dify_approval``, ...)."""
    chat_apps = [(f"dify_{name}", key) for name, key in dify_chat.APP_KEYS.items()]
    for conn_id, key in (("dify_default", "app-echo"), ("dify_slow", "app-slow"), *chat_apps):
        value = {"conn_type": "dify", "host": dify_emulator.base_url, "password": key}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
    return dify_emulator


@pytest.fixture
def knowledge(dify_emulator, monkeypatch):
    """The Dify emulator with ``dify_knowledge_default`` -> its dataset API (the workspace's dataset key)."""
    from airflow_workflow_providers.testing.dify_knowledge import DATASET_KEY

    value = {"conn_type": "dify_knowledge", "host": dify_emulator.base_url, "password": DATASET_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_KNOWLEDGE_DEFAULT", json.dumps(value))
    return dify_emulator
