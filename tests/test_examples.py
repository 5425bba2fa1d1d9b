"""Every example DAG imports cleanly and its Dify example succeeds against the emulator."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parents[1] / "example_dags").glob("example_*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_dags_parse_without_errors_or_network(path):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(str(path))
    assert bag.import_errors == {}
    assert bag.dags, f"{path.name} defines no DAG"


def test_example_dify_succeeds(dify_emulator, emulator_connection, run_dag):
    emulator_connection(dify_emulator, "dify_default")
    result = run_dag("example_dify")
    assert result.state == "success", result.tasks
    assert result.value("publish").startswith("Summarize quarterly sales for run manual__")
