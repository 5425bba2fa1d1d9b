"""Test session setup: a throwaway AIRFLOW_HOME whose dags folder holds the test and example DAGs."""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
_HOME = Path(tempfile.mkdtemp(prefix="awp-airflow-home-"))
atexit.register(shutil.rmtree, _HOME, ignore_errors=True)
_DAGS = _HOME / "dags"
_DAGS.mkdir()
for dag_file in [*(REPO / "tests" / "dags").glob("*.py"), *(REPO / "example_dags").glob("*.py")]:
    (_DAGS / dag_file.name).symlink_to(dag_file)
os.environ.update(
    AIRFLOW_HOME=str(_HOME),
    AIRFLOW__CORE__DAGS_FOLDER=str(_DAGS),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    # dag.test() has no worker heartbeat to wait for: keep the trigger's settle time (core/trigger.py) short
    AIRFLOW__WORKERS__MIN_HEARTBEAT_INTERVAL="0",
)


@dataclass
class DagResult:
    state: str
    tasks: dict[str, str] = field(default_factory=dict)
    #: (task_id, key) -> value
    xcom: dict[tuple[str, str], Any] = field(default_factory=dict)

    def value(self, task_id: str, key: str = "return_value") -> Any:
        return self.xcom[(task_id, key)]


@pytest.fixture(autouse=True)
def _fresh_connection_lookups():
    """Each test sees its own connections: what a trigger looked up in an earlier test is forgotten."""
    from airflow_workflow_providers.core.connections import forget

    forget()


@pytest.fixture
def quick_find(monkeypatch):
    """Look for a start whose answer was lost without the real pauses between attempts."""
    monkeypatch.setattr("airflow_workflow_providers.core.hook.FIND_PAUSE", 0.1)


@pytest.fixture(scope="session")
def airflow_home() -> Path:
    return _HOME


@pytest.fixture(scope="session")
def airflow_db() -> None:
    from airflow.utils import db

    db.resetdb()


@pytest.fixture(scope="session")
def one_execution_api() -> None:
    """``dag.test()`` serves its tasks through Airflow's in-process Execution API. Before 3.3 it builds
    that app anew for every task (and for every trigger it runs): about a second of CPU each on 3.2, and a
    loop thread left behind each time. 3.3 builds it once (``lru_cache`` on ``in_process_api_server``);
    the older releases get the same cache here, so the matrix measures our code, not that rebuild."""
    from airflow.sdk.execution_time import supervisor

    if not hasattr(supervisor.in_process_api_server, "cache_info"):
        supervisor.in_process_api_server = functools.lru_cache(maxsize=1)(supervisor.in_process_api_server)


@pytest.fixture
def run_dag(airflow_db, one_execution_api):
    """Run one DAG of the dags folder with ``dag.test()``; return its state, task states and XComs."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    from tests.compat import DagBag

    bag = DagBag(str(_DAGS))

    def run(dag_id: str, **run_conf: Any) -> DagResult:
        assert dag_id in bag.dags, f"{dag_id} not found; import errors: {bag.import_errors}"
        dag_run = bag.dags[dag_id].test(run_conf=run_conf or None)
        result = DagResult(str(dag_run.state))
        with create_session() as session:
            for ti in dag_run.get_task_instances(session=session):
                result.tasks[ti.task_id] = str(ti.state)
            rows = session.query(XComModel).filter_by(dag_id=dag_id, run_id=dag_run.run_id)
            result.xcom = {(row.task_id, row.key): XComModel.deserialize_value(row) for row in rows}
        return result

    return run
