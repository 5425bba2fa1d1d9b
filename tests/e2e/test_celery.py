"""The core rows of the run contract on a CeleryExecutor deployment (docs/reliability.md).

Most production deployments run Celery (or Kubernetes), where a worker reports a task's end through the
result backend, later than the LocalExecutor does: success deferred and blocking, an event that fires at
once (the defer/resume race of apache/airflow#66374), a clear while deferred, and a kill -9 of the
triggerer. A deployment of its own: PostgreSQL (``make postgres``), Redis (``make celery``), two workers.
"""

from __future__ import annotations

import time

import pytest

from harness.processes import wait_until
from tests.e2e.test_contract import DEFERRED, clear, deferred_and_polled
from tests.e2e.test_reliability import finished, the_ti, wait_for_state

pytestmark = pytest.mark.e2e


def _missing() -> str | None:
    from harness.broker import redis_server
    from tests.e2e.test_reliability_ha import _postgres_available

    if redis_server() is None:
        return "redis-server not installed (make celery)"
    try:
        import airflow.providers.celery  # noqa: F401
    except ImportError:
        return "apache-airflow-providers-celery not installed (make celery: the [celery] extra)"
    return _postgres_available()


@pytest.fixture(scope="module")
def e2e(request):
    """``(deployment, emulators)`` of the Celery deployment, in place of the LocalExecutor one (conftest.py's
    ``airflow`` and ``dify`` fixtures then use it)."""
    missing = _missing()
    if missing:
        pytest.skip(missing)
    from harness.celery_executor import celery_deployment

    with celery_deployment(keep_logs=lambda: request.session.testsfailed > 0) as deployment_and_emulators:
        yield deployment_and_emulators


def test_success_deferred_and_blocking_on_celery(airflow, dify):
    api = airflow.api
    runs = {dag_id: api.trigger(dag_id, conf={"first": 10}) for dag_id in (DEFERRED, "e2e_contract_blocking")}
    for dag_id, run_id in runs.items():
        assert finished(api, dag_id, run_id) == "success", api.describe_run(dag_id, run_id)
        assert the_ti(api, dag_id, run_id)["try_number"] == 1
    assert len(dify.control.runs()) == 2 and dify.control.count("stops") == 0


def test_an_event_that_fires_at_once_resumes_the_task_on_celery(airflow, dify):
    """A remote run that is over before the deferring try's end has been reported (#66374)."""
    api = airflow.api
    run_ids = [api.trigger(DEFERRED, conf={"first": 0}) for _ in range(3)]
    for run_id in run_ids:
        assert finished(api, DEFERRED, run_id) == "success", api.describe_run(DEFERRED, run_id)
        assert the_ti(api, DEFERRED, run_id)["try_number"] == 1
    assert len(dify.control.runs()) == 3


def test_clear_while_deferred_on_celery(airflow, dify):
    api = airflow.api
    run_id = api.trigger(DEFERRED)
    first = deferred_and_polled(api, dify, run_id)

    clear(api, DEFERRED, run_id)

    assert finished(api, DEFERRED, run_id) == "success", api.describe_run(DEFERRED, run_id)
    runs = dify.control.runs()
    assert len(runs) == 2 and runs[first]["stop_requested"]
    assert the_ti(api, DEFERRED, run_id)["try_number"] == 2


def test_a_kill_9_of_the_triggerer_loses_no_run_on_celery(airflow, dify):
    api = airflow.api
    ends_at = time.time() + 40
    run_ids = [api.trigger("e2e_rel_deferred", conf={"ends_at": ends_at}) for _ in range(4)]
    wait_for_state(api, "e2e_rel_deferred", run_ids, "deferred", timeout=60)
    wait_until(lambda: dify.control.count("polls") >= 4, 60, "the triggerer polling")

    airflow.kill_component("triggerer")
    airflow.start_component("triggerer")

    for run_id in run_ids:
        assert finished(api, "e2e_rel_deferred", run_id) == "success", api.describe_run(
            "e2e_rel_deferred", run_id
        )
        assert the_ti(api, "e2e_rel_deferred", run_id)["try_number"] == 1
    assert len(dify.control.runs()) == 4 and dify.control.count("stops") == 0
