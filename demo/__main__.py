"""Run every example DAG through Airflow against the bundled emulators and print each run's outcome.

A throwaway AIRFLOW_HOME under ``.demo/`` holds the metadata DB; the emulators run in this process on
loopback, and ``AIRFLOW_CONN_*`` variables point each platform's default connection at its emulator.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
HOME = REPO / ".demo" / "airflow-home"
#: example DAG -> the emulator it needs, and the connection ids that point at it
EMULATED = {"dify": ["dify_default"], "scade": ["scade_default"], "arcee": ["arcee_orchestra_default"], "flowy": ["flowy_default"]}


def main() -> int:
    shutil.rmtree(HOME, ignore_errors=True)
    (HOME / "dags").mkdir(parents=True)
    for example in sorted((REPO / "example_dags").glob("example_*.py")):
        (HOME / "dags" / example.name).symlink_to(example)
    os.environ.update(
        AIRFLOW_HOME=str(HOME), AIRFLOW__CORE__DAGS_FOLDER=str(HOME / "dags"), AIRFLOW__CORE__LOAD_EXAMPLES="False"
    )

    from airflow_workflow_providers.testing import start_emulator

    emulators = [start_emulator(platform) for platform in EMULATED]
    for emulator in emulators:
        for conn_id in EMULATED[emulator.platform]:
            name, value = emulator.connection(conn_id)
            os.environ[name] = value
        print(f"{emulator.platform:<7} emulator at {emulator.base_url}")

    from airflow.dag_processing.dagbag import DagBag
    from airflow.models.xcom import XComModel
    from airflow.utils import db
    from airflow.utils.session import create_session

    db.resetdb()
    bag = DagBag(str(HOME / "dags"))
    rows, failed = [], False
    for dag_id, dag in sorted(bag.dags.items()):
        dag_run = dag.test()
        failed |= str(dag_run.state) != "success"
        with create_session() as session:
            for row in session.query(XComModel).filter_by(dag_id=dag_id, run_id=dag_run.run_id, key="return_value"):
                value = XComModel.deserialize_value(row)
                if isinstance(value, dict) and "run_id" in value:
                    rows.append((dag_id, row.task_id, value))
        if str(dag_run.state) != "success":
            rows.append((dag_id, "-", {"status": str(dag_run.state), "run_id": "-", "outputs": "see the log above"}))
    for emulator in emulators:
        emulator.stop()

    print("\n" + f"{'DAG':<18} {'task':<12} {'remote run id':<38} {'status':<10} outputs")
    for dag_id, task_id, value in rows:
        outputs = textwrap.shorten(str(value.get("outputs")), 60)
        print(f"{dag_id:<18} {task_id:<12} {value['run_id']:<38} {value['status']:<10} {outputs}")
    if bag.import_errors:
        print(f"\nimport errors: {bag.import_errors}")
    return 1 if failed or bag.import_errors else 0


if __name__ == "__main__":
    sys.exit(main())
