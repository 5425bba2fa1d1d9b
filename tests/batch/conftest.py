from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def emulators(
    dify_emulator, scade_emulator, arcee_orchestra_emulator, flowy_emulator, emulator_connection, monkeypatch
):
    """Every emulator, ``<platform>_default`` pointing at it (Dify's at its slow app), limits lifted."""
    for emulator in (scade_emulator, arcee_orchestra_emulator, flowy_emulator):
        emulator_connection(emulator)
    value = {"conn_type": "dify", "host": dify_emulator.base_url, "password": "app-slow"}
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_DEFAULT", json.dumps(value))
    flowy_emulator.control.settings(rate_limit_per_minute=100000, max_concurrent_runs=None)
    return {
        "dify": dify_emulator,
        "scade": scade_emulator,
        "arcee": arcee_orchestra_emulator,
        "flowy": flowy_emulator,
    }


def read_output(path: str | Path) -> list[dict]:
    return [json.loads(line) for line in Path(str(path).removeprefix("file://")).read_text().splitlines()]
