"""``make demo``: a real Airflow deployment on loopback runs every example DAG against the emulators.

The harness (``harness/``) starts the emulators, then api-server, scheduler (LocalExecutor),
dag-processor and triggerer in ``.demo/airflow-home``; every example DAG (and ``demo/dags``: one run
that fails on purpose) is triggered through the REST API. The emulators' runs last 30-60 s here, so
the demo prints, and the UI's grid shows, the tasks deferred on the triggerer while no worker slot is
in use; then a table of the remote runs and how to open the Airflow UI. The deployment keeps running
until Ctrl-C (``DEMO_EXIT=1``: exit right away, for CI).

The emulators' connections are stored in the metadata DB (the UI's Connections page lists them, with
new random keys at every start) and ``[core] test_connection`` is enabled, so their *Test* button works.

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
DEMO_DAGS = REPO / "demo" / "dags"
PORT = int(os.environ.get("DEMO_PORT", "8080"))
#: the demo's DAGs that fail on purpose (they are not a failure of the demo)
FAILS_ON_PURPOSE = {"demo_failing_run"}
#: DAGs whose task asks a person (a required action): task, option chosen, params the demo answers with
ASKS_A_PERSON = {"example_dify_human_input": ("approval", "Approve", {"comment": "approved by make demo"})}
#: the emulators' pace in the demo: (seconds queued, factor stretching their 0.2 s runs), so that a run
#: lasts 45-60 s and shows its states change (Dify has no queued state: its start would wait it out)
PACE = {"dify": (0.1, 225), "scade": (8, 200), "arcee_orchestra": (8, 225), "flowy": (8, 250)}
#: the deployment's worker slots (LocalExecutor parallelism)
WORKER_SLOTS = 4


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
    from airflow_workflow_providers.core.registry import platforms

    for info in platforms().values():
        if module_path.split(".")[:2] == info.hook.split(".")[:2]:
            return info.name
    return "-"


def rows_of(api: AirflowAPI, dag_id: str, run_id: str) -> list[list[str]]:
    """One row per task instance that started a remote run (or per failed task)."""
    classes = {t["task_id"]: t.get("class_ref") or {} for t in api.get(f"dags/{dag_id}/tasks")["tasks"]}
    rows = []
    for ti in api.task_instances(dag_id, run_id):
        keys = {
            x["key"]
            for x in api.xcom_keys(dag_id, run_id, ti["task_id"])
            if x["map_index"] == ti["map_index"]
        }
        if "run_id" not in keys and ti["state"] == "success":
            continue
        remote = (
            api.xcom(dag_id, run_id, ti["task_id"], "run_id", ti["map_index"]) if "run_id" in keys else "-"
        )
        result: Any = (
            api.xcom(dag_id, run_id, ti["task_id"], map_index=ti["map_index"])
            if "return_value" in keys
            else {}
        )
        status = result.get("status", ti["state"]) if isinstance(result, dict) else ti["state"]
        outputs = result.get("outputs") if isinstance(result, dict) else None
        if ti["state"] != "success":
            outputs = f"task {ti['state']}: see its log in the UI"
        rows.append(
            [
                dag_id,
                task_label(ti),
                _platform(classes.get(ti["task_id"], {}).get("module_path", "")),
                str(remote),
                str(status),
                f"{ti.get('duration') or 0:.1f}",
                textwrap.shorten(str(outputs), 48, placeholder="…"),
            ]
        )
    return rows


def watch_waiting(api: AirflowAPI, runs: dict[str, str], timeout: float = 600) -> None:
    """Print, whenever it changes, how many tasks wait on the triggerer and how many worker slots are
    in use, until every DAG run has ended (answering the required actions); then the moment with the most
    tasks deferred."""
    best, last, deadline = (0, 0), None, time.monotonic() + timeout
    asking = {dag_id: run_id for dag_id, run_id in runs.items() if dag_id in ASKS_A_PERSON}
    while time.monotonic() < deadline:
        for dag_id, run_id in list(asking.items()):
            if answer_if_asked(api, dag_id, run_id):
                del asking[dag_id]
        states = [ti["state"] for dag_id, run_id in runs.items() for ti in api.task_instances(dag_id, run_id)]
        now = (states.count("deferred"), states.count("running"))
        if now != last:
            print(f"  {time.strftime('%H:%M:%S')}  {waiting_line(*now)}", flush=True)
            last = now
        if now[0] > best[0] or (now[0] == best[0] and now[1] < best[1]):
            best = now
        if all(
            api.dag_run(dag_id, run_id)["state"] in ("success", "failed") for dag_id, run_id in runs.items()
        ):
            break
        time.sleep(1)
    print(
        f"At most {waiting_line(*best)}: a deferred task holds no worker slot while its remote run goes on.",
        flush=True,
    )


def waiting_line(deferred: int, running: int) -> str:
    return (
        f"{deferred} run{'s' if deferred != 1 else ''} waiting on the triggerer, "
        f"{running} worker slot{'s' if running != 1 else ''} in use (of {WORKER_SLOTS})"
    )


def reason(api: AirflowAPI, dag_id: str, run_id: str) -> str:
    """What a failed DAG run's failed task said first about its failure."""
    for ti in api.task_instances(dag_id, run_id):
        if ti["state"] == "failed":
            log = api.task_log(dag_id, run_id, ti["task_id"], ti["try_number"], ti["map_index"])
            line = next((line for line in log.splitlines() if "The task fails:" in line), "")
            return (
                line.partition("The task fails:")[2].strip() or f"task {ti['task_id']} failed (see its log)"
            )
    return "no failed task"


def table(rows: list[list[str]]) -> str:
    header = ["DAG", "task", "platform", "remote run id", "status", "seconds", "outputs"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def answer_if_asked(api: Any, dag_id: str, run_id: str) -> bool:
    """Answer the run's required action over Airflow's REST API, as a person would in Browse > Required
    Actions, once its task awaits input; whether it was answered."""
    task_id, option, params = ASKS_A_PERSON[dag_id]
    states = {ti["task_id"]: ti["state"] for ti in api.task_instances(dag_id, run_id)}
    if states.get(task_id) != "awaiting_input":  # Airflow 3.3, the demo's Airflow
        return False
    time.sleep(3)  # a person takes longer than the executor's report of the parked try (see tests/e2e)
    path = f"dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/-1/hitlDetails"
    subject = api.get(path)["subject"]
    api.request("PATCH", path, json={"chosen_options": [option], "params_input": params})
    print(f"{dag_id}: answered its required action {subject!r} with {option!r} over the REST API", flush=True)
    return True


def main() -> int:
    sys.stdout.reconfigure(line_buffering=True)
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (e.g. `make demo &`), and
    # SIGTERM exits through the same teardown: every process the harness started is ended by pid
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    shutil.rmtree(HOME, ignore_errors=True)
    real = {k: v for k, v in os.environ.items() if k.startswith("AIRFLOW_CONN_")}
    print(
        "Starting Airflow (api-server, scheduler + LocalExecutor, dag-processor, triggerer) and the emulators…",
        flush=True,
    )
    started = time.monotonic()
    # the run that fails on purpose needs the Scade emulator, not a real Scade account
    folders = (EXAMPLE_DAGS,) if "AIRFLOW_CONN_SCADE_DEFAULT" in real else (EXAMPLE_DAGS, DEMO_DAGS)
    with e2e_deployment(
        folders,
        connections=real,
        home=HOME,
        port=_port(),
        keep_logs=lambda: True,
        connections_in_db=True,
        parallelism=WORKER_SLOTS,
        config={"AIRFLOW__CORE__TEST_CONNECTION": "Enabled"},
    ) as (deployment, emulators):
        api = deployment.api
        for key, emulator in emulators.running.items():
            queued, stretch = PACE.get(key, (8, 225))
            emulator.control.settings(queued_seconds=queued, run_seconds_multiplier=stretch)
        print(
            f"Ready in {time.monotonic() - started:.0f} s. Emulators: "
            + ", ".join(f"{p} {e.base_url}" for p, e in emulators.running.items()),
            flush=True,
        )
        print(
            "Their connections are in the metadata DB (UI: Admin > Connections, with a working Test button)."
        )
        for name in sorted(real):
            print(f"  {name[len('AIRFLOW_CONN_') :].lower()}: from your environment (not the emulator)")
        _, errors = deployment.parse_state()
        dags = sorted(d["dag_id"] for d in api.dags())
        confs = json.loads(os.environ.get("DEMO_CONF") or "{}")
        runs = {dag_id: api.trigger(dag_id, conf=confs.get(dag_id)) for dag_id in dags}
        print(
            f"Triggered {len(runs)} DAGs through the REST API: {', '.join(runs)}. The emulated runs take "
            f"30-60 s; watch them in the UI at {deployment.url} (user {deployment.username}, "
            f"password {deployment.password}).",
            flush=True,
        )
        watch_waiting(api, runs)
        rows, failed = [], []
        for dag_id, run_id in runs.items():
            try:
                state = api.wait_for_run(dag_id, run_id, timeout=300)["state"]
            except TimeoutError as exc:
                state = f"stuck ({exc})"
            if dag_id in FAILS_ON_PURPOSE and state == "failed":
                print(f"{dag_id} failed, as it should, saying: {reason(api, dag_id, run_id)}")
            elif state != "success":
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
