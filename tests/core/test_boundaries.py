"""Architecture rules: platform descriptions are pure, errors form one family."""

from __future__ import annotations

import ast
import pathlib

import pytest

from airflow_workflow_providers.core import errors

PACKAGE = pathlib.Path(errors.__file__).resolve().parents[1]
PURE = ["core/model.py", "core/retry.py", "core/platform.py", "core/sse.py", "core/registry.py", "dify/api.py"]


@pytest.mark.parametrize("module", PURE + [str(p.relative_to(PACKAGE)) for p in PACKAGE.glob("*/api.py")])
def test_platform_descriptions_do_no_io(module):
    tree = ast.parse((PACKAGE / module).read_text())
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    forbidden = {m for m in imported if m.split(".")[0] in {"requests", "aiohttp", "httpx", "airflow", "socket"}}
    assert not forbidden, f"{module} imports {forbidden}"


def test_every_error_is_a_workflow_provider_error_and_not_an_airflow_exception_at_the_root():
    from airflow.sdk.exceptions import AirflowException, AirflowFailException

    assert not issubclass(errors.WorkflowProviderError, AirflowException)
    for name in dir(errors):
        obj = getattr(errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception) and obj.__module__ == errors.__name__:
            assert issubclass(obj, errors.WorkflowProviderError)
    for unfixable in (errors.PermanentAPIError, errors.InputValidationError, errors.ConfigurationError, errors.StartNotConfirmedError):
        assert issubclass(unfixable, AirflowFailException)
    assert not issubclass(errors.RunFailed, AirflowFailException)


@pytest.mark.parametrize("platform", ["dify", "scade", "arcee", "flowy"])
def test_dag_files_importing_an_operator_load_no_http_library(platform):
    # DAG parsing imports operator modules; the HTTP clients are only needed where tasks run.
    import subprocess
    import sys

    code = (
        f"import sys, airflow_workflow_providers.{platform}.operators, airflow_workflow_providers.{platform}.sensors;"
        "print(sorted({'requests', 'aiohttp'} & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
