"""A small client for the Airflow 3 REST API (``/api/v2``) that the harness drives runs through."""

from __future__ import annotations

import datetime
import time
from typing import Any
from urllib.parse import quote

import requests

from harness.processes import wait_until

TERMINAL_RUN_STATES = frozenset({"success", "failed"})
#: times a request answered 500 "Database error" is sent again
DB_ERROR_RETRIES = 3


class AirflowAPI:
    """Authenticated with SimpleAuthManager's ``/auth/token``; every call raises on an HTTP error."""

    def __init__(self, base_url: str, username: str, password: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._credentials = {"username": username, "password": password}
        self._session = requests.Session()
        self._token_at = 0.0

    def _login(self) -> None:
        response = self._session.post(
            f"{self.base_url}/auth/token", json=self._credentials, timeout=self.timeout
        )
        response.raise_for_status()
        self._session.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        self._token_at = time.monotonic()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        if time.monotonic() - self._token_at > 600:
            self._login()
        for retry in range(DB_ERROR_RETRIES + 1):
            response = self._send(method, path, **kwargs)
            if response.status_code == 401:
                self._login()
                response = self._send(method, path, **kwargs)
            # Airflow's answer to a statement that failed, its transaction rolled back: on SQLite under
            # load, "database is locked" -- nothing was written, so the same request goes again
            if not (response.status_code == 500 and "Database error" in response.text):
                break
            time.sleep(1.0 + retry)
        if response.status_code >= 400:
            raise requests.HTTPError(
                f"{method} {path} -> {response.status_code}: {response.text[:500]}", response=response
            )
        return response.json() if response.content else None

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self._session.request(
            method, f"{self.base_url}/api/v2/{path.lstrip('/')}", timeout=self.timeout, **kwargs
        )

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None)

    # -- dags and runs -----------------------------------------------------------------------------
    def dags(self) -> list[dict[str, Any]]:
        return self.get("dags", limit=1000)["dags"]

    def import_errors(self) -> list[dict[str, Any]]:
        return self.get("importErrors", limit=1000)["import_errors"]

    def trigger(self, dag_id: str, conf: dict[str, Any] | None = None, run_id: str | None = None) -> str:
        """Create a manual run, with a logical date of now as the UI's trigger form does; returns its run id."""
        now = datetime.datetime.now(datetime.timezone.utc).isoformat()
        body: dict[str, Any] = {"logical_date": now, "conf": conf or {}}
        if run_id:
            body["dag_run_id"] = run_id
        return self.request("POST", f"dags/{dag_id}/dagRuns", json=body)["dag_run_id"]

    def dag_run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances", limit=1000)[
            "task_instances"
        ]

    def xcom(
        self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1
    ) -> Any:
        entry = self.get(
            f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries/{key}",
            map_index=map_index,
            deserialize="true",
        )
        return entry["value"]

    def xcom_keys(self, dag_id: str, run_id: str, task_id: str = "~") -> list[dict[str, Any]]:
        """XCom entries (no values) of one task, or of every task with ``~``."""
        return self.get(
            f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/xcomEntries", limit=1000
        )["xcom_entries"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        """The task's log for one try as text, worker and triggerer parts together."""
        path = f"dags/{dag_id}/dagRuns/{quote(run_id, safe='')}/taskInstances/{task_id}/logs/{try_number}"
        lines = []
        token = None
        for _ in range(50):
            params: dict[str, Any] = {"map_index": map_index, "full_content": "true"}
            if token:
                params["token"] = token
            body = self.request("GET", path, params=params, headers={"Accept": "application/json"})
            for item in body.get("content") or []:
                if isinstance(item, dict):
                    lines.append(
                        " ".join(str(item.get(k, "")) for k in ("timestamp", "level", "event") if item.get(k))
                    )
                    # a task's exception: its type and message (the frames are left out)
                    lines.extend(
                        f"  {error.get('exc_type')}: {error.get('exc_value')}"
                        for error in item.get("error_detail") or []
                        if isinstance(error, dict)
                    )
                else:
                    lines.append(str(item))
            token = body.get("continuation_token")
            if not token or not body.get("content"):
                break
        return "\n".join(lines)

    def create_connection(self, conn_id: str, value: dict[str, Any], description: str = "") -> None:
        """Store a connection in the metadata DB (``value`` as in ``AIRFLOW_CONN_*`` JSON), replacing one of that id."""
        body = {
            "connection_id": conn_id,
            "description": description,
            **{k: value.get(k) for k in ("conn_type", "host", "login", "password", "schema", "port")},
        }
        self._create_or_patch("connections", conn_id, body, body)

    def pool(self, name: str) -> dict[str, Any]:
        return self.get(f"pools/{name}")

    def set_pool(self, name: str, slots: int, include_deferred: bool = False) -> None:
        body = {
            "name": name,
            "slots": slots,
            "description": "e2e harness",
            "include_deferred": include_deferred,
        }
        self._create_or_patch("pools", name, body, {"slots": slots, "include_deferred": include_deferred})

    def _create_or_patch(
        self, collection: str, key: str, body: dict[str, Any], patch: dict[str, Any]
    ) -> None:
        """POST ``body`` to ``collection``; if ``key`` exists already (409), PATCH it with ``patch``."""
        try:
            self.request("POST", collection, json=body)
        except requests.HTTPError as exc:
            if exc.response is None or exc.response.status_code != 409:
                raise
            self.request("PATCH", f"{collection}/{quote(key, safe='')}", json=patch)

    # -- waiting -----------------------------------------------------------------------------------
    def describe_run(self, dag_id: str, run_id: str) -> str:
        """``task[map]=state`` for every task instance not successful: what a timeout or failure message names."""
        try:
            tis = self.task_instances(dag_id, run_id)
        except requests.RequestException as exc:
            return f"(task instances unavailable: {exc})"
        stuck = [
            f"{task_label(ti)}={ti['state']}"
            for ti in tis
            if ti["state"] not in ("success", "skipped", "removed")
        ]
        return f"{dag_id}/{run_id} tasks not done: {', '.join(stuck) or 'none (run not scheduled yet?)'}"

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
        """Poll until the run is success or failed; a timeout names the tasks still unfinished."""

        def finished() -> dict[str, Any] | None:
            run = self.dag_run(dag_id, run_id)
            return run if run["state"] in TERMINAL_RUN_STATES else None

        return wait_until(
            finished,
            timeout,
            f"dag run {dag_id}/{run_id} finishing",
            describe=lambda: self.describe_run(dag_id, run_id),
        )


def task_label(ti: dict[str, Any]) -> str:
    """``task_id`` or ``task_id[map_index]`` of a task instance from the API."""
    index = ti.get("map_index", -1)
    return ti["task_id"] if index is None or index < 0 else f"{ti['task_id']}[{index}]"
