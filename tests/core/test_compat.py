"""The provider on each Airflow of the matrix: where names live, the version check, and explicit
degradation where a feature needs a newer Airflow."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import version

import pytest

from airflow_workflow_providers.core import compat

MODULES = [
    *(
        f"airflow_workflow_providers.{platform}.{module}"
        for platform in ("dify", "scade", "arcee", "flowy")
        for module in ("hooks", "operators", "sensors")
    ),
    "airflow_workflow_providers.core.trigger",
]


def test_versions_parse_with_and_without_suffixes():
    assert compat.parse_version("3.1.8") == (3, 1, 8)
    assert compat.parse_version("3.3.0rc1") == (3, 3, 0)
    assert compat.parse_version("3.2.0.dev0+astro.1") == (3, 2, 0)
    assert compat.parse_version("3") == (3, 0, 0)
    with pytest.raises(ValueError, match="not a version"):
        compat.parse_version("main")


def test_the_running_version_is_the_installed_airflow():
    assert compat.AIRFLOW_VERSION == compat.parse_version(version("apache-airflow"))


def test_the_features_of_airflow_3_3_are_available_exactly_from_3_3():
    for name in ("trigger_on_kill", "task_state_store"):
        assert compat.has_feature(name) == (compat.AIRFLOW_VERSION >= (3, 3, 0))


@pytest.mark.parametrize("module", MODULES)
def test_importing_the_provider_on_airflow_2_fails_with_one_message_naming_the_minimum(tmp_path, module):
    # a stub "airflow" package ahead of the real one on sys.path: Airflow 2 itself is not installed
    (tmp_path / "airflow").mkdir()
    (tmp_path / "airflow" / "__init__.py").write_text('__version__ = "2.10.5"\n')
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-c", f"import {module}"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "ImportError: airflow-workflow-providers needs Apache Airflow >= 3.0.0; this is Airflow 2.10.5."
    )


def test_a_deferred_task_logs_one_line_per_guarantee_this_airflow_lacks(
    dify_emulator, emulator_connection, run_dag, capfd
):
    emulator_connection(dify_emulator, "dify_default")
    assert run_dag("dify_echo_deferred", query="q").state == "success"
    logged = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", "".join(capfd.readouterr())).split())
    running = ".".join(map(str, compat.AIRFLOW_VERSION))
    for name in ("trigger_on_kill", "task_state_store"):
        line = f"On Airflow {running}, {compat.FEATURES[name][1]}."
        assert (line in logged) == (not compat.has_feature(name)), name
