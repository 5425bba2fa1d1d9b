"""OpenLineage: operators describe the remote run and the files they stored; no cost without the provider."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

MODES = ["deferred", "blocking"]


@pytest.fixture(scope="module")
def lineage_home(tmp_path_factory):
    """An Airflow home of its own for the ``airflow dags test`` processes: their metadata database is not
    the test session's, which stays open in this process (and whose file a forked listener must not touch)."""
    from tests.conftest import _DAGS

    home = tmp_path_factory.mktemp("lineage-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__DATABASE__"))}
    env.update(AIRFLOW_HOME=str(home), AIRFLOW__CORE__DAGS_FOLDER=str(_DAGS))
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=env,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return env


def _dags_test(home_env: dict, dag_id: str, conf: dict, events_file) -> list[dict]:
    """Run a DAG with ``airflow dags test`` in a fresh process whose OpenLineage transport writes to a file."""
    env = {
        **home_env,
        # the emulator connections the test just set
        **{k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")},
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "tests",
        # the listener emits from a forked process it stops after this many seconds (default 10): ample
        # on a loaded machine, so a slow fork cannot lose the event
        "AIRFLOW__OPENLINEAGE__EXECUTION_TIMEOUT": "120",
    }
    done = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", dag_id, "-c", json.dumps(conf)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads(line) for line in events_file.read_text().splitlines() if line.strip()]


def _complete_event(events: list[dict], job_name: str) -> dict:
    matching = [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"] == job_name]
    assert len(matching) == 1, [(e["eventType"], e["job"]["name"]) for e in events]
    return matching[0]


@pytest.mark.parametrize("mode", MODES)
def test_a_flowy_run_is_an_external_run_and_its_stored_media_are_output_datasets(
    flowy_emulator, emulator_connection, lineage_home, tmp_path, mode
):
    emulator_connection(flowy_emulator)
    output_dir = tmp_path / "media"
    events = _dags_test(
        lineage_home,
        f"flowy_echo_{mode}",
        {"prompt": "lineage", "output_dir": str(output_dir)},
        tmp_path / "ol.jsonl",
    )
    event = _complete_event(events, f"flowy_echo_{mode}.run")
    (run_id,) = flowy_emulator.control.runs()

    facets = event["run"]["facets"]
    assert facets["externalQuery"]["externalQueryId"] == run_id
    assert facets["externalQuery"]["source"] == f"flowy://127.0.0.1:{flowy_emulator.port}"
    tags = {tag["key"]: tag["value"] for tag in facets["tags"]["tags"] if tag["source"] == "flowy"}
    assert tags == {"platform": "Flowy", "run_id": run_id}  # Flowy publishes no page per run

    stored = sorted(p for p in (output_dir / run_id).iterdir())
    assert stored, "the DAG stored no media: the test checks nothing"
    outputs = {(o["namespace"], o["name"]): o for o in event["outputs"]}
    assert set(outputs) == {("file", str(p)) for p in stored}
    for path in stored:
        statistics = outputs[("file", str(path))]["outputFacets"]["outputStatistics"]
        assert (statistics["size"], statistics["fileCount"]) == (path.stat().st_size, 1)


def test_a_dify_run_reports_its_page_in_the_console(
    dify_emulator, emulator_connection, lineage_home, tmp_path
):
    emulator_connection(dify_emulator)
    events = _dags_test(lineage_home, "dify_echo_blocking", {"query": "lineage"}, tmp_path / "ol.jsonl")
    facets = _complete_event(events, "dify_echo_blocking.run")["run"]["facets"]
    tags = {tag["key"]: tag["value"] for tag in facets["tags"]["tags"] if tag["source"] == "dify"}
    (run_id,) = dify_emulator.control.runs()
    assert facets["externalQuery"]["externalQueryId"] == tags["run_id"] == run_id
    assert tags["platform"] == "Dify" and tags["run_url"].startswith(
        f"http://127.0.0.1:{dify_emulator.port}/app/"
    )


def test_parsing_dags_and_importing_operators_does_not_import_openlineage():
    code = (
        "import sys\n"
        "try:\n    from airflow.dag_processing.dagbag import DagBag\n"
        "except ImportError:\n    from airflow.models.dagbag import DagBag\n"
        "from airflow_workflow_providers.flowy.operators import FlowyRunAppOperator\n"
        "import airflow_workflow_providers.dify.operators, airflow_workflow_providers.scade.sensors\n"
        "bag = DagBag(sys.argv[1])\n"
        "assert bag.dags\n"
        # Airflow itself reads the OpenLineage provider's metadata; its client and extractors stay unloaded
        "lineage = {'openlineage', 'airflow.providers.openlineage.extractors'}\n"
        "loaded = sorted(lineage & set(sys.modules))\n"
        "assert not loaded, loaded\n"
        "print(json.dumps(bag.import_errors))\n"
    )
    from tests.compat import unexpected_import_errors
    from tests.conftest import _DAGS

    done = subprocess.run(
        [sys.executable, "-c", "import json\n" + code, str(_DAGS)],
        check=True,
        timeout=300,
        capture_output=True,
        text=True,
    )
    assert unexpected_import_errors(json.loads(done.stdout.splitlines()[-1])) == {}


def test_every_stored_file_is_an_output_dataset_wherever_it_sits_in_the_outputs():
    from airflow_workflow_providers.core.lineage import run_lineage
    from airflow_workflow_providers.core.model import RunRef
    from airflow_workflow_providers.dify.hooks import DifyHook

    result = {
        "run_id": "r1",
        "outputs": {
            "text": "no file",
            "attachment": {"url": "https://x/a", "location": "file:///data/r1/attachment.txt", "size": 3},
            "files": [{"url": "https://x/b", "location": "s3://bucket/runs/r1/files_0.png", "size": 5}],
            "nested": {"report": {"url": "https://x/c", "location": "/data/r1/report.pdf", "size": 7}},
        },
    }
    lineage = run_lineage(DifyHook(), RunRef("r1"), result)
    datasets = {(d.namespace, d.name): d.outputFacets["outputStatistics"].size for d in lineage.outputs}
    assert datasets == {
        ("file", "/data/r1/attachment.txt"): 3,
        ("s3://bucket", "runs/r1/files_0.png"): 5,
        ("file", "/data/r1/report.pdf"): 7,
    }
    # a hook that never read its connection: the platform's default host, and no run page invented
    assert lineage.run_facets["externalQuery"].source == "dify://api.dify.ai"
    tags = {tag.key: tag.value for tag in lineage.run_facets["tags"].tags}
    assert tags == {"platform": "Dify", "run_id": "r1"}
