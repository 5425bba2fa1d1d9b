"""OpenLineage facets of a finished task: the remote run it drove and the files it stored.

Called only by ``get_openlineage_facets_on_complete``, which only the OpenLineage listener calls: the
OpenLineage packages are imported inside, so without ``apache-airflow-providers-openlineage`` this
module still imports and nothing of OpenLineage is loaded. The listener runs it in a forked process:
it reads what the task recorded and makes no calls of its own.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from airflow.providers.common.compat.openlineage.facet import OutputDataset
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_workflow_providers.core.hook import WorkflowHook
    from airflow_workflow_providers.core.model import RunRef


def run_lineage(hook: WorkflowHook, ref: RunRef | None, result: Mapping[str, Any] | None) -> OperatorLineage:
    """The remote run as run facets (``externalQuery``: platform and run id; ``tags``: platform, run id and
    the run's page where the platform has one) and each stored output file as an output dataset.

    Nothing when no run was started. The base URL comes from the connection the task already read; it
    is never looked up here.
    """
    from airflow.providers.common.compat.openlineage.facet import ExternalQueryRunFacet
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.facet_v2 import tags_run

    if ref is None:
        return OperatorLineage()
    api = hook.api
    transport = vars(hook).get("transport")
    base_url = transport.config.base_url if transport is not None else api.default_base_url
    run_url = api.run_url(base_url, ref) if transport is not None else None
    tags = {"platform": api.name, "run_id": ref.run_id, "run_url": run_url}
    return OperatorLineage(
        outputs=[_dataset(output) for output in _stored_outputs(result)],
        run_facets={
            "externalQuery": ExternalQueryRunFacet(
                externalQueryId=ref.run_id, source=f"{api.key}://{urlsplit(base_url).netloc}"
            ),
            "tags": tags_run.TagsRunFacet(
                tags=[
                    tags_run.TagsRunFacetFields(key=k, value=v, source=api.key) for k, v in tags.items() if v
                ]
            ),
        },
    )


def _stored_outputs(result: Mapping[str, Any] | None) -> Iterator[Mapping[str, Any]]:
    """The files the task copied to storage, wherever they sit in its outputs: objects with a ``location``
    (a Flowy output, a Dify file, or one in a list of files)."""
    pending = [(result or {}).get("outputs")]
    while pending:
        value = pending.pop()
        if isinstance(value, Mapping):
            if value.get("location"):
                yield value
            else:
                pending.extend(value.values())
        elif isinstance(value, list):
            pending.extend(value)


def _dataset(output: Mapping[str, Any]) -> OutputDataset:
    """A stored file named the OpenLineage way: ``file`` + absolute path, or ``<scheme>://<bucket>`` + key."""
    from airflow.providers.common.compat.openlineage.facet import (
        OutputDataset,
        OutputStatisticsOutputDatasetFacet,
    )

    parts = urlsplit(str(output["location"]))
    if parts.scheme in ("", "file"):
        namespace, name = "file", parts.path
    else:
        namespace, name = f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/")
    statistics = OutputStatisticsOutputDatasetFacet(size=output.get("size"), fileCount=1)
    return OutputDataset(namespace=namespace, name=name, outputFacets={"outputStatistics": statistics})
