"""A fifth platform, defined only in tests/relay, runs through the engine: registry, hook, operator,
the shared trigger (deferred) and the worker's wait (blocking), with no file of the package edited."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_workflow_providers.core.registry import hook_class, package_platforms, platforms
from tests.relay import PLATFORM
from tests.relay.hooks import RelayHook

REPO = Path(__file__).resolve().parents[2]
MODES = ["deferred", "blocking"]


def test_the_package_itself_never_names_the_platform():
    names = re.compile(r"tests\.relay|\bRelay(API|Hook|Emulator|RunJobOperator)\b|[\"']relay[\"']")
    mentions = [p for p in (REPO / "airflow_workflow_providers").rglob("*.py") if names.search(p.read_text())]
    assert mentions == []


def test_registering_makes_it_known_everywhere_the_engine_looks():
    assert platforms()["relay"] is PLATFORM and "relay" not in package_platforms()
    assert hook_class("relay") is RelayHook
    assert (RelayHook.conn_type, RelayHook.default_conn_name, RelayHook.hook_name) == (
        "relay",
        "relay_default",
        "Relay",
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_job_runs_through_the_engine_and_its_outputs_reach_xcom(relay, run_dag, mode):
    result = run_dag(f"relay_job_{mode}", text="hello")
    assert result.state == "success", result.tasks
    run = result.value("run")
    assert (run["status"], run["raw_status"], run["outputs"], run["credits"]) == (
        "succeeded",
        "done",
        {"echo": "hello"},
        2,
    )
    assert relay.control.count("starts") == 1 and relay.control.count("polls") >= 1


@pytest.mark.parametrize("mode", MODES)
def test_a_failed_job_fails_the_task_with_the_platforms_error(relay, run_dag, mode, capsys):
    result = run_dag(f"relay_job_{mode}", text="x", seconds=-1)
    assert result.tasks["run"] == "failed"
    assert "Relay run" in "".join(capsys.readouterr()) and relay.control.count("starts") == 1


def test_bad_inputs_fail_before_anything_is_started(relay, run_dag):
    result = run_dag("relay_job_blocking", text="")
    assert result.tasks["run"] == "failed" and relay.control.count("starts") == 0


def test_the_hook_tests_its_connection_with_the_platforms_own_auth(relay):
    assert RelayHook().test_connection() == (True, "Connected to Relay: account 'emulated'.")


def test_another_distribution_adds_a_platform_through_the_entry_point_group(tmp_path):
    dist = tmp_path / "relay_dist-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: relay-dist\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(
        "[airflow_workflow_providers.platforms]\nrelay = tests.relay.api:PLATFORM\n"
    )
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(tmp_path)!r}, {str(REPO)!r}]
        from airflow_workflow_providers.core.registry import hook_class, platforms
        assert "tests.relay" not in sys.modules  # nothing imported it: the entry point found it
        print(sorted(platforms()), hook_class("relay").__name__)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "['arcee_orchestra',",
        "'dify',",
        "'dify_knowledge',",
        "'flowy',",
        "'relay',",
        "'scade']",
        "RelayHook",
    ]
