"""Flowy DAGs through Airflow's dag.test(), deferrable and blocking."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import requests

from tests.compat import lacks_task_state_store, needs_task_state_store

MODES = ["deferred", "blocking"]
MEDIA_BYTES = 300 * 1024


@pytest.mark.parametrize("mode", MODES)
def test_a_run_succeeds_and_its_outputs_flow_downstream(flowy, run_dag, mode):
    result = run_dag(f"flowy_echo_{mode}", prompt="hello airflow")
    assert result.state == "success", result.tasks
    run = result.value("run")
    assert (run["status"], run["raw_status"], run["app_title"]) == ("succeeded", "completed", "Echo Studio")
    assert result.value("run", "run_id") == run["run_id"]
    assert result.value("use")["caption"] == "HELLO AIRFLOW"
    assert "location" not in run["outputs"]["image"]  # no output_dir: the signed URL as is
    assert list(flowy.control.runs()) == [run["run_id"]]


@pytest.mark.parametrize("mode", MODES)
def test_media_outputs_are_stored_in_output_dir_right_after_completion(flowy, run_dag, mode, tmp_path):
    flowy.control.settings(media_bytes=MEDIA_BYTES)
    result = run_dag(f"flowy_echo_{mode}", prompt="a red fox", output_dir=str(tmp_path / "out"))
    assert result.state == "success", result.tasks
    run = result.value("run")
    image = run["outputs"]["image"]
    stored = Path(image["location"])
    assert stored == tmp_path / "out" / run["run_id"] / "image.png"
    independent = requests.get(image["url"], timeout=10).content  # the original URL is kept beside
    assert (
        hashlib.sha256(stored.read_bytes()).hexdigest()
        == image["sha256"]
        == hashlib.sha256(independent).hexdigest()
    )
    assert image["size"] == stored.stat().st_size == len(independent) == MEDIA_BYTES
    assert run["outputs"]["caption"] == {
        "nodeId": "caption",
        "kind": "text",
        "url": None,
        "text": "a red fox",
    }
    assert result.value("use")["image"] == image


@pytest.mark.parametrize("mode", MODES)
def test_an_output_that_cannot_be_downloaded_fails_the_task(flowy, run_dag, mode, tmp_path):
    flowy.control.settings(url_expiry_seconds=0)
    result = run_dag(f"flowy_echo_{mode}", prompt="gone", output_dir=str(tmp_path))
    assert (result.tasks["run"], result.tasks["use"]) == ("failed", "upstream_failed")
    assert len(flowy.control.runs()) == 1
    assert not list(tmp_path.rglob("*.png"))


@needs_task_state_store
@pytest.mark.parametrize("mode", MODES)
def test_a_retry_after_a_failed_download_reattaches_to_the_run_instead_of_paying_again(
    flowy, run_dag, mode, tmp_path
):
    # a 403 (as for an expired signature) is not retried by the transport: the try fails on the download
    flowy.control.inject("status", r"/media/.*", method="GET", status=403)
    result = run_dag(f"flowy_retry_{mode}", output_dir=str(tmp_path))
    assert result.tasks["run"] == "success"
    assert len(flowy.control.runs()) == 1
    media = [r["status"] for r in flowy.control.state()["requests"] if r["path"].startswith("/media/")]
    assert media == [
        403,
        200,
    ]  # the first try failed on the download, the second re-attached and fetched again
    assert Path(result.value("run")["outputs"]["image"]["location"]).exists()


@lacks_task_state_store
def test_without_task_state_store_a_retry_pays_for_a_new_run_and_says_so(flowy, run_dag, tmp_path, capfd):
    # a 403 (as for an expired signature) is not retried by the transport: the try fails on the download
    flowy.control.inject("status", r"/media/.*", method="GET", status=403)
    result = run_dag("flowy_retry_blocking", output_dir=str(tmp_path))
    assert result.tasks["run"] == "success"
    assert len(flowy.control.runs()) == 2  # the retry paid for a second run
    logged = " ".join("".join(capfd.readouterr()).split())
    assert "a retry of this task that starts over cannot re-attach to the run this try starts" in logged


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_run_fails_the_task(flowy, run_dag, mode):
    result = run_dag(f"flowy_failure_{mode}")
    assert result.tasks["run"] == "failed"
    assert ("run", "return_value") not in result.xcom
    assert ("run", "run_id") in result.xcom


@pytest.mark.parametrize("mode", MODES)
def test_a_timeout_fails_the_task(flowy, run_dag, mode):
    result = run_dag(f"flowy_timeout_{mode}")
    assert result.tasks["run"] == "failed"
    assert len(flowy.control.runs()) == 1


@pytest.mark.parametrize("mode", MODES)
def test_invalid_inputs_fail_before_submitting(flowy, run_dag, mode):
    result = run_dag(f"flowy_invalid_{mode}")
    assert result.tasks["run"] == "failed"
    assert flowy.control.count("starts") == 0


@pytest.mark.parametrize("mode", MODES)
def test_the_sensor_waits_for_a_run_started_elsewhere(flowy, run_dag, mode):
    result = run_dag(f"flowy_sensor_{mode}")
    assert result.state == "success", result.tasks
    assert result.value("wait")["status"] == "succeeded"
    assert result.value("wait")["run_id"] == result.value("start", "run_id")
    assert len(flowy.control.runs()) == 1


def test_the_example_dag_runs_and_stores_its_image_under_airflow_home(flowy, run_dag):
    result = run_dag("example_flowy")
    assert result.state == "success", result.tasks
    published = result.value("publish")
    assert published["caption"] == "A lighthouse at dawn, watercolour"
    stored = Path(published["image"])
    assert stored.is_relative_to(Path(os.environ["AIRFLOW_HOME"], "flowy-outputs"))
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == published["sha256"]
