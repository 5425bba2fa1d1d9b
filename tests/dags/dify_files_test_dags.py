"""DAGs the Dify file-output tests run with dag.test(), each in deferrable and blocking mode.

Connection (set by the tests): ``dify_default`` -> the emulator's echo app, which answers its
``attachment`` input as a file output behind a URL signed for 5 minutes. ``dag_run.conf`` gives the
``output_dir``.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.hooks import DifyHook
from airflow_workflow_providers.dify.operators import DifyRunWorkflowOperator

for mode, deferrable in (("deferred", True), ("blocking", False)):
    with DAG(
        f"dify_files_{mode}",
        schedule=None,
        start_date=datetime.datetime(2024, 1, 1),
        catchup=False,
        render_template_as_native_obj=True,
    ) as dag:

        @task
        def upload() -> dict:
            """Upload a report for the workflow to work on; its file output comes back signed."""
            import pathlib
            import tempfile

            path = pathlib.Path(tempfile.mkdtemp()) / "report.txt"
            path.write_text("quarterly numbers\n" * 100)
            uploaded = DifyHook().upload_file(path, user="airflow-files")
            return {"type": "document", "transfer_method": "local_file", "upload_file_id": uploaded["id"]}

        DifyRunWorkflowOperator(
            task_id="run",
            inputs={"query": "keep the file", "attachment": upload()},
            output_dir="{{ dag_run.conf['output_dir'] }}",
            deferrable=deferrable,
            poll_interval=0.2,
            retries=0,
        )
    globals()[dag.dag_id] = dag
