"""Every example DAG succeeds through the real scheduler, LocalExecutor and triggerer, in deferrable mode."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

#: examples that wait for a person: tests/e2e/test_human_input.py answers them
NEEDS_A_PERSON = {"example_dify_human_input.py"}
EXAMPLES = sorted(
    p
    for p in (Path(__file__).resolve().parents[2] / "example_dags").glob("example_*.py")
    if p.name not in NEEDS_A_PERSON
)


@pytest.fixture(scope="module")
def example_runs(e2e):
    """Trigger every example DAG at once through the REST API; wait for all; dag_id -> (run_id, final run)."""
    deployment, emulators = e2e
    emulators.reset()
    api = deployment.api
    dags = [dag for dag in api.dags() if Path(dag["fileloc"]).name in {p.name for p in EXAMPLES}]
    run_ids = {dag["dag_id"]: api.trigger(dag["dag_id"]) for dag in dags}
    return {
        dag_id: (run_id, api.wait_for_run(dag_id, run_id, timeout=180)) for dag_id, run_id in run_ids.items()
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_dag_succeeds_on_the_triggerer_with_its_progress_in_the_task_log(path, e2e, example_runs):
    deployment, _ = e2e
    api = deployment.api
    parsed, errors = deployment.parse_state()
    assert path.name not in errors, errors.get(path.name)
    dag_ids = [
        dag_id
        for dag_id in example_runs
        if any(Path(d["fileloc"]).name == path.name for d in api.dags() if d["dag_id"] == dag_id)
    ]
    assert dag_ids, f"{path.name} produced no DAG on the dag-processor"

    for dag_id in dag_ids:
        run_id, run = example_runs[dag_id]
        tis = api.task_instances(dag_id, run_id)
        assert run["state"] == "success", (
            api.describe_run(dag_id, run_id) + f" {[(t['task_id'], t['state']) for t in tis]}"
        )
        # the provider's operators push the remote run id as soon as the run starts
        remote = [
            (ti, api.xcom(dag_id, run_id, ti["task_id"], "run_id", ti["map_index"]))
            for ti in tis
            if any(x["key"] == "run_id" for x in api.xcom_keys(dag_id, run_id, ti["task_id"]))
        ]
        # a batch task pushes its output_path instead, and runs its batch on the triggerer
        batches = [
            ti
            for ti in tis
            if any(x["key"] == "output_path" for x in api.xcom_keys(dag_id, run_id, ti["task_id"]))
        ]
        for ti in batches:
            log = api.task_log(dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
            assert "Pausing task as DEFERRED" in log and "Batch finished:" in log, log[-3000:]
            summary = api.xcom(dag_id, run_id, ti["task_id"], map_index=ti["map_index"])
            assert summary["succeeded"] == summary["total"] > 0, summary
        # a knowledge-base ingestion starts no run: it waits on indexing batches, through the same trigger
        indexing = [
            ti
            for ti in tis
            if any(x["key"] == "ingestion_progress" for x in api.xcom_keys(dag_id, run_id, ti["task_id"]))
        ]
        for ti in indexing:
            log = api.task_log(dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
            assert "Pausing task as DEFERRED" in log and "Triggerer watching Dify Knowledge run" in log, log[
                -3000:
            ]
            assert "Trigger fired event" in log and api.xcom(dag_id, run_id, ti["task_id"])["failed"] == 0, (
                log[-3000:]
            )
        assert remote or batches or indexing, (
            f"{dag_id}: no task started a remote run, a batch or waited on indexing"
        )
        for ti, remote_run_id in remote:
            log = api.task_log(dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
            assert "Pausing task as DEFERRED" in log, (
                f"{dag_id}.{ti['task_id']} did not defer:\n{log[-3000:]}"
            )
            assert ".trigger." in log, (
                f"{dag_id}.{ti['task_id']}: no triggerer log in the task log:\n{log[-3000:]}"
            )
            # the shared trigger's progress lines, written on the triggerer
            assert "Triggerer watching" in log and f"run {remote_run_id} state:" in log, log[-3000:]
            assert "Trigger fired event" in log, log[-3000:]
            result = api.xcom(dag_id, run_id, ti["task_id"], map_index=ti["map_index"])
            # str(): a platform with numeric run ids may return the id as a number
            assert str(result["run_id"]) == str(remote_run_id)
