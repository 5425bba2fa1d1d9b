"""The task's "Remote run" button: the run's page in the platform's own web app, where it has one."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperatorLink

#: the XCom key under which an operator stores its run's page, when the platform can name one
RUN_URL_KEY = "run_url"


class RemoteRunLink(BaseOperatorLink):
    name = "Remote run"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        from airflow.sdk.execution_time.xcom import XCom

        return XCom.get_value(ti_key=ti_key, key=RUN_URL_KEY) or ""
