"""One real Airflow deployment (api-server, scheduler + LocalExecutor, dag-processor, triggerer) for every e2e test.

It starts on the first e2e test and is torn down at the end of the session, every process by pid;
its AIRFLOW_HOME (component logs, task logs) is kept and its path printed when an e2e test failed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:  # the harness lives beside the package, not in it
    sys.path.insert(0, str(REPO))

_failures: list[str] = []


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e_last: runs after every other test (it checks what the whole suite left)"
    )


def pytest_collection_modifyitems(items):
    items.sort(
        key=lambda item: item.get_closest_marker("e2e_last") is not None
    )  # stable: the rest keep their order


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and item.get_closest_marker("e2e"):
        _failures.append(item.nodeid)
    return report


@pytest.fixture(scope="session")
def e2e():
    """``(deployment, emulators)``: the shared deployment and the emulators its connections reach."""
    from harness.session import e2e_deployment

    with e2e_deployment(keep_logs=lambda: bool(_failures)) as (deployment, emulators):
        yield deployment, emulators


@pytest.fixture
def airflow(e2e):
    """The deployment, with every emulator reset (runs, counts, faults) before the test."""
    deployment, emulators = e2e
    emulators.reset()
    return deployment


@pytest.fixture
def dify(e2e):
    return e2e[1]["dify"]
