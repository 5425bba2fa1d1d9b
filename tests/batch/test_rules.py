"""The batch rules a user relies on, through dag.test() and the operator's pre-flight (Dify's slow app)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from airflow_workflow_providers.core.batch.items import BadItemsError, read_items
from airflow_workflow_providers.core.batch.journal import BatchStore
from airflow_workflow_providers.core.errors import InputValidationError
from airflow_workflow_providers.dify.operators import DifyBatchRunWorkflowOperator
from tests.batch.conftest import read_output

MODES = ["deferred", "blocking"]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def context():
    return {"ti": SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1)}


@pytest.mark.parametrize("mode", MODES)
def test_items_from_a_jsonl_file_keep_their_ids_and_the_id_is_not_sent(emulators, run_dag, tmp_path, mode):
    dify = emulators["dify"]
    items = write_jsonl(
        tmp_path / "tickets.jsonl", [{"ticket": f"T-{n}", "query": f"q{n}", "delay": 0.2} for n in range(5)]
    )
    result = run_dag(f"batch_dify_file_{mode}", items=items, output_path=str(tmp_path / "out.jsonl"))
    assert result.state == "success", result.tasks
    lines = read_output(tmp_path / "out.jsonl")
    assert sorted(line["id"] for line in lines) == [f"T-{n}" for n in range(5)]
    assert all("ticket" not in run["inputs"] for run in dify.control.runs().values())
    assert dify.control.count("starts") == 5


@pytest.mark.parametrize("mode", MODES)
def test_one_bad_item_starts_nothing(emulators, run_dag, tmp_path, mode):
    items = [{"query": "ok", "delay": 0.2}, {"query": "x" * 300, "delay": 0.2}, {"qeury": "typo"}]
    result = run_dag(f"batch_dify_{mode}", items=items, output_path=str(tmp_path / "out.jsonl"))
    assert result.tasks["batch"] == "failed"
    assert emulators["dify"].control.count("starts") == 0
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize("mode", MODES)
def test_skip_invalid_records_bad_items_failed_and_runs_the_rest(emulators, run_dag, tmp_path, mode):
    items = [
        {"query": "ok", "delay": 0.2},
        {"query": "x" * 300, "delay": 0.2},
        {"query": "fine", "delay": 0.2},
    ]
    result = run_dag(f"batch_dify_skip_invalid_{mode}", items=items, output_path=str(tmp_path / "out.jsonl"))
    assert result.tasks["batch"] == "failed"  # one failed item, max_failures 0
    lines = {line["index"]: line for line in read_output(tmp_path / "out.jsonl")}
    assert (
        lines[1]["status"] == "failed" and "at most 256" in lines[1]["error"] and lines[1]["run_id"] is None
    )
    assert lines[0]["status"] == lines[2]["status"] == "succeeded"
    assert emulators["dify"].control.count("starts") == 2


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(("failing", "state"), [(2, "success"), (3, "failed")])
def test_max_failures_as_a_fraction(emulators, run_dag, tmp_path, mode, failing, state):
    items = [{"query": f"q{n}", "delay": -1 if n < failing else 0.2} for n in range(8)]
    result = run_dag(f"batch_dify_max_failures_{mode}", items=items, output_path=str(tmp_path / "out.jsonl"))
    assert result.tasks["batch"] == state  # 0.25 of 8 items: 2 may fail
    lines = read_output(tmp_path / "out.jsonl")
    assert len(lines) == 8 and sum(line["status"] == "failed" for line in lines) == failing
    assert all("Server disconnected" in line["error"] for line in lines if line["status"] == "failed")


@pytest.mark.parametrize("mode", MODES)
def test_the_batch_timeout_stops_the_runs_in_flight_and_records_them_cancelled(
    emulators, run_dag, tmp_path, mode
):
    dify = emulators["dify"]
    items = [{"query": f"q{n}", "delay": 60} for n in range(5)]
    result = run_dag(f"batch_dify_timeout_{mode}", items=items, output_path=str(tmp_path / "out.jsonl"))
    assert result.tasks["batch"] == "failed"
    assert_the_runs_in_flight_were_stopped_and_cancelled(dify, tmp_path / "out.jsonl")


def test_an_execution_timeout_stops_a_blocking_batch_and_records_its_runs_cancelled(
    emulators, run_dag, tmp_path
):
    """Airflow's own ``execution_timeout`` (SIGALRM in the task process), not the batch's ``timeout``."""
    items = [{"query": f"q{n}", "delay": 60} for n in range(5)]
    result = run_dag(
        "batch_dify_execution_timeout_blocking", items=items, output_path=str(tmp_path / "out.jsonl")
    )
    assert result.tasks["batch"] == "failed"
    assert_the_runs_in_flight_were_stopped_and_cancelled(emulators["dify"], tmp_path / "out.jsonl")


def assert_the_runs_in_flight_were_stopped_and_cancelled(dify, output):
    """Concurrency 3 of 5 one-minute items: every run started (3, unless a loaded machine had not started them
    all by the stop) was stopped and written cancelled; the items never started are not in the output."""
    lines, runs = read_output(output), dify.control.runs()
    assert 1 <= len(runs) <= 3 and dify.control.count("starts") == dify.control.count("stops") == len(runs), (
        dify.control.state()["counts"]
    )
    assert sorted(line["run_id"] for line in lines) == sorted(runs) and all(
        r["stop_requested"] for r in runs.values()
    )
    assert all(line["status"] == "cancelled" and "was stopped" in line["error"] for line in lines), lines


def test_preflight_lists_the_first_20_problems_with_index_and_id(emulators, tmp_path):
    items = [{"query": "x" * 300} for _ in range(25)]
    op = DifyBatchRunWorkflowOperator(task_id="t", items=items, output_path=str(tmp_path / "o.jsonl"))
    with pytest.raises(InputValidationError) as raised:
        op._preflight(context(), BatchStore(str(tmp_path / "o.jsonl")))
    message = str(raised.value)
    assert message.startswith("25 of 25 items rejected before starting, nothing was started")
    assert "item 19 (id 19): " in message and "item 20 " not in message and "and 5 more" in message
    assert (
        emulators["dify"].control.count("GET /parameters") == 1
    )  # the app's form is read once for all items


def test_dify_items_each_get_their_own_end_user(emulators, tmp_path):
    op = DifyBatchRunWorkflowOperator(task_id="t", items=[], user="team-a")
    spec = op.item_spec(context(), read_one({"query": "q"}))
    assert spec["user"] == "team-a:0"
    op = DifyBatchRunWorkflowOperator(task_id="t", items=[], user="ticket-{id}")
    assert op.item_spec(context(), read_one({"query": "q"}))["user"] == "ticket-0"
    assert (
        DifyBatchRunWorkflowOperator(task_id="t", items=[]).item_spec(context(), read_one({}))["user"]
        == "airflow:d:t:r:-1:0"
    )


def read_one(row):
    return next(read_items([row]))


def test_items_files_with_errors_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"query": "a"}\n\n[1, 2]\n')
    with pytest.raises(BadItemsError, match=r"bad.jsonl line 3: an item must be a JSON object"):
        list(read_items(str(bad)))
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"query": "a"}\n{"query": \n')
    with pytest.raises(BadItemsError, match=r"broken.jsonl line 2: not valid JSON"):
        list(read_items(str(broken)))
    table = tmp_path / "rows.csv"
    table.write_text("ticket,query\nT1,hello\nT2,world\n")
    with pytest.raises(
        BadItemsError, match=r"rows.csv line 1: the CSV header \['ticket', 'query'\] has no column 'id'"
    ):
        list(read_items(str(table), id_field="id"))
    items = list(read_items(f"file://{table}", id_field="ticket"))
    assert [(i.index, i.id, i.inputs) for i in items] == [
        (0, "T1", {"query": "hello"}),
        (1, "T2", {"query": "world"}),
    ]
    with pytest.raises(BadItemsError, match=r"Cannot read the items file .*missing.jsonl"):
        list(read_items(str(tmp_path / "missing.jsonl")))
    with pytest.raises(BadItemsError, match=r"items item 2: no 'ticket' field"):
        list(read_items([{"ticket": 1}, {"query": "no id"}], id_field="ticket"))
    nested = list(read_items([{"id": 7, "payload": {"query": "q"}}], inputs_field="payload", id_field="id"))
    assert (nested[0].id, nested[0].inputs) == (7, {"query": "q"})
