from __future__ import annotations

import json

import pytest


@pytest.fixture
def dify(dify_emulator, monkeypatch):
    """The Dify emulator with ``dify_default`` -> its echo app and ``dify_slow`` -> its slow app."""
    for conn_id, key in (("dify_default", "app-echo"), ("dify_slow", "app-slow")):
        value = {"conn_type": "dify", "host": dify_emulator.base_url, "password": key}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))
    return dify_emulator
