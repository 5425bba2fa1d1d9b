"""Operator that runs a Flowy app and keeps its media outputs before their signed URLs expire."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from airflow_workflow_providers.core.errors import ConfigurationError, PlatformAPIError
from airflow_workflow_providers.core.model import Run
from airflow_workflow_providers.core.operator import WorkflowRunOperator
from airflow_workflow_providers.flowy.api import NAME, media_outputs
from airflow_workflow_providers.flowy.hooks import FlowyHook

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class FlowyRunAppOperator(WorkflowRunOperator):
    """Run a Flowy app and return its outputs; optionally copy its media outputs to storage.

    Returns ``{"run_id", "status", "raw_status", "outputs", "error", "app_id", "app_title",
    "created_at", "updated_at"}``. ``outputs`` maps each output's node id to ``{"nodeId", "kind",
    "url", "text"}``; with ``output_dir`` each media output also has ``location``, ``size`` and
    ``sha256``. ``run_id`` is pushed to XCom (key ``run_id``) as soon as the run starts.

    Before anything is submitted the inputs are checked against the app's declared inputs
    (``GET /apps/{app_id}``): every problem is named and nothing is started (or billed).

    :param app_id: the app's 24-hex id (templated).
    :param inputs: ``{nodeId: text or media URL}`` (templated). Media inputs (``image_url``,
        ``video_url``, ``audio_url``) take an http(s) URL.
    :param output_dir: where to copy media outputs right after the run completes (templated): a local
        path or any ``ObjectStoragePath`` URL (``file://``, ``s3://bucket/prefix``...). Each output is
        stored as ``<output_dir>/<run_id>/<nodeId><extension>``, streamed in chunks. Flowy's output
        URLs are signed and expire (about an hour), so without ``output_dir`` downstream tasks must
        fetch them promptly. A failed copy fails the task; with task retries, the next try re-attaches
        to the completed run (no new run, no new credits) and copies from fresh URLs.

    See :class:`~airflow_workflow_providers.core.operator.WorkflowRunOperator` for ``conn_id``,
    ``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout`` and ``cancel_on_kill``.
    Flowy has no endpoint to stop a run: on timeout or kill the task ends but the remote run goes on.
    """

    hook_class = FlowyHook
    hook: FlowyHook
    template_fields: Sequence[str] = ("inputs", "app_id", "output_dir")

    def __init__(self, *, app_id: str, output_dir: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_id = app_id
        self.output_dir = output_dir

    def start_spec(self, context: Any) -> dict[str, Any]:
        return {"app_id": self.app_id, "inputs": self.inputs}

    def check_inputs(self, spec: dict[str, Any]) -> None:
        if self.output_dir:
            self._output_root()  # a wrong storage URL must fail before credits are spent
        self.hook.check_inputs(spec["app_id"], spec["inputs"])

    def completed(self, run: Run) -> dict[str, Any]:
        result = run.to_result()
        if self.output_dir:
            result["outputs"] = self.store_outputs(run)
        return result

    def store_outputs(self, run: Run) -> dict[str, dict[str, Any]]:
        """Copy each media output of ``run`` under ``output_dir``; return the outputs with their locations."""
        outputs = {node: dict(output) for node, output in (run.outputs or {}).items()}
        media = media_outputs(run)
        if not media:
            return outputs
        directory = self._output_root() / _UNSAFE.sub("_", run.run_id)
        for node, output in media.items():
            location = directory / f"{_UNSAFE.sub('_', node)}{_suffix(output['url'])}"
            try:
                directory.mkdir(parents=True, exist_ok=True)
                stored = self.hook.download(output["url"], location)
            except Exception as exc:  # network, HTTP or storage: all mean the output was not kept
                raise PlatformAPIError(
                    f"{NAME} run {run.run_id} completed, but its output {node!r} ({output.get('kind')}) "
                    f"could not be stored at {location}: {exc}",
                    platform=NAME, run_id=run.run_id,
                ) from exc
            outputs[node].update(location=str(location), **stored)
            self.log.info(
                "Stored output %r of %s run %s at %s (%d bytes, sha256 %s).",
                node, NAME, run.run_id, location, stored["size"], stored["sha256"],
            )
        return outputs

    def _output_root(self) -> Any:
        from airflow.sdk import ObjectStoragePath

        try:
            return ObjectStoragePath(str(self.output_dir))
        except Exception as exc:
            raise ConfigurationError(
                f"output_dir {self.output_dir!r} of task {self.task_id!r} is not a usable path or storage "
                f"URL: {exc}"
            ) from exc


def _suffix(url: str) -> str:
    """The file extension of a URL's path (``.png``), or none."""
    suffix = PurePosixPath(urlsplit(url).path).suffix
    return suffix if len(suffix) <= 10 and not _UNSAFE.search(suffix) else ""
