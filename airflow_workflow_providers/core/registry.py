"""The platforms this package knows, and the provider metadata Airflow reads from the entry point.

Pure data: Airflow calls :func:`provider_info` while it is still importing itself, so nothing here
may import Airflow (or anything that does).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_workflow_providers.core.hook import WorkflowHook


@dataclass(frozen=True, slots=True)
class PlatformInfo:
    key: str
    name: str
    default_base_url: str
    hook: str


PLATFORMS: dict[str, PlatformInfo] = {
    info.key: info
    for info in (
        PlatformInfo("dify", "Dify", "https://api.dify.ai/v1", "airflow_workflow_providers.dify.hooks.DifyHook"),
        PlatformInfo("scade", "Scade", "https://api.scade.pro/api/v1", "airflow_workflow_providers.scade.hooks.ScadeHook"),
        PlatformInfo(
            "arcee_orchestra",
            "Arcee Orchestra",
            "https://orchestra.arcee.ai/api/v1/workflow",
            "airflow_workflow_providers.arcee.hooks.ArceeOrchestraHook",
        ),
        PlatformInfo(
            "flowy",
            "Flowy",
            "https://apis.tryflowy.ai/genstudio-svc-v2/api/v1",
            "airflow_workflow_providers.flowy.hooks.FlowyHook",
        ),
    )
}


def hook_class(platform: str) -> type[WorkflowHook]:
    """The hook class for a platform key, e.g. ``"dify"``."""
    try:
        module, _, name = PLATFORMS[platform].hook.rpartition(".")
    except KeyError:
        raise ValueError(f"Unknown platform {platform!r}; known: {sorted(PLATFORMS)}") from None
    return getattr(import_module(module), name)


def ui_field_behaviour(info: PlatformInfo) -> dict[str, Any]:
    """How Airflow's connection form shows a platform: host is the base URL, password the API key."""
    return {
        "hidden_fields": ["schema", "login", "port", "extra"],
        "relabeling": {"host": "Base URL", "password": "API Key"},
        "placeholders": {"host": info.default_base_url},
    }


def provider_info() -> dict[str, Any]:
    from airflow_workflow_providers import __version__

    return {
        "package-name": "airflow-workflow-providers",
        "name": "Workflow Providers",
        "description": "Run AI workflows hosted on Dify, Scade, Arcee Orchestra and Flowy as Airflow tasks.",
        "versions": [__version__],
        "connection-types": [
            {
                "connection-type": info.key,
                "hook-class-name": info.hook,
                "hook-name": info.name,
                "ui-field-behaviour": {k.replace("_", "-"): v for k, v in ui_field_behaviour(info).items()},
            }
            for info in PLATFORMS.values()
        ],
        "extra-links": ["airflow_workflow_providers.core.links.RemoteRunLink"],
    }
