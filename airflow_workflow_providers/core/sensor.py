"""The sensor every platform's run sensor derives from: wait for a run started elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow_workflow_providers.core import story
from airflow_workflow_providers.core.compat import (
    AirflowSensorTimeout,
    AirflowSkipException,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)
from airflow_workflow_providers.core.completion import RunCompletionMixin
from airflow_workflow_providers.core.errors import (
    PermanentAPIError,
    PlatformAPIError,
    RunTimedOut,
    WorkflowProviderError,
)
from airflow_workflow_providers.core.model import RunRef


class WorkflowRunSensor(RunCompletionMixin, BaseSensorOperator):
    """Wait for an existing remote run; succeed with its result, fail if it fails or is cancelled.

    :param run_id: the remote run id (templated, so an upstream task's XCom can feed it).
    :param conn_id: the Airflow connection (templated).
    :param deferrable: wait on the triggerer (default: ``[operators] default_deferrable``).

    ``poke_interval``, ``timeout``, ``soft_fail`` and ``never_fail`` work as on every sensor, deferred
    or not: a timeout raises ``AirflowSensorTimeout`` (no retry, skipped with ``soft_fail``). The sensor
    never stops the run: it does not own it.
    """

    template_fields: Sequence[str] = ("run_id", "conn_id")
    ui_color = "#e8f0fe"

    def __init__(
        self,
        *,
        run_id: str,
        conn_id: str | None = None,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.run_id = run_id
        self.conn_id = conn_id or self.hook_class.default_conn_name
        self.deferrable = deferrable

    def run_ref(self) -> RunRef:
        """The reference to poll; platforms whose polls need more than the run id extend it."""
        return RunRef(str(self.run_id))

    def execute(self, context: Any) -> Any:
        if not self.deferrable:
            return super().execute(context)
        self.defer_until_done(
            self.run_ref(), poll_interval=self.poke_interval, wait=self.timeout, cancel_on_kill=False
        )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        """Resume after the trigger fired, ending as poke mode would for the same outcome."""
        try:
            return super().execute_complete(context, event)
        except RunTimedOut as exc:
            if self.soft_fail:
                raise AirflowSkipException(f"{exc} Skipping: soft_fail is set.") from exc
            raise AirflowSensorTimeout(str(exc)) from exc
        except WorkflowProviderError as exc:
            if self.never_fail:
                raise AirflowSkipException(f"{exc} Skipping: never_fail is set.") from exc
            raise

    def poke(self, context: Any) -> bool | PokeReturnValue:
        try:
            run = self.hook.get_run(self.run_ref())
        except PermanentAPIError:
            raise
        except PlatformAPIError as exc:
            self.log.warning(
                "Could not poll %s run %s (%s); trying again at the next poke.",
                self.hook.api.name,
                self.run_id,
                exc,
            )
            return False
        if not run.state.is_terminal:
            self.log.info(
                "%s; poking again in %s.",
                story.state(self.hook.api.name, run.run_id, run.state.value, run.raw_status),
                story.duration(self.poke_interval),
            )
            return False
        return PokeReturnValue(is_done=True, xcom_value=self.finish(run))
