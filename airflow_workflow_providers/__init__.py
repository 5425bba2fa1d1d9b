"""Apache Airflow provider for AI workflows on Dify, Scade, Arcee Orchestra and Flowy."""

from __future__ import annotations

__version__ = "0.2.0"


def get_provider_info() -> dict:
    """The provider metadata Airflow reads through the ``apache_airflow_provider`` entry point."""
    from airflow_workflow_providers.provider_info import provider_info

    return provider_info()
