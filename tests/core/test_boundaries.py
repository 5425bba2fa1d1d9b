"""Architecture rules: the pure layer imports no Airflow and no HTTP client, errors form one family and
meet Airflow only at the operator boundary."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from airflow_workflow_providers.core import errors

PACKAGE = pathlib.Path(errors.__file__).resolve().parents[1]
PURE = [
    "core.model",
    "core.retry",
    "core.platform",
    "core.sse",
    "core.registry",
    "core.errors",
    "core.pacing",
    "core.connections",
    "dify.knowledge.api",
    *sorted(f"{p.parent.name}.api" for p in PACKAGE.glob("*/api.py")),
    *sorted(p.parent.name for p in PACKAGE.glob("*/__init__.py") if p.parent.name not in ("core", "testing")),
]
#: a meta-path finder that refuses these top-level packages: importing one fails like a missing install
BLOCK = """
import sys
class Refuse:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"{{name}} is blocked in this test")
sys.meta_path.insert(0, Refuse())
"""


def _import_without(module: str, blocked: set[str]) -> subprocess.CompletedProcess[str]:
    code = BLOCK.format(blocked=blocked) + f"import airflow_workflow_providers.{module}"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize("module", PURE)
def test_the_pure_layer_imports_no_airflow_and_no_http_client_even_indirectly(module):
    done = _import_without(module, {"airflow", "requests", "aiohttp", "httpx"})
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_check_itself_notices_an_airflow_import():
    done = _import_without("core.hook", {"airflow"})
    assert done.returncode != 0 and "airflow is blocked" in done.stderr


def test_every_error_is_a_pure_workflow_provider_error():
    from tests.compat import AirflowException

    assert not issubclass(errors.WorkflowProviderError, AirflowException)
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == errors.__name__:
            assert issubclass(obj, errors.WorkflowProviderError)
            assert not issubclass(obj, AirflowException), f"{name} must not depend on Airflow"
    unfixable = {
        errors.PermanentAPIError,
        errors.InputValidationError,
        errors.ConfigurationError,
        errors.StartNotConfirmedError,
    }
    assert {cls for cls in unfixable if cls.retry_can_fix} == set()
    assert errors.RunFailed.retry_can_fix and errors.PlatformAPIError.retry_can_fix


class TestFailsFast:
    """The boundary gives unfixable errors Airflow's no-retry type, and leaves the rest alone."""

    def raise_through_boundary(self, exc: BaseException) -> BaseException:
        from airflow_workflow_providers.core.boundary import fails_fast

        @fails_fast
        def execute():
            raise exc

        with pytest.raises(type(exc)) as raised:
            execute()
        return raised.value

    def test_an_unfixable_error_becomes_an_airflow_fail_exception_and_stays_itself(self):
        from airflow_workflow_providers.core.compat import AirflowFailException

        original = errors.PermanentAPIError("Dify GET /x failed: HTTP 401", platform="Dify", status_code=401)
        seen = self.raise_through_boundary(original)
        assert seen is original
        assert isinstance(seen, AirflowFailException) and isinstance(seen, errors.PermanentAPIError)
        assert (type(seen).__name__, str(seen), seen.status_code) == (
            "PermanentAPIError",
            "Dify GET /x failed: HTTP 401",
            401,
        )

    def test_a_fixable_error_is_left_for_airflow_to_retry(self):
        from airflow_workflow_providers.core.compat import AirflowFailException

        seen = self.raise_through_boundary(errors.RunFailed("failed", platform="Dify", run_id="r"))
        assert type(seen) is errors.RunFailed and not isinstance(seen, AirflowFailException)

    def test_every_entry_point_airflow_calls_is_behind_the_boundary(self):
        from airflow_workflow_providers.arcee.operators import ArceeOrchestraRunWorkflowOperator
        from airflow_workflow_providers.core.boundary import is_fail_fast
        from airflow_workflow_providers.dify.operators import (
            DifyKnowledgeIngestOperator,
            DifyRunWorkflowOperator,
        )
        from airflow_workflow_providers.dify.sensors import DifyKnowledgeIndexingSensor, DifyWorkflowRunSensor

        # Arcee's step-logging mixin defines execute/execute_complete before the engine's classes
        for cls in (
            DifyRunWorkflowOperator,
            ArceeOrchestraRunWorkflowOperator,
            DifyWorkflowRunSensor,
            DifyKnowledgeIngestOperator,
            DifyKnowledgeIndexingSensor,
        ):
            for name in ("execute", "execute_complete"):
                assert is_fail_fast(getattr(cls, name)), f"{cls.__name__}.{name} is not behind fails_fast"
        assert is_fail_fast(DifyWorkflowRunSensor.poke)


@pytest.mark.parametrize("platform", ["dify", "scade", "arcee", "flowy"])
def test_dag_files_importing_an_operator_load_no_http_library(platform):
    # DAG parsing imports operator modules; the HTTP clients are only needed where tasks run.
    code = (
        f"import sys, airflow_workflow_providers.{platform}.operators, airflow_workflow_providers.{platform}.sensors;"
        "print(sorted({'requests', 'aiohttp'} & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


#: what waiting on a run needs beyond constructing its trigger
WAITING = [
    "aiohttp",
    "airflow_workflow_providers.core.follow",
    "airflow_workflow_providers.core.platform",
    "airflow_workflow_providers.core.transport",
]


@pytest.mark.parametrize(
    ("module", "loaded"),
    [
        ("core.trigger", []),
        # the control, so that the check can fail: the hook, built in a thread when a trigger runs
        (
            "core.hook",
            ["airflow_workflow_providers.core.platform", "airflow_workflow_providers.core.transport"],
        ),
    ],
)
def test_the_trigger_module_the_triggerer_imports_on_its_event_loop_loads_none_of_the_waiting_code(
    module, loaded
):
    code = (
        f"import sys, airflow_workflow_providers.{module}; print(sorted(set({WAITING!r}) & set(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == str(loaded)
