"""Starting the provider's triggers does not block the triggerer's event loop.

Airflow's watchdog warns "Triggerer's async thread was blocked for X seconds" past
``[triggerer] blocked_main_thread_warning_threshold`` (0.2 s) but cannot say which trigger did it, and
on a loaded machine it fires with no trigger running at all. So the triggerer is restarted in asyncio's
debug mode, where every loop step slower than 0.1 s is logged with the task it ran (for a trigger,
its name: ``dag/run/task/map/try (ID n)``) -- then ten deferred Dify tasks start their triggers at once.
None of their steps, from their creation on the runner's task (importing the trigger's module,
constructing it) through the first (building the hook, looking up the connection, opening the
session) to the event, may reach the 0.2 s threshold. A trigger that does block (``e2e_blocking_trigger``,
0.5 s of ``time.sleep``) runs too, and must be caught: the check can fail.
"""

from __future__ import annotations

import linecache
import re
import time
from pathlib import Path

import pytest

from harness.processes import wait_until

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
THRESHOLD = 0.2
RUNS = 10
#: asyncio's debug-mode report of a slow loop step
SLOW_STEP = re.compile(r"Executing (?P<what>.*?) took (?P<seconds>\d+\.\d+) seconds")


@pytest.fixture
def debug_triggerer(airflow):
    """The deployment's triggerer, restarted in asyncio debug mode for the test, then restarted as it was."""
    usual = dict(airflow.env)
    airflow.stop_component("triggerer")
    # the control trigger's module is imported from the repository
    airflow.env.update(PYTHONASYNCIODEBUG="1", PYTHONPATH=str(REPO))
    try:
        log = airflow.home / "triggerer.log"
        started = log.stat().st_size
        airflow.start_component("triggerer")
        wait_until(
            lambda: "Starting the triggerer" in log.read_text(errors="replace")[started:],
            120,
            "the debug triggerer starting",
        )
        wait_until(
            lambda: airflow.health()["triggerer"]["status"] == "healthy", 120, "the debug triggerer healthy"
        )
        time.sleep(3)  # its own start-up steps (slow in debug mode) are not the triggers' business
        offset = log.stat().st_size
        yield lambda: log.read_text(errors="replace")[offset:]
    finally:
        airflow.stop_component("triggerer")
        airflow.env.clear()
        airflow.env.update(usual)
        airflow.start_component("triggerer")


def slow_steps(text: str, *names: str) -> list[tuple[str, float]]:
    """The loop steps asyncio reported slow whose task or code is one of ``names``."""
    return [
        (m["what"][:300], float(m["seconds"]))
        for m in SLOW_STEP.finditer(text)
        if any(n in m["what"] for n in names)
    ]


def creating_triggers(text: str) -> list[tuple[str, float]]:
    """Slow steps of the runner's own task while it was inside ``create_triggers`` (importing and
    constructing triggers); the only triggers created in this window are the test's."""
    found = []
    for m in SLOW_STEP.finditer(text):
        where = re.search(r"TriggerRunner\.arun\(\) running at (\S+):(\d+)>", m["what"])
        if where and "create_triggers" in linecache.getline(where[1], int(where[2])):
            found.append((m["what"][:300], float(m["seconds"])))
    return found


def test_the_providers_triggers_start_without_blocking_the_triggerers_loop(airflow, debug_triggerer):
    api = airflow.api
    runs = [api.trigger("e2e_slots_deferred") for _ in range(RUNS)]
    for run_id in runs:
        assert api.wait_for_run("e2e_slots_deferred", run_id, timeout=300)["state"] == "success"
    ours_only = debug_triggerer()  # before the control trigger is created
    # the control: a trigger that blocks is seen blocking, named (so the check below can fail)
    control = api.trigger("e2e_blocking_trigger")
    assert api.wait_for_run("e2e_blocking_trigger", control, timeout=180)["state"] == "success"
    wait_until(
        lambda: slow_steps(debug_triggerer(), "e2e_blocking_trigger/"),
        30,
        "asyncio reporting the blocking control trigger's slow step in the triggerer log",
    )
    text = debug_triggerer()
    ours = slow_steps(text, "e2e_slots_deferred/", "airflow_workflow_providers") + creating_triggers(
        ours_only
    )
    print(
        f"\nslow loop steps of the provider's {RUNS} triggers: {sorted(s for _, s in ours)}; the control's: "
        f"{[s for _, s in slow_steps(text, 'e2e_blocking_trigger/')]}; Airflow's blocked-loop warnings: "
        f"{text.count('async thread was blocked')}"
    )
    assert [(what, seconds) for what, seconds in ours if seconds >= THRESHOLD] == []
