"""Import and parse cost, each measurement in a fresh interpreter.

- Own import time of each platform's operator module beyond what a DAG file already imports
  (``airflow.sdk``): ``python -X importtime``, summing the self time of the modules the operator
  import adds, split into ours (``airflow_workflow_providers.*``) and third-party ones it pulls in.
- Parse time of a DAG file with 1000 of our operators (``DagBag`` on that file alone), with every
  socket connect and every connection lookup counted (both must stay at zero).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

OPERATORS = {
    "dify": (
        "airflow_workflow_providers.dify.operators",
        "DifyRunWorkflowOperator",
        "inputs={'query': 'q {{ ds }}'}",
    ),
    "scade": (
        "airflow_workflow_providers.scade.operators",
        "ScadeRunFlowOperator",
        "flow_id=1, start_node_id='s', end_node_id='e', inputs={'q': 'x'}",
    ),
    "arcee": (
        "airflow_workflow_providers.arcee.operators",
        "ArceeOrchestraRunWorkflowOperator",
        "workflow_id='wf', inputs={'q': 'x'}",
    ),
    "flowy": (
        "airflow_workflow_providers.flowy.operators",
        "FlowyRunAppOperator",
        "app_id='a', inputs={'q': 'x'}",
    ),
}
BASELINE = "airflow.sdk"


def _importtime(module: str) -> dict[str, float]:
    """Seconds of self time, by origin, of the modules that importing ``module`` adds to ``BASELINE``."""
    code = f"import {BASELINE}; import {module}"
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:") and "|" in line]
    # importtime prints a module when its import finishes: the lines after the baseline's own are ours
    last_baseline = max(i for i, line in enumerate(lines) if line.rsplit("|", 1)[1].strip() == BASELINE)
    own = other = 0.0
    for line in lines[last_baseline + 1 :]:
        self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        if name.strip().startswith("airflow_workflow_providers"):
            own += int(self_us) / 1e6
        else:
            other += int(self_us) / 1e6
    return {"own_s": own, "third_party_s": other, "total_s": own + other}


def import_times(repeats: int) -> dict[str, dict[str, Any]]:
    results = {}
    for platform, (module, _, _) in OPERATORS.items():
        samples = [_importtime(module) for _ in range(repeats)]
        results[platform] = {key: _spread([s[key] for s in samples]) for key in samples[0]}
    return results


PARSE = textwrap.dedent("""
    import json, socket, sys, time
    connects, lookups = [], []
    real_connect = socket.socket.connect
    def connect(self, address):
        connects.append(str(address))
        return real_connect(self, address)
    socket.socket.connect = connect
    from airflow_workflow_providers.core.compat import BaseHook
    real_get = BaseHook.get_connection.__func__
    BaseHook.get_connection = classmethod(lambda cls, conn_id: lookups.append(conn_id) or real_get(cls, conn_id))
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow < 3.2
        from airflow.models.dagbag import DagBag
    started = time.perf_counter()
    bag = DagBag(dag_folder=sys.argv[1], safe_mode=False)
    seconds = time.perf_counter() - started
    tasks = sum(len(dag.tasks) for dag in bag.dags.values())
    print(json.dumps({"seconds": seconds, "tasks": tasks, "errors": list(bag.import_errors.values()),
                      "connects": connects, "lookups": lookups}))
""")


def dag_file(platform: str, count: int) -> str:
    module, name, args = OPERATORS[platform]
    return textwrap.dedent(f"""
        import datetime
        from airflow.sdk import DAG
        from {module} import {name}

        with DAG("bench_parse_{platform}", schedule=None, start_date=datetime.datetime(2024, 1, 1)):
            for i in range({count}):
                {name}(task_id=f"run_{{i}}", {args}, deferrable=True)
    """)


def parse_times(count: int, repeats: int, platforms: list[str] | None = None) -> dict[str, dict[str, Any]]:
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for platform in platforms or list(OPERATORS):
            path = Path(folder) / f"bench_parse_{platform}.py"
            path.write_text(dag_file(platform, count))
            samples = []
            for _ in range(repeats):
                done = subprocess.run(
                    [sys.executable, "-c", PARSE, str(path)], capture_output=True, text=True, check=True
                )
                samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
            results[platform] = {
                "seconds": _spread([s["seconds"] for s in samples]),
                "per_operator_ms": _spread([1000 * s["seconds"] / max(1, s["tasks"]) for s in samples]),
                "tasks": samples[0]["tasks"],
                "errors": samples[0]["errors"],
                "connects": max(len(s["connects"]) for s in samples),
                "lookups": max(len(s["lookups"]) for s in samples),
            }
    return results


def _spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}
