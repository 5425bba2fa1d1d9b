"""Operator that runs a Scade flow."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_workflow_providers.core.batch.operator import BatchRunMixin
from airflow_workflow_providers.core.operator import WorkflowRunOperator
from airflow_workflow_providers.scade.api import check_start, status_map_option
from airflow_workflow_providers.scade.hooks import ScadeHook


class ScadeRunFlowOperator(WorkflowRunOperator):
    """Run a Scade flow and return its result node's outputs.

    Returns ``{"run_id", "status", "raw_status", "outputs", "error", "execution_cost",
    "execution_time"}``: ``run_id`` is Scade's task id (a string), ``outputs`` the result node's values
    with any ``output``/``success.output`` wrapper removed. ``run_id`` is also pushed to XCom (key
    ``run_id``) as soon as the flow starts.

    :param flow_id: the flow's id, e.g. ``1607`` (templated).
    :param start_node_id: the flow's start node, e.g. ``"SYnn-start"`` (templated).
    :param end_node_id: the flow's end node, e.g. ``"y5iI-end"`` (templated).
    :param result_node_id: the node whose values are the result (templated); default ``end_node_id``.
    :param inputs: the start node's input values, sent as ``node_settings[start_node_id].data``
        (templated).
    :param node_settings: settings of any node, ``{node id: {"data": {...}, ...}}`` (templated). For the
        start node they are combined with ``inputs``; where both set the same input, ``inputs`` win.
    :param status_map: overrides of Scade's task status table, e.g. ``{"6": "succeeded"}`` (int or string
        keys, run state values: queued, running, paused, succeeded, failed, cancelled). A status the
        table does not know fails the task, naming the value.

    Everything is checked before submitting (ids present, ``inputs`` a dict, ``node_settings`` a dict of
    dicts); a problem raises ``InputValidationError`` and no flow is started.

    .. warning::
        Scade has no endpoint to stop a flow run. On ``timeout`` the task fails but the flow keeps
        running, and killing the task does not stop it either; both are logged.

    See :class:`~airflow_workflow_providers.core.operator.WorkflowRunOperator` for ``conn_id``,
    ``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout`` and ``cancel_on_kill``.
    """

    hook_class = ScadeHook
    inputs_checked_against = (
        "the flow's node ids and the shape of inputs and node_settings (Scade publishes no input form)"
    )
    run_subject = "flow {flow_id}"
    template_fields: Sequence[str] = (
        *WorkflowRunOperator.template_fields,
        "flow_id",
        "start_node_id",
        "end_node_id",
        "result_node_id",
        "node_settings",
    )
    template_fields_renderers = {**WorkflowRunOperator.template_fields_renderers, "node_settings": "json"}

    def __init__(
        self,
        *,
        flow_id: str | int,
        start_node_id: str,
        end_node_id: str,
        result_node_id: str | None = None,
        node_settings: dict[str, dict[str, Any]] | None = None,
        status_map: Mapping[Any, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.flow_id = flow_id
        self.start_node_id = start_node_id
        self.end_node_id = end_node_id
        self.result_node_id = result_node_id
        self.node_settings = node_settings
        # Not templated, so it is checked now: a wrong table is a DAG import error, not a failed run.
        self.status_map = status_map_option(status_map)

    @property
    def api_options(self) -> dict[str, Any]:
        return {"status_map": self.status_map} if self.status_map else {}

    def start_spec(self, context: Any) -> dict[str, Any]:
        return {
            "flow_id": self.flow_id,
            "start_node_id": self.start_node_id,
            "end_node_id": self.end_node_id,
            "result_node_id": self.result_node_id,
            "inputs": self.inputs,
            "node_settings": self.node_settings,
        }

    def check_inputs(self, spec: dict[str, Any]) -> None:
        check_start(**spec)


class ScadeBatchRunFlowOperator(BatchRunMixin, ScadeRunFlowOperator):
    """Run a Scade flow over many items: each item is the start node's ``inputs`` (see
    :class:`~airflow_workflow_providers.core.batch.operator.BatchRunMixin` and :class:`ScadeRunFlowOperator`
    for ``flow_id``, the node ids, ``node_settings`` and ``status_map``).

    .. warning::
        Scade cannot stop a flow run nor find one whose start answer was lost: on timeout or kill the runs in
        flight go on (recorded ``cancelled``), and an item whose start was sent but not recorded (a kill
        in that instant) is recorded failed rather than started again.
    """
