"""The package registers itself with Airflow as a provider, and describes everything it ships."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
import tempfile
from importlib.metadata import metadata, version
from pathlib import Path

import jsonschema
import pytest
from airflow.triggers.base import BaseTrigger

import airflow_workflow_providers
from airflow_workflow_providers import __version__, get_provider_info
from airflow_workflow_providers.core.compat import (
    BaseHook,
    BaseOperator,
    BaseOperatorLink,
    BaseSensorOperator,
)
from airflow_workflow_providers.core.registry import hook_class, package_platforms

CONNECTION_TYPES = {"dify", "dify_knowledge", "scade", "arcee_orchestra", "flowy"}
INFO = get_provider_info()
PLATFORMS = package_platforms()
DOCUMENTATION = "https://pypi.org/project/airflow-workflow-providers/"


def _shipped_classes() -> dict[str, set[type]]:
    """Every operator, sensor, hook, trigger and link class the package defines, by section.

    The engine's bases in ``core`` are not registered themselves, except the trigger and the link,
    which every platform uses as they are.
    """
    kinds = {
        "operators": BaseOperator,
        "sensors": BaseSensorOperator,
        "hooks": BaseHook,
        "triggers": BaseTrigger,
        "extra-links": BaseOperatorLink,
    }
    found: dict[str, set[type]] = {kind: set() for kind in kinds}
    for module_info in pkgutil.walk_packages(
        airflow_workflow_providers.__path__, "airflow_workflow_providers."
    ):
        module = importlib.import_module(module_info.name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for kind, base in kinds.items():
                in_core = module.__name__.startswith("airflow_workflow_providers.core.")
                if in_core and kind not in ("triggers", "extra-links"):
                    continue
                if issubclass(cls, base) and not (
                    kind == "operators" and issubclass(cls, BaseSensorOperator)
                ):
                    found[kind].add(cls)
    return found


SHIPPED = _shipped_classes()


def _registered_modules(section: str) -> dict[str, set[str]]:
    """``{module: {integration names}}`` of a section of the provider info."""
    modules: dict[str, set[str]] = {}
    for entry in INFO[section]:
        for module in entry["python-modules"]:
            modules.setdefault(module, set()).add(entry["integration-name"])
    return modules


def test_provider_info_matches_airflows_schema():
    import airflow

    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(INFO, schema)
    assert (INFO["package-name"], INFO["versions"]) == ("airflow-workflow-providers", [__version__])
    assert {c["connection-type"] for c in INFO["connection-types"]} == CONNECTION_TYPES
    for connection in INFO["connection-types"]:
        behaviour = connection["ui-field-behaviour"]
        assert set(behaviour["hidden-fields"]) == {"schema", "login", "port", "extra"}
    # the API key field says what the platform calls its key and what the key looks like
    forms = {c["connection-type"]: c["ui-field-behaviour"] for c in INFO["connection-types"]}
    assert {
        key: (form["relabeling"]["host"], form["relabeling"]["password"]) for key, form in forms.items()
    } == {
        "dify": ("Base URL", "API Key"),
        "scade": ("Base URL", "Server key"),
        "arcee_orchestra": ("Base URL", "API Key"),
        "flowy": ("Base URL", "API Key"),
        "dify_knowledge": ("Base URL", "API Key"),
    }
    assert forms["dify_knowledge"]["placeholders"]["password"].startswith("dataset-")
    assert forms["dify"]["placeholders"]["password"].startswith("app-")
    assert "base64 server key" in forms["scade"]["placeholders"]["password"]
    assert forms["flowy"]["placeholders"]["password"].startswith("flw_sk_")
    assert INFO["documentation-url"].startswith("https://")


def test_one_integration_per_platform_with_a_docs_link_and_no_logo():
    integrations = {i["integration-name"]: i for i in INFO["integrations"]}
    assert set(integrations) == {info.name for info in PLATFORMS.values()}
    assert len(integrations) == len(INFO["integrations"])
    for integration in integrations.values():
        assert integration["external-doc-url"].startswith("https://")
        assert "logo" not in integration
    for section in ("hooks", "operators", "sensors", "triggers"):
        assert {e["integration-name"] for e in INFO[section]} == set(integrations), section


@pytest.mark.parametrize("section", ["operators", "sensors", "hooks", "triggers"])
def test_every_class_the_package_ships_is_registered_under_its_platform(section):
    registered = _registered_modules(section)
    assert SHIPPED[section], f"no {section} found: the test itself is broken"
    assert {cls.__module__ for cls in SHIPPED[section]} == set(registered), section
    for cls in SHIPPED[section]:
        hook = cls if section == "hooks" else getattr(cls, "hook_class", None)
        if hook is None:
            continue  # a trigger serves every platform; an operator without a hook class names none
        assert registered[cls.__module__] == {PLATFORMS[hook.conn_type].name}, cls


def test_every_extra_link_is_registered_and_every_operator_link_is_known():
    registered = set(INFO["extra-links"])
    assert {f"{cls.__module__}.{cls.__qualname__}" for cls in SHIPPED["extra-links"]} == registered
    for operator in SHIPPED["operators"]:
        for link in operator.operator_extra_links:
            assert f"{type(link).__module__}.{type(link).__qualname__}" in registered, operator


def test_every_registered_hook_imports_and_describes_its_platform():
    assert {hook_class(c["connection-type"]) for c in INFO["connection-types"]} == SHIPPED["hooks"]
    for key, info in PLATFORMS.items():
        hook = hook_class(key)
        assert (hook.conn_type, hook.api_class.info) == (key, info)
        assert hook.get_ui_field_behaviour()["placeholders"]["host"] == info.default_base_url


def test_the_version_has_one_source():
    assert version("airflow-workflow-providers") == __version__


def test_the_distribution_names_its_documentation_for_airflows_providers_page():
    urls = metadata("airflow-workflow-providers").get_all("Project-URL")
    assert f"Documentation, {DOCUMENTATION}" in urls


def _cli(*args: str) -> list[dict[str, str]]:
    # A home of its own: the CLI may set up a metadata DB, and the session's SQLite file is open here.
    home = tempfile.mkdtemp(prefix="awp-cli-home-")
    env = {
        **os.environ,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW_HOME": home,
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",  # Airflow 3.0 logs INFO lines before the JSON
    }
    env.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
    done = subprocess.run(
        [sys.executable, "-m", "airflow", *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout)


def test_airflow_cli_lists_the_provider_its_hooks_triggers_and_links():
    providers = {p["package_name"]: p for p in _cli("providers", "list")}
    assert providers["airflow-workflow-providers"]["version"] == __version__

    hooks = {h["connection_type"]: h for h in _cli("providers", "hooks")}
    for key in CONNECTION_TYPES:
        assert hooks[key]["class"] == PLATFORMS[key].hook
        assert hooks[key]["package_name"] == "airflow-workflow-providers"

    triggers = {
        (t["class"], t["integration_name"])
        for t in _cli("providers", "triggers")
        if t["package_name"] == "airflow-workflow-providers"
    }
    assert triggers == {
        (module, info.name)
        for module in {t.__module__ for t in SHIPPED["triggers"]}
        for info in PLATFORMS.values()
    }

    (full,) = _cli("providers", "get", "airflow-workflow-providers", "--full")
    shown = {"documentation-url", "description"}  # added by Airflow; stripped of RST and its final dot
    assert {k: v for k, v in full.items() if k not in shown} == {
        k: v for k, v in INFO.items() if k not in shown
    }
    # Airflow >= 3.2 adds the distribution's Documentation URL, which its providers page links (3.2 keeps
    # the space after the comma of "Documentation, https://...": a browser strips it from the link)
    assert full.get("documentation-url", DOCUMENTATION).strip() == DOCUMENTATION

    links = {link["extra_link_class_name"] for link in _cli("providers", "links")}
    assert set(INFO["extra-links"]) <= links
