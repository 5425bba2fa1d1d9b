"""Knowledge-base ingestion through Airflow's dag.test(), deferrable and blocking."""

from __future__ import annotations

import pytest

from airflow_workflow_providers.testing.dify_knowledge import DATASET_ID
from tests.compat import printed_lines

MODES = ["deferred", "blocking"]


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "pools.txt").write_text("Airflow pools limit how many task instances run at once.")
    (tmp_path / "retries.md").write_text("# Retries\n\nAirflow retries a failed task.")
    return tmp_path


@pytest.mark.parametrize("mode", MODES)
def test_documents_from_xcom_and_a_folder_are_ingested_and_the_sensor_sees_their_batch(
    knowledge, run_dag, folder, mode, capfd
):
    knowledge.control.settings(indexing_seconds=3.0)  # long enough that the wait really happens
    result = run_dag(f"dify_knowledge_{mode}", dataset_id=DATASET_ID, folder=str(folder))
    assert result.state == "success", result.tasks
    deferred = "Triggerer watching Dify Knowledge run" in capfd.readouterr().out  # the shared trigger
    assert deferred == (mode == "deferred")
    report = result.value("ingest")
    assert (report["dataset_id"], report["created"], report["failed"]) == (DATASET_ID, 3, 0)
    assert {d["name"]: d["indexing_status"] for d in report["documents"]} == {
        "faq.txt": "completed",
        "pools.txt": "completed",
        "retries.md": "completed",
    }
    waited = result.value("wait")
    assert (waited["batch"], waited["status"]) == (report["documents"][0]["batch"], "succeeded")
    assert waited["outputs"]["documents"][0]["indexing_status"] == "completed"

    again = run_dag(f"dify_knowledge_{mode}", dataset_id=DATASET_ID, folder=str(folder))
    assert again.state == "success", again.tasks
    assert (again.value("ingest")["updated"], again.value("ingest")["created"]) == (3, 0)


@pytest.mark.parametrize("mode", MODES)
def test_an_indexing_error_fails_the_task_at_the_end_with_a_report(knowledge, run_dag, folder, mode):
    knowledge.control.settings(indexing_outcomes={"retries.md": "Failed to parse the markdown"})
    result = run_dag(f"dify_knowledge_{mode}", dataset_id=DATASET_ID, folder=str(folder))
    assert result.tasks["ingest"] == "failed"
    report = result.value("ingest", "report")
    assert report["failed"] == 1 and report["created"] == 2
    assert {d["name"]: d["error"] for d in report["documents"] if d["error"]} == {
        "retries.md": "Failed to parse the markdown"
    }


@pytest.mark.parametrize("mode", MODES)
def test_a_missing_dataset_fails_before_uploading(knowledge, run_dag, mode):
    result = run_dag(f"dify_knowledge_missing_dataset_{mode}")
    assert result.tasks["ingest"] == "failed"
    assert [r["method"] for r in knowledge.control.state()["requests"]] == ["GET"]


def test_the_dataset_key_appears_nowhere_airflow_writes(
    knowledge, run_dag, folder, airflow_home, capfd, monkeypatch
):
    import json

    import requests

    key = requests.post(f"{knowledge.root_url}/console/api/datasets/api-keys", timeout=10).json()["token"]
    value = {"conn_type": "dify_knowledge", "host": knowledge.base_url, "password": key}
    monkeypatch.setenv("AIRFLOW_CONN_DIFY_KNOWLEDGE_DEFAULT", json.dumps(value))
    knowledge.control.settings(indexing_seconds=1.0, indexing_outcomes={"retries.md": "boom"})
    assert (
        run_dag("dify_knowledge_deferred", dataset_id=DATASET_ID, folder=str(folder)).tasks["ingest"]
        == "failed"
    )
    assert run_dag("dify_knowledge_missing_dataset_deferred").tasks["ingest"] == "failed"
    assert not [line for line in printed_lines(capfd.readouterr()) if key in line]
    written = [path for path in airflow_home.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in written)
    for path in written:
        assert key.encode() not in path.read_bytes(), f"the dataset key was found in {path}"
