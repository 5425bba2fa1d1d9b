"""The package registers itself with Airflow as a provider."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema

from airflow_workflow_providers import get_provider_info
from airflow_workflow_providers.core.registry import PLATFORMS, hook_class

CONNECTION_TYPES = {"dify", "scade", "arcee_orchestra", "flowy"}


def test_provider_info_matches_airflows_schema():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    info = get_provider_info()
    jsonschema.validate(info, schema)
    assert {c["connection-type"] for c in info["connection-types"]} == CONNECTION_TYPES
    for connection in info["connection-types"]:
        behaviour = connection["ui-field-behaviour"]
        assert behaviour["relabeling"] == {"host": "Base URL", "password": "API Key"}
        assert set(behaviour["hidden-fields"]) == {"schema", "login", "port", "extra"}


def test_every_registered_hook_imports_and_describes_its_platform():
    for key, info in PLATFORMS.items():
        hook = hook_class(key)
        assert (hook.conn_type, hook.api_class.info) == (key, info)
        assert hook.get_ui_field_behaviour()["placeholders"]["host"] == info.default_base_url


def test_airflow_cli_lists_the_provider_and_its_hooks():
    env = {**os.environ, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    def cli(*args: str) -> str:
        return subprocess.run([sys.executable, "-m", "airflow", *args], capture_output=True, text=True, env=env, check=True).stdout

    assert "airflow-workflow-providers" in cli("providers", "list")
    hooks = cli("providers", "hooks")
    for key in CONNECTION_TYPES:
        assert PLATFORMS[key].hook in hooks
