"""Every example DAG imports cleanly and its Dify example succeeds against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "example_dags").glob("example_*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_dags_parse_without_errors_or_network(path):
    from tests.compat import DagBag, unexpected_import_errors

    bag = DagBag(str(path))
    assert unexpected_import_errors(bag.import_errors) == {}
    assert bag.dags or bag.import_errors, f"{path.name} defines no DAG"


def test_example_dify_succeeds(dify_emulator, emulator_connection, run_dag):
    emulator_connection(dify_emulator, "dify_default")
    result = run_dag("example_dify")
    assert result.state == "success", result.tasks
    assert result.value("publish").startswith("Summarize quarterly sales for run manual__")


def test_example_dify_knowledge_succeeds_and_a_second_run_updates(dify_emulator, run_dag, monkeypatch):
    import json

    from airflow_workflow_providers.testing.dify_knowledge import DATASET_KEY

    value = {"conn_type": "dify_knowledge", "host": dify_emulator.base_url, "password": DATASET_KEY}
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_KNOWLEDGE_DEFAULT", json.dumps(value))
    assert run_dag("example_dify_knowledge").value("report") == "4 created, 0 updated, 0 failed"
    assert run_dag("example_dify_knowledge").value("report") == "0 created, 4 updated, 0 failed"


def test_example_dify_chatflow_succeeds(dify_emulator, monkeypatch, run_dag):
    import json

    value = {"conn_type": "dify", "host": dify_emulator.base_url, "password": "app-chatflow"}
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_CHATFLOW", json.dumps(value))
    result = run_dag("example_dify_chatflow")
    assert result.state == "success", result.tasks
    first, second = result.value("publish")
    assert first.startswith("echo: What changed for run manual__") and first.endswith(" / release notes")
    assert second == "echo: Summarize that in one line. / release notes"
