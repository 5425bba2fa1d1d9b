"""Operator that runs a Flowy app and keeps its media outputs before their signed URLs expire."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_workflow_providers.core.batch.operator import BatchRunMixin
from airflow_workflow_providers.core.operator import WorkflowRunOperator
from airflow_workflow_providers.core.outputs import FileOutputsMixin
from airflow_workflow_providers.flowy.hooks import FlowyHook


class FlowyRunAppOperator(FileOutputsMixin, WorkflowRunOperator):
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
        to the completed run (no new run, no new credits) and copies from fresh URLs. The engine's
        :class:`~airflow_workflow_providers.core.outputs.FileOutputsMixin` does the copying.

    See :class:`~airflow_workflow_providers.core.operator.WorkflowRunOperator` for ``conn_id``,
    ``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout`` and ``cancel_on_kill``.
    Flowy has no endpoint to stop a run: on timeout or kill the task ends but the remote run goes on.
    """

    hook_class = FlowyHook
    inputs_checked_against = "the declared inputs of app {app_id} (GET /apps/{app_id})"
    run_subject = "app {app_id}"
    hook: FlowyHook
    template_fields: Sequence[str] = (*WorkflowRunOperator.template_fields, "app_id", "output_dir")

    def __init__(self, *, app_id: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.app_id = app_id

    def start_spec(self, context: Any) -> dict[str, Any]:
        return {"app_id": self.app_id, "inputs": self.inputs}

    def check_inputs(self, spec: dict[str, Any]) -> None:
        self.hook.check_inputs(spec["app_id"], spec["inputs"])


class FlowyBatchRunAppOperator(BatchRunMixin, FlowyRunAppOperator):
    """Run a Flowy app over many items, each item its ``inputs`` (see
    :class:`~airflow_workflow_providers.core.batch.operator.BatchRunMixin`); with ``output_dir``, each
    succeeded run's media outputs are stored under ``<output_dir>/<run_id>/`` as each run ends.

    .. warning::
        Flowy cannot stop a run nor find one whose start answer was lost: on timeout or kill the runs in
        flight go on (recorded ``cancelled``), and an item whose start was sent but not recorded is recorded
        failed rather than started again.
    """
