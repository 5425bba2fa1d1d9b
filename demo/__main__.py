"""``make demo``: a real Airflow deployment on loopback runs every example DAG against the emulators.

The harness (``harness/``) starts the emulators, then api-server, scheduler (LocalExecutor),
dag-processor and triggerer in ``.demo/airflow-home``; every example DAG is triggered through the
REST API; a table of the remote runs is printed with how to open the Airflow UI; then the deployment
keeps running until Ctrl-C (``DEMO_EXIT=1``: exit right away, for CI).

``AIRFLOW_CONN_<CONN_ID>`` variables set in the environment replace the emulator connection of the
same id, so the same DAGs run against the real platforms; ``DEMO_CONF`` (JSON, dag id -> run conf) sets
their params, e.g. your own workflow id (docs/e2e.md).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness.api import AirflowAPI, task_label  # noqa: E402
from harness.session import EXAMPLE_DAGS, e2e_deployment  # noqa: E402

HOME = REPO / ".demo" / "airflow-home"
PORT = int(os.environ.get("DEMO_PORT", "8080"))


def _port() -> int | None:
    """DEMO_PORT (8080) when it is free, so the UI URL is a familiar one; else any free port."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind(("127.0.0.1", PORT))
        except OSError:
            return None
    return PORT


def _platform(module_path: str) -> str:
    from airflow_workflow_providers.core.registry import PLATFORMS

    for info in PLATFORMS.values():
        if module_path.split(".")[:2] == info.hook.split(".")[:2]:
            return info.name
    return "-"


def rows_of(api: AirflowAPI, dag_id: str, run_id: str) -> list[list[str]]:
    """One row per task instance that started a remote run (or per failed task)."""
    classes = {t["task_id"]: t.get("class_ref") or {} for t in api.get(f"dags/{dag_id}/tasks")["tasks"]}
    rows = []
    for ti in api.task_instances(dag_id, run_id):
        keys = {x["key"] for x in api.xcom_keys(dag_id, run_id, ti["task_id"]) if x["map_index"] == ti["map_index"]}
        if "run_id" not in keys and ti["state"] == "success":
            continue
        remote = api.xcom(dag_id, run_id, ti["task_id"], "run_id", ti["map_index"]) if "run_id" in keys else "-"
        result: Any = api.xcom(dag_id, run_id, ti["task_id"], map_index=ti["map_index"]) if "return_value" in keys else {}
        status = result.get("status", ti["state"]) if isinstance(result, dict) else ti["state"]
        outputs = result.get("outputs") if isinstance(result, dict) else None
        if ti["state"] != "success":
            outputs = f"task {ti['state']}: see its log in the UI"
        rows.append([dag_id, task_label(ti), _platform(classes.get(ti["task_id"], {}).get("module_path", "")),
                     str(remote), str(status), f"{ti.get('duration') or 0:.1f}",
                     textwrap.shorten(str(outputs), 48, placeholder="…")])
    return rows


def table(rows: list[list[str]]) -> str:
    header = ["DAG", "task", "platform", "remote run id", "status", "seconds", "outputs"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (e.g. `make demo &`), and
    # SIGTERM exits through the same teardown: every process the harness started is ended by pid
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shutil.rmtree(HOME, ignore_errors=True)
    real = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}
    print("Starting Airflow (api-server, scheduler + LocalExecutor, dag-processor, triggerer) and the emulators…",
          flush=True)
    started = time.monotonic()
    with e2e_deployment((EXAMPLE_DAGS,), connections=real, home=HOME, port=_port(), keep_logs=lambda: True) as (
        deployment, emulators,
    ):
        api = deployment.api
        print(f"Ready in {time.monotonic() - started:.0f} s. Emulators: "
              + ", ".join(f"{p} {e.base_url}" for p, e in emulators.running.items()), flush=True)
        for name in sorted(real):
            print(f"  {name[len('AIRFLOW_CONN_'):].lower()}: from your environment (not the emulator)")
        _, errors = deployment.parse_state()
        dags = sorted(d["dag_id"] for d in api.dags())
        confs = json.loads(os.environ.get("DEMO_CONF") or "{}")
        runs = {dag_id: api.trigger(dag_id, conf=confs.get(dag_id)) for dag_id in dags}
        print(f"Triggered {len(runs)} example DAGs through the REST API: {', '.join(runs)}", flush=True)
        rows, failed = [], []
        for dag_id, run_id in runs.items():
            try:
                state = api.wait_for_run(dag_id, run_id, timeout=300)["state"]
            except TimeoutError as exc:
                state = f"stuck ({exc})"
            if state != "success":
                failed.append(f"{dag_id}: {state}")
            rows.extend(rows_of(api, dag_id, run_id))
        print("\n" + table(rows) + "\n")
        for path, trace in errors.items():
            failed.append(f"{path}: import error\n{textwrap.indent(trace.strip(), '    ')}")
        for problem in failed:
            print(f"FAILED {problem}")
        print(f"Airflow UI: {deployment.url}   user: {deployment.username}   password: {deployment.password}")
        print(f"Logs: {deployment.home}")
        if os.environ.get("DEMO_EXIT") == "1":
            return 1 if failed else 0
        print("Running until Ctrl-C (trigger the DAGs again from the UI).", flush=True)
        try:
            while all(p.alive() for p in deployment.processes.values()):
                time.sleep(1)
            print("An Airflow process exited; stopping. Logs:", deployment.home)
            return 1
        except KeyboardInterrupt:
            print("\nStopping…")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
