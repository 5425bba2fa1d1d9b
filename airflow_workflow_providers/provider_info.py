"""What Airflow and its tooling read about this provider (the ``apache_airflow_provider`` entry point).

Pure data: Airflow calls :func:`provider_info` while it is still importing itself, so nothing here may
import Airflow (or anything that does). Classes are named by their import path; ``tests/test_provider.py``
imports every one of them and checks that no operator, sensor, hook, trigger or link is left out.
"""

from __future__ import annotations

from typing import Any

from airflow_workflow_providers import __version__
from airflow_workflow_providers.core.registry import PlatformInfo, package_platforms, ui_field_behaviour

PACKAGE = "airflow-workflow-providers"

#: the providers page's link: the README, on the package's index page
DOCUMENTATION_URL = "https://pypi.org/project/airflow-workflow-providers/"

#: the one trigger that polls every platform's runs, and the one that runs every platform's batches
TRIGGER_MODULES = ["airflow_workflow_providers.core.trigger", "airflow_workflow_providers.core.batch.trigger"]
EXTRA_LINKS = ["airflow_workflow_providers.core.links.RemoteRunLink"]


def provider_info() -> dict[str, Any]:
    platforms = list(package_platforms().values())
    return {
        "package-name": PACKAGE,
        "name": "Workflow Providers",
        "description": "Run AI workflows hosted on Dify, Scade, Arcee Orchestra and Flowy as Airflow tasks.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": info.name,
                "external-doc-url": info.docs_url or DOCUMENTATION_URL,
                "tags": ["service"],
            }
            for info in platforms
        ],
        "hooks": _modules(platforms, "hooks"),
        "operators": _modules(platforms, "operators"),
        "sensors": _modules(platforms, "sensors"),
        "triggers": [
            {"integration-name": info.name, "python-modules": list(TRIGGER_MODULES)} for info in platforms
        ],
        "connection-types": [
            {
                "connection-type": info.key,
                "hook-class-name": info.hook,
                "hook-name": info.name,
                "ui-field-behaviour": {k.replace("_", "-"): v for k, v in ui_field_behaviour(info).items()},
            }
            for info in platforms
        ],
        "extra-links": EXTRA_LINKS,
        # Airflow < 3.3 reads this; 3.3 takes pyproject's [project.urls] Documentation instead
        "documentation-url": DOCUMENTATION_URL,
    }


def platform_module(info: PlatformInfo, kind: str) -> str:
    """The module of a platform's ``kind`` (hooks, operators, sensors): beside its hook module when that is
    ``<package>.hooks`` (``airflow_workflow_providers.arcee.operators``), else the hook's own module, which
    then holds all three (``airflow_workflow_providers.dify.knowledge``)."""
    module = info.hook.rsplit(".", 1)[0]
    package, _, leaf = module.rpartition(".")
    return f"{package}.{kind}" if leaf == "hooks" else module


def _modules(platforms: list[PlatformInfo], kind: str) -> list[dict[str, Any]]:
    return [
        {"integration-name": info.name, "python-modules": [platform_module(info, kind)]} for info in platforms
    ]
