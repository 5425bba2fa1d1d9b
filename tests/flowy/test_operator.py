"""FlowyRunAppOperator's own steps, against the emulator: output storage and checks before starting."""

from __future__ import annotations

import time

import pytest

from airflow_workflow_providers.core.errors import ConfigurationError, PlatformAPIError
from airflow_workflow_providers.flowy.hooks import FlowyHook
from airflow_workflow_providers.flowy.operators import FlowyRunAppOperator


def completed_run(flowy):
    hook = FlowyHook()
    ref = hook.start_run(app_id=flowy.app_ids["echo"], inputs={"prompt": "kept"})
    return hook.wait_for_run(ref, end_time=time.time() + 20, poll_interval=0.1)


def operator(flowy, **kwargs) -> FlowyRunAppOperator:
    return FlowyRunAppOperator(task_id="run", app_id=flowy.app_ids["echo"], inputs={"prompt": "p"}, **kwargs)


def test_without_output_dir_outputs_pass_through_untouched(flowy):
    run = completed_run(flowy)
    assert operator(flowy).completed(run)["outputs"] == run.outputs
    assert not [r for r in flowy.control.state()["requests"] if r["path"].startswith("/media/")]


def test_a_file_url_output_dir_gets_one_file_per_media_output(flowy, tmp_path):
    run = completed_run(flowy)
    outputs = operator(flowy, output_dir=f"file://{tmp_path}").completed(run)["outputs"]
    assert outputs["image"]["location"] == f"file://{tmp_path}/{run.run_id}/image.png"
    assert (tmp_path / run.run_id / "image.png").stat().st_size == outputs["image"]["size"]
    assert outputs["caption"] == run.outputs["caption"]


def test_a_download_failure_names_the_output_and_the_run(flowy, tmp_path):
    flowy.control.settings(url_expiry_seconds=0)
    run = completed_run(flowy)
    pattern = f"Flowy run {run.run_id} completed, but its output 'image' could not be stored at .*HTTP 403"
    with pytest.raises(PlatformAPIError, match=pattern) as raised:
        operator(flowy, output_dir=str(tmp_path)).completed(run)
    assert raised.value.run_id == run.run_id and "sig=" not in str(raised.value)


def test_an_unusable_output_dir_is_rejected_before_submitting(flowy):
    with pytest.raises(ConfigurationError, match="output_dir 'nosuch://bucket/x'"):
        operator(flowy, output_dir="nosuch://bucket/x").execute({})
    assert flowy.control.count("starts") == 0


def test_app_id_inputs_and_output_dir_are_templated():
    assert set(FlowyRunAppOperator.template_fields) == {"app_id", "inputs", "output_dir", "conn_id"}
