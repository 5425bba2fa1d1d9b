"""What the tests need to run on every Airflow of the matrix (``make test-matrix``): names that moved,
and skip markers for tests of features a newer Airflow adds (each has a degraded counterpart)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from airflow_workflow_providers.core.compat import AIRFLOW_VERSION, has_feature

try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:  # Airflow < 3.2
    from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow < 3.2
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,attr-defined]
try:
    from airflow.sdk.exceptions import AirflowException
except ImportError:  # Airflow < 3.1
    from airflow.exceptions import AirflowException  # type: ignore[no-redef,attr-defined]
try:
    from airflow.sdk.exceptions import TaskAwaitingInput
except ImportError:  # Airflow < 3.3: a task waiting for a person defers to HITLTrigger instead

    class TaskAwaitingInput(BaseException):  # type: ignore[no-redef]
        """Never raised before Airflow 3.3."""


_VERSION = ".".join(map(str, AIRFLOW_VERSION))

#: the test needs ``task_state_store`` (Airflow >= 3.3)
needs_task_state_store = pytest.mark.skipif(
    not has_feature("task_state_store"),
    reason=f"re-attaching a retry to its run needs task_state_store (Airflow >= 3.3), this is {_VERSION}; "
    "the degraded behaviour has its own test",
)
#: the test shows what happens without ``task_state_store`` (Airflow < 3.3)
lacks_task_state_store = pytest.mark.skipif(
    has_feature("task_state_store"),
    reason=f"Airflow {_VERSION} has task_state_store: the re-attach test covers it",
)

#: the test asks a person in Airflow (its human-in-the-loop API, Airflow >= 3.1)
needs_human_in_the_loop = pytest.mark.skipif(
    not has_feature("human_in_the_loop"),
    reason=f"Airflow {_VERSION} has no human-in-the-loop API (3.1); the construction-time refusal has its own test",
)

#: example DAGs written for a newer Airflow: on an older one their import fails, naming the minimum version
_NEWER_EXAMPLES = {"example_dify_human_input.py": (3, 1, 0)}


def unexpected_import_errors(import_errors: dict[str, str]) -> dict[str, str]:
    """The import errors this Airflow should not show (an example for a newer one must name its minimum)."""
    return {
        path: error
        for path, error in import_errors.items()
        if not (AIRFLOW_VERSION < _NEWER_EXAMPLES.get(Path(path).name, (0,)) and "needs Airflow >=" in error)
    }


def printed_lines(captured: Any) -> list[str]:
    """The lines a test printed (``capfd.readouterr()``), less Airflow 3.0's mask request.

    Airflow 3.0's ``dag.test()`` prints its in-process supervisor's requests at debug level, the one
    asking it to mask a key included; a deployment's task log has no such line.
    """
    lines = (captured.out + captured.err).splitlines()
    if AIRFLOW_VERSION < (3, 1, 0):
        lines = [line for line in lines if "MaskSecret(value=" not in line]
    return lines


__all__ = [
    "AirflowException",
    "DagBag",
    "TaskAwaitingInput",
    "TaskDeferred",
    "lacks_task_state_store",
    "needs_human_in_the_loop",
    "needs_task_state_store",
    "printed_lines",
    "unexpected_import_errors",
]
