"""Every platform's batch operator through dag.test(), deferrable and blocking, against the emulators."""

from __future__ import annotations

import hashlib

import pytest

from airflow_workflow_providers.dify.hooks import DifyHook
from tests.batch.conftest import read_output

MODES = ["deferred", "blocking"]
#: one item's inputs on each platform's slow app/flow/workflow (runs last ``delay``/``seconds``)
ITEM = {
    "dify": lambda n: {"query": f"q{n}", "delay": 0.3},
    "scade": lambda n: {"text": f"q{n}", "delay": 0.3},
    "arcee": lambda n: {"query": f"q{n}", "delay": 0.3},
    "flowy": lambda n: {"prompt": f"q{n}", "seconds": "0.3"},
}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("platform", sorted(ITEM))
def test_each_item_runs_once_and_lands_in_the_output(emulators, run_dag, tmp_path, platform, mode):
    emulator = emulators[platform]
    output = tmp_path / "results.jsonl"
    items = [ITEM[platform](n) for n in range(7)]
    result = run_dag(f"batch_{platform}_{mode}", items=items, output_path=str(output))
    assert result.state == "success", result.tasks
    summary = result.value("batch")
    assert {k: summary[k] for k in ("total", "succeeded", "failed", "output_path")} == {
        "total": 7,
        "succeeded": 7,
        "failed": 0,
        "output_path": str(output),
    }
    assert set(summary) == {"total", "succeeded", "failed", "output_path", "usage", "elapsed_seconds"}
    assert result.value("batch", "output_path") == str(output)
    assert result.value("count") == 7
    lines = read_output(output)
    assert sorted(line["index"] for line in lines) == list(range(7))
    assert all(line["status"] == "succeeded" and line["run_id"] and line["error"] is None for line in lines)
    assert {line["id"] for line in lines} == set(range(7))
    runs = emulator.control.runs()
    assert emulator.control.count("starts") == len(runs) == 7
    assert {line["run_id"] for line in lines} == set(runs)
    # each item's own inputs reached its run
    by_run = {line["run_id"]: line["index"] for line in lines}
    first_input = next(iter(ITEM[platform](0)))
    assert all(run["inputs"][first_input] == f"q{by_run[run_id]}" for run_id, run in runs.items())


@pytest.mark.parametrize("mode", MODES)
def test_flowy_media_outputs_are_stored_under_output_dir_as_each_run_ends(emulators, run_dag, tmp_path, mode):
    items = [ITEM["flowy"](n) for n in range(3)]
    media = tmp_path / "media"
    result = run_dag(
        f"batch_flowy_{mode}", items=items, output_path=str(tmp_path / "out.jsonl"), output_dir=str(media)
    )
    assert result.state == "success", result.tasks
    for line in read_output(tmp_path / "out.jsonl"):
        clip = line["outputs"]["clip"]
        stored = media / line["run_id"] / "clip.mp4"
        assert clip["location"] == str(stored) and stored.stat().st_size == clip["size"] > 0
        assert line["outputs"]["caption"]["text"] == f"q{line['index']}"


@pytest.mark.parametrize("mode", MODES)
def test_dify_file_outputs_are_stored_under_output_dir_with_size_and_sha256(
    emulators, emulator_connection, run_dag, tmp_path, mode
):
    emulator_connection(emulators["dify"], "dify_default")  # the echo app: its attachment comes back signed
    reports = {n: f"report {n}\n" * 50 for n in range(3)}
    items = [
        {"query": f"q{n}", "attachment": uploaded(tmp_path / f"report-{n}.txt", text)}
        for n, text in reports.items()
    ]
    media = tmp_path / "media"
    result = run_dag(
        f"batch_dify_{mode}", items=items, output_path=str(tmp_path / "out.jsonl"), output_dir=str(media)
    )
    assert result.state == "success", result.tasks
    lines = read_output(tmp_path / "out.jsonl")
    assert sorted(line["index"] for line in lines) == [0, 1, 2]
    for line in lines:
        kept, text = line["outputs"]["attachment"], reports[line["index"]]
        stored = media / line["run_id"] / "attachment.txt"
        assert kept["location"] == str(stored) and stored.read_text() == text
        assert (kept["size"], kept["sha256"]) == (len(text), hashlib.sha256(text.encode()).hexdigest())
        assert "sign=" in kept["url"] and line["outputs"]["result"] == f"q{line['index']}"
    previews = [
        r for r in emulators["dify"].control.state()["requests"] if r["path"].endswith("/file-preview")
    ]
    assert [r["status"] for r in previews] == [200] * 3, "each file fetched once"


def uploaded(path, text):
    """A Dify ``local_file`` input of ``text``, uploaded to the app ``dify_default`` reaches."""
    path.write_text(text)
    upload_id = DifyHook("dify_default").upload_file(path, user="batch-files")["id"]
    return {"type": "document", "transfer_method": "local_file", "upload_file_id": upload_id}


def test_the_example_batch_dag_answers_every_ticket(emulators, emulator_connection, run_dag, tmp_path):
    emulator_connection(emulators["dify"], "dify_default")  # the echo app, as make demo does
    result = run_dag("example_batch_dify", storage=str(tmp_path), tickets=12)
    assert result.state == "success", result.tasks
    assert result.value("report") == 12
    summary = result.value("answer_tickets")
    lines = read_output(summary["output_path"])
    assert sorted(line["id"] for line in lines) == [f"T-{n:04d}" for n in range(12)]
    assert emulators["dify"].control.count("starts") == 12
