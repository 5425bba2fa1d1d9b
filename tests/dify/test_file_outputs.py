"""Dify file outputs kept before their 5-minute signed URLs expire: the engine's ``output_dir``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from airflow_workflow_providers.core.errors import ConfigurationError, PermanentAPIError, ResponseFormatError
from airflow_workflow_providers.core.model import Run, RunState
from airflow_workflow_providers.dify.api import DifyAPI
from airflow_workflow_providers.dify.hooks import DifyHook
from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator

MODES = ["deferred", "blocking"]
CONTENT = "quarterly numbers\n" * 100


def file_object(url: str, extension: str = ".txt") -> dict:
    return {"dify_model_identity": "__dify__file__", "type": "document", "url": url, "extension": extension}


class TestFileOutputs:
    def test_single_and_listed_file_objects_are_found_and_relative_urls_resolved(self):
        run = Run(
            "r",
            RunState.SUCCEEDED,
            "succeeded",
            outputs={
                "result": "text",
                "report": file_object("http://files.example/f/1?sign=x"),
                "images": [file_object("/files/2/file-preview?sign=y", ".png"), "not a file"],
            },
        )
        files = DifyAPI().file_outputs(run, "https://dify.example/v1")
        assert [(f.at, f.url, f.key, f.suffix) for f in files] == [
            (("report",), "http://files.example/f/1?sign=x", "report", ".txt"),
            (("images", 0), "https://dify.example/files/2/file-preview?sign=y", "images-0", ".png"),
        ]

    def test_a_file_object_without_url_is_a_format_error(self):
        run = Run(
            "r",
            RunState.SUCCEEDED,
            "succeeded",
            outputs={"report": {"dify_model_identity": "__dify__file__"}},
        )
        with pytest.raises(ResponseFormatError, match="file output 'report' has no URL"):
            DifyAPI().file_outputs(run, "https://dify.example/v1")


def uploaded(tmp_path: Path) -> dict:
    path = tmp_path / "report.txt"
    path.write_text(CONTENT)
    upload_id = DifyHook().upload_file(path, user="u")["id"]
    return {"type": "document", "transfer_method": "local_file", "upload_file_id": upload_id}


class TaskInstance:
    dag_id, task_id, run_id, map_index = "dag", "run", "manual__1", -1

    def xcom_push(self, key, value):
        pass


def run_keeping_files(tmp_path: Path) -> dict:
    """Run the echo app on an uploaded file with ``output_dir``, on this worker; return the result."""
    operator = DifyRunWorkflowOperator(
        task_id="run",
        inputs={"query": "q", "attachment": uploaded(tmp_path)},
        output_dir=str(tmp_path / "out"),
        deferrable=False,
        poll_interval=0.1,
    )
    return operator.execute({"ti": TaskInstance(), "task_state_store": None})


def test_file_outputs_are_stored_with_size_and_sha256_next_to_the_url(dify, tmp_path):
    result = run_keeping_files(tmp_path)
    kept = result["outputs"]["attachment"]
    stored = tmp_path / "out" / result["run_id"] / "attachment.txt"
    assert kept["location"] == str(stored) and stored.read_text() == CONTENT
    assert (kept["size"], kept["sha256"]) == (len(CONTENT), hashlib.sha256(CONTENT.encode()).hexdigest())
    assert kept["url"].startswith(dify.root_url) and "sign=" in kept["url"]  # the URL stays beside the copy
    assert result["outputs"]["result"] == "q"
    previews = [r for r in dify.control.state()["requests"] if r["path"].endswith("/file-preview")]
    assert len(previews) == 1 and previews[0]["status"] == 200


def test_a_download_is_retried_on_a_transient_fault(dify, tmp_path):
    dify.control.inject("status", r"/files/.*/file-preview", method="GET", status=503)
    result = run_keeping_files(tmp_path)
    assert result["outputs"]["attachment"]["size"] == len(CONTENT)
    statuses = [r["status"] for r in dify.control.state()["requests"] if r["path"].endswith("/file-preview")]
    assert statuses == [503, 200]


def test_only_http_urls_are_fetched(dify, tmp_path):
    with pytest.raises(PermanentAPIError, match="not http\\(s\\), not fetched"):
        DifyHook().download("file:///etc/passwd", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_a_wrong_output_dir_fails_before_starting(dify):
    operator = DifyRunWorkflowOperator(task_id="run", inputs={"query": "q"}, output_dir="nosuch://bucket/x")
    with pytest.raises(ConfigurationError, match="output_dir 'nosuch://bucket/x'"):
        operator.execute({"ti": TaskInstance(), "task_state_store": None})
    assert dify.control.count("starts") == 0


def test_output_dir_is_templated():
    assert "output_dir" in DifyRunWorkflowOperator.template_fields


@pytest.mark.parametrize("mode", MODES)
def test_file_outputs_are_kept_right_after_the_run_in_both_modes(dify, run_dag, tmp_path, mode):
    result = run_dag(f"dify_files_{mode}", output_dir=f"file://{tmp_path}")
    assert result.state == "success", result.tasks
    run = result.value("run")
    kept = run["outputs"]["attachment"]
    assert kept["location"] == f"file://{tmp_path}/{run['run_id']}/attachment.txt"
    assert (tmp_path / run["run_id"] / "attachment.txt").read_text() == CONTENT
    assert kept["sha256"] == hashlib.sha256(CONTENT.encode()).hexdigest() and kept["url"]
