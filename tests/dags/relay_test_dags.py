"""DAGs of the Relay platform (defined in tests/relay, not in the package), deferrable and blocking.

Connection (set by the tests): ``relay_default`` -> the Relay emulator.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG

from tests.relay.operators import RelayRunJobOperator

for mode, deferrable in (("deferred", True), ("blocking", False)):
    with DAG(f"relay_job_{mode}", schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False):
        RelayRunJobOperator(
            task_id="run",
            inputs={
                "text": "{{ dag_run.conf['text'] }}",
                "seconds": "{{ dag_run.conf.get('seconds', 0.3) }}",
            },
            deferrable=deferrable,
            poll_interval=0.2,
            timeout=20,
            retries=0,
        )
