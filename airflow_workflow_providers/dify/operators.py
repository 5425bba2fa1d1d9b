"""Operators that run Dify apps: workflows, chatflows, and chat/agent/completion messages."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow_workflow_providers.core.batch.items import Item
from airflow_workflow_providers.core.batch.operator import BatchRunMixin
from airflow_workflow_providers.core.boundary import fails_fast
from airflow_workflow_providers.core.compat import BaseOperator
from airflow_workflow_providers.core.errors import RunTimedOut
from airflow_workflow_providers.core.links import RemoteRunLink
from airflow_workflow_providers.core.model import Run, RunRef
from airflow_workflow_providers.core.operator import WorkflowRunOperator
from airflow_workflow_providers.core.outputs import FileOutputsMixin
from airflow_workflow_providers.dify import chat_api
from airflow_workflow_providers.dify.hooks import DifyHook
from airflow_workflow_providers.dify.human_input import HumanInputMixin, checked_mode
from airflow_workflow_providers.dify.knowledge.operators import (
    DifyKnowledgeIngestOperator as DifyKnowledgeIngestOperator,
)


class DifyRunWorkflowOperator(HumanInputMixin, FileOutputsMixin, WorkflowRunOperator):
    """Run a Dify workflow app and return its outputs.

    Returns ``{"run_id", "status", "raw_status", "outputs", "error", "total_tokens", "elapsed_time",
    "total_steps"}``; ``run_id`` is also pushed to XCom (key ``run_id``) as soon as the run starts.
    Inputs are checked against the app's input form before anything is submitted. The task's
    "Remote run" link (Details tab) opens the app's run logs in the Dify console.

    :param inputs: the app's input variables (templated).
    :param user: Dify end-user id (templated). Defaults to an id stable across retries of the task
        instance: ``airflow:<dag>:<task>:<run>:<map index>``.
    :param files: Dify ``files`` list (templated), e.g.
        ``[{"type": "document", "transfer_method": "remote_url", "url": "..."}]``.
    :param workflow_id: pin a published workflow version (templated); default: the latest.
    :param output_dir: copy the run's file outputs here right after it ends (templated; a path or an
        ``ObjectStoragePath`` URL): Dify signs file URLs for only 5 minutes. Each file object in the
        result then also has ``location``, ``size`` and ``sha256`` (see
        :class:`~airflow_workflow_providers.core.outputs.FileOutputsMixin`).
    :param on_human_input: what to do when the run pauses at a Human Input node: ``"wait"`` (default:
        keep waiting; the form's title, actions and expiry are logged while deferred), ``"airflow"``
        (Airflow >= 3.1: ask it as an Airflow required action, submit the answer to Dify, wait again;
        see :mod:`airflow_workflow_providers.dify.human_input`) or ``"fail"``.
    :param follow_events: while deferred, follow the run's event stream: node progress in the task log
        and resumption as soon as the run ends (polls stay the source of truth); ``False``: polls only.

    See :class:`~airflow_workflow_providers.core.operator.WorkflowRunOperator` for ``conn_id``,
    ``wait_for_completion``, ``deferrable``, ``poll_interval``, ``timeout`` and ``cancel_on_kill``.
    """

    hook_class = DifyHook
    template_fields: Sequence[str] = (
        *WorkflowRunOperator.template_fields,
        "user",
        "files",
        "workflow_id",
        "output_dir",
    )
    template_fields_renderers = {**WorkflowRunOperator.template_fields_renderers, "files": "json"}
    operator_extra_links = (RemoteRunLink(),)
    inputs_checked_against = "the app's input form (GET /parameters)"
    run_subject = "app {app_id}, end user {user}"

    def __init__(
        self,
        *,
        user: str | None = None,
        files: list[dict[str, Any]] | None = None,
        workflow_id: str | None = None,
        on_human_input: str = "wait",
        follow_events: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.user = user
        self.files = files
        self.workflow_id = workflow_id
        self.on_human_input = checked_mode(on_human_input)
        self.follow_events = follow_events

    @property
    def api_options(self) -> dict[str, Any]:
        return {} if self.follow_events else {"follow_events": False}

    def start_spec(self, context: Any) -> dict[str, Any]:
        return {
            "inputs": self.inputs,
            "user": self.user or default_user(context),
            "files": self.files,
            "workflow_id": self.workflow_id,
        }

    def check_inputs(self, spec: dict[str, Any]) -> None:
        self.hook.check_app_mode(type(self).__name__)
        self.hook.check_inputs(spec["inputs"])


class DifyRunChatflowOperator(DifyRunWorkflowOperator):
    """Send a message to a Dify chatflow (advanced-chat) app and wait for its run like a workflow run.

    The message is started in streaming mode and read only until its run, message and conversation
    ids are known; the run is then polled (``GET /workflows/run/{id}``), on the triggerer when
    deferrable. When it ends, the answer is read from ``GET /messages``. Returns ``{"run_id",
    "message_id", "conversation_id", "answer", "status", "raw_status", "outputs", "error",
    "total_tokens", "elapsed_time", "total_steps"}``; a later task continues the conversation with
    ``conversation_id="{{ ti.xcom_pull(task_ids='ask')['conversation_id'] }}"``.

    :param query: the user's message (templated).
    :param inputs: the app's input variables (templated), checked against its input form first. Dify
        uses the inputs sent with each message; the conversation keeps those of its first message.
    :param conversation_id: continue this conversation (templated); default: a new one. A
        conversation belongs to its end user, so the default ``user`` is one per DAG run
        (``airflow:<dag>:<run>``): the tasks of a run can continue each other's conversations.

    ``user``, ``files`` and ``workflow_id`` as for :class:`DifyRunWorkflowOperator`; see
    :class:`~airflow_workflow_providers.core.operator.WorkflowRunOperator` for ``conn_id``,
    ``deferrable``, ``poll_interval``, ``timeout`` and ``cancel_on_kill`` (a stop goes to
    ``/chat-messages/{task_id}/stop``).
    """

    template_fields: Sequence[str] = (*DifyRunWorkflowOperator.template_fields, "query", "conversation_id")

    def __init__(self, *, query: str, conversation_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.query = query
        self.conversation_id = conversation_id

    def start_spec(self, context: Any) -> dict[str, Any]:
        return {
            **super().start_spec(context),
            "user": self.user or conversation_user(context),
            "query": self.query,
            "conversation_id": self.conversation_id or None,
        }

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        self._run_ref = RunRef.from_json(event["run"])
        return super().execute_complete(context, event)

    def completed(self, run: Run) -> dict[str, Any]:
        ref = self._run_ref or RunRef(run.run_id)
        answer = self.hook.get_answer(ref)
        if answer is None:
            self.log.warning(
                "Dify listed no message %s; the answer is the run's `answer` output.",
                ref.extras.get("message_id"),
            )
            answer = str((run.outputs or {}).get("answer", ""))
        return {
            **super().completed(run),
            "message_id": ref.extras.get("message_id"),
            "conversation_id": ref.extras.get("conversation_id"),
            "answer": answer,
        }


class DifyChatMessageOperator(BaseOperator):
    """Send a message to a Dify chat, agent or text-generation (completion) app and return its answer.

    Not deferrable: these apps answer inside Dify's API process, not as workflow runs, so once their
    stream closes there is nothing left to poll or follow. The answer is read from the stream on the
    worker up to ``message_end``, for at most ``timeout`` seconds (then the message is stopped and the
    task fails); killing the task stops the message too. The app's mode is checked first
    (``GET /info``): a workflow or chatflow app fails before anything is sent, naming the operator to use.

    Returns ``{"message_id", "conversation_id", "answer", "usage", "retriever_resources"}``.

    :param query: the user's message (templated).
    :param inputs: the app's input variables (templated), checked against its input form first.
    :param conversation_id: continue this conversation (templated; chat and agent apps).
    :param user: Dify end-user id (templated); default: one per DAG run (``airflow:<dag>:<run>``), so
        the tasks of a run can continue each other's conversations.
    :param files: Dify ``files`` list (templated).
    :param conn_id: the Airflow connection (type ``dify``) holding the app's API key.
    :param timeout: seconds the answer may take.
    """

    template_fields: Sequence[str] = ("query", "inputs", "conversation_id", "user", "files", "conn_id")
    template_fields_renderers = {"inputs": "json", "files": "json"}
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        query: str,
        inputs: dict[str, Any] | None = None,
        conversation_id: str | None = None,
        user: str | None = None,
        files: list[dict[str, Any]] | None = None,
        conn_id: str = DifyHook.default_conn_name,
        timeout: float = 600.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout}")
        self.query = query
        self.inputs = inputs if inputs is not None else {}
        self.conversation_id = conversation_id
        self.user = user
        self.files = files
        self.conn_id = conn_id
        self.timeout = float(timeout)
        self._reader: chat_api.MessageReader | None = None
        self._mode = "chat"
        self._user = ""

    @cached_property
    def hook(self) -> DifyHook:
        return DifyHook(conn_id=self.conn_id)

    @fails_fast
    def execute(self, context: Any) -> dict[str, Any]:
        self._mode = self.hook.check_app_mode(type(self).__name__)
        self.hook.check_inputs(self.inputs)
        user = self._user = self.user or conversation_user(context)
        body = chat_api.message_body(
            query=self.query,
            inputs=self.inputs,
            user=user,
            conversation_id=self.conversation_id or None,
            files=self.files,
        )
        call = chat_api.send_message(self._mode, body, self.timeout)
        self._reader = call.reader  # type: ignore[assignment]
        self.log.info(
            "Sending a message to the Dify %s app; reading its answer (at most %.0f s).",
            self._mode,
            self.timeout,
        )
        try:
            result = self.hook.send_message(call, self.timeout)
        except RunTimedOut:
            self._stop()
            raise
        self.log.info(
            "Dify answered message %s (%d characters).", result["message_id"], len(result["answer"])
        )
        return result

    def on_kill(self) -> None:
        self._stop()

    def _stop(self) -> None:
        """Best effort: stop the message being answered, if its task id is known yet."""
        reader = self._reader
        if reader is None or not reader.task_id:
            return
        try:
            self.hook.stop_message(self._mode, reader.task_id, self._user)
        except Exception as exc:
            self.log.warning("Could not stop Dify message task %s: %s", reader.task_id, exc)


def default_user(context: Any) -> str:
    """An end-user id that names the task instance and stays the same across its tries."""
    ti = context["ti"]
    return f"airflow:{ti.dag_id}:{ti.task_id}:{ti.run_id}:{ti.map_index}"


class DifyBatchRunWorkflowOperator(BatchRunMixin, DifyRunWorkflowOperator):
    """Run a Dify workflow app over many items (see :class:`~airflow_workflow_providers.core.batch.operator.BatchRunMixin`).

    :param user: the end-user id of each item's run, a pattern where ``{index}`` and ``{id}`` stand for the
        item's (templated). Default: ``airflow:<dag>:<task>:<run>:<map index>:{index}``. A pattern without
        either gets ``:{index}`` appended: one end user per item is what lets a start whose answer was
        lost be found again (``GET /workflows/logs`` by end user) instead of run twice.
    :param files: Dify ``files`` list sent with every item (templated).
    :param workflow_id: pin a published workflow version (templated).
    """

    def item_spec(self, context: Any, item: Item) -> dict[str, Any]:
        spec = super().item_spec(context, item)
        pattern = self.user or default_user(context)
        if "{index}" not in pattern and "{id}" not in pattern:
            pattern += ":{index}"
        spec["user"] = pattern.replace("{index}", str(item.index)).replace("{id}", str(item.id))
        return spec

    def check_inputs(self, spec: dict[str, Any]) -> None:
        # the app must be one DifyRunWorkflowOperator runs (a workflow app), whose form each item must fit
        self.hook.check_app_mode(DifyRunWorkflowOperator.__name__)
        self.hook.check_inputs(spec["inputs"])


def conversation_user(context: Any) -> str:
    """An end-user id for chat apps: one per DAG run, since a conversation belongs to its end user and
    the tasks of a run continue each other's conversations."""
    ti = context["ti"]
    return f"airflow:{ti.dag_id}:{ti.run_id}"
