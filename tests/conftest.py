"""Test session setup: a throwaway AIRFLOW_HOME whose dags folder holds the test and example DAGs."""

from __future__ import annotations

import atexit
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


@pytest.fixture
def run_dag(airflow_db):
    """Run one DAG of the dags folder with ``dag.test()``; return its state, task states and XComs."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

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
