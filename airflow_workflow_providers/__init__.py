"""Apache Airflow provider for AI workflows on Dify, Scade, Arcee Orchestra and Flowy."""

from __future__ import annotations

__version__ = "0.1.0"


def get_provider_info() -> dict:
    from airflow_workflow_providers.core.registry import provider_info

    return provider_info()
