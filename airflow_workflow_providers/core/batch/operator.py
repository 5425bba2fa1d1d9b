"""What turns a platform's run operator into its batch operator (one per platform, a thin subclass)."""

from __future__ import annotations

import contextlib
import math
import re
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow_workflow_providers.core.batch.items import Item, read_items
from airflow_workflow_providers.core.batch.journal import BatchStore
from airflow_workflow_providers.core.compat import BaseOperator
from airflow_workflow_providers.core.completion import DEFER_MARGIN
from airflow_workflow_providers.core.errors import BatchFailed, ConfigurationError, InputValidationError
from airflow_workflow_providers.core.outputs import output_root

#: problems listed when pre-flight rejects items
PROBLEMS_LISTED = 20
#: seconds ``on_kill`` gives a blocking batch to stop its runs (Airflow sends SIGKILL 5 s after SIGTERM)
KILL_GRACE = 3.0
STOPPED_BY_AIRFLOW = "Airflow stopped the task (killed, marked, cleared or past its execution_timeout)"
_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]+")

if TYPE_CHECKING:
    from airflow_workflow_providers.core.batch.blocking import EngineThread


class BatchRunMixin(BaseOperator):
    """Runs the platform operator it is mixed into over many items (``class X(BatchRunMixin, RunOperator)``;
    a ``BaseOperator`` only so that Airflow applies ``default_args`` to its arguments too).

    Each item's start arguments come from the platform operator's own ``start_spec`` (with the item as
    ``inputs``) and are checked by its own ``check_inputs``; the engine in
    :mod:`airflow_workflow_providers.core.batch` does the rest.

    :param items: a list of input dicts (e.g. an upstream XCom), or the path/URI of a JSONL or CSV file
        (``ObjectStoragePath``: local, ``file://``, ``s3://``...), one item per line/row (templated).
    :param output_path: where the results go, one JSON line per item: ``{"index", "id", "run_id", "status",
        "outputs", "error", <usage fields>}`` (templated; required when ``items`` is a path). The batch's
        progress is kept beside it, in ``<output_path>.batch/``. Default for a list:
        ``$AIRFLOW_HOME/batch_runs/<dag>/<run>/<task>.jsonl`` (local to the machine).
    :param inputs_field: take an item's inputs from this field instead of the whole item.
    :param id_field: the field that identifies an item in its result (default: its 0-based index); it is
        not sent as an input.
    :param concurrency: most runs in flight at once; lowered (and raised again slowly) when the platform
        answers with a rate or concurrency limit.
    :param max_failures: failed items allowed (an int, or a fraction of the items such as 0.05) before the
        task fails at the end; every item is attempted either way.
    :param skip_invalid: write items that fail pre-flight as failed results and run the rest, instead of
        starting nothing.
    :param item_timeout: seconds one run may take (then it is stopped where possible and recorded ``timeout``).
    :param timeout: seconds the whole batch may take; then every run in flight is stopped (where the
        platform can) and recorded ``cancelled``, and the task fails.
    :param cancel_on_kill: stop the runs in flight when the task is killed, marked or cleared.

    Returns ``{"total", "succeeded", "failed", "output_path", "usage", "elapsed_seconds"}``; ``output_path``
    is pushed to XCom (key ``output_path``) when the task starts.
    """

    operator_extra_links = ()  # a batch has no one remote run to link to
    conn_id: str
    deferrable: bool
    poll_interval: float
    timeout: float
    cancel_on_kill: bool
    inputs: Any
    hook: Any
    log: Any
    api_options: dict[str, Any]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.template_fields = tuple(dict.fromkeys([*cls.template_fields, "items", "output_path"]))

    def __init__(
        self,
        *,
        items: Any,
        output_path: Any = None,
        inputs_field: str | None = None,
        id_field: str | None = None,
        concurrency: int = 10,
        max_failures: int | float = 0,
        skip_invalid: bool = False,
        item_timeout: float = 3600.0,
        timeout: float = 24 * 3600.0,
        poll_interval: float = 5.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, poll_interval=poll_interval, **kwargs)
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be a positive int, got {concurrency!r}")
        allowed_failures(max_failures, 0)  # checked now: a wrong value is a DAG import error
        if item_timeout <= 0:
            raise ValueError(f"item_timeout must be positive, got {item_timeout}")
        self.items = items
        self.output_path = output_path
        self.inputs_field = inputs_field
        self.id_field = id_field
        self.concurrency = concurrency
        self.max_failures = max_failures
        self.skip_invalid = skip_invalid
        self.item_timeout = float(item_timeout)
        self._store: BatchStore | None = None
        self._engine: EngineThread | None = None

    # -- what a platform may refine ---------------------------------------------------------------
    def item_spec(self, context: Any, item: Item) -> dict[str, Any]:
        """The start arguments of one item: the platform operator's ``start_spec`` with the item as inputs."""
        self.inputs = item.inputs
        return self.start_spec(context)  # type: ignore[attr-defined]

    # -- execution --------------------------------------------------------------------------------
    def execute(self, context: Any) -> dict[str, Any]:
        # imported here, not with the module: every DAG file using a platform's operators imports it
        from airflow_workflow_providers.core.batch.blocking import EngineThread
        from airflow_workflow_providers.core.batch.engine import BatchEngine, BatchPlan, file_keeper
        from airflow_workflow_providers.core.batch.trigger import BatchRunTrigger

        location = self._output_location(context)
        context["ti"].xcom_push(key="output_path", value=location)
        store = self._store = BatchStore(location)
        total = self._preflight(context, store)
        output_dir = getattr(self, "output_dir", None)  # platforms with file outputs (core.outputs)
        if output_dir:
            output_root(output_dir, self.task_id)  # a wrong storage URL must fail before credits are spent
        plan = BatchPlan(
            total=total,
            concurrency=self.concurrency,
            poll_interval=self.poll_interval,
            end_time=time.time() + self.timeout,
            item_timeout=self.item_timeout,
            cancel_on_stop=self.cancel_on_kill,
        )
        if self.deferrable:
            self.defer(
                trigger=BatchRunTrigger(
                    platform=self.hook.api.key,
                    conn_id=self.conn_id,
                    output_path=location,
                    total=total,
                    concurrency=plan.concurrency,
                    poll_interval=plan.poll_interval,
                    end_time=plan.end_time,
                    item_timeout=plan.item_timeout,
                    cancel_on_kill=plan.cancel_on_stop,
                    api_options=self.api_options,
                    output_dir=str(output_dir) if output_dir else None,
                ),
                method_name="execute_complete",
                timeout=timedelta(seconds=self.timeout + DEFER_MARGIN),
            )
        keeper = file_keeper(self.hook, output_dir, self.log) if output_dir else None
        self._engine = EngineThread(BatchEngine(self.hook, store, plan, self.log, keeper))
        return self._finish(store, total, self._engine.run())

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        from airflow_workflow_providers.core.batch.trigger import validate_batch_event

        event = validate_batch_event(event)
        return self._finish(BatchStore(event["output_path"]), event["total"], event)

    def on_kill(self) -> None:
        """A blocking batch killed, marked, cleared or past ``execution_timeout``: its engine stops every run
        in flight and records it cancelled, and the output is written. (A deferred batch is its trigger's.)"""
        if self._engine is None or self._store is None or not self.cancel_on_kill:
            return
        if not self._engine.stop(STOPPED_BY_AIRFLOW, KILL_GRACE):
            self.log.warning(
                "The batch had not stopped within %.0f s; writing the output as it stands.", KILL_GRACE
            )
        self._store.assemble()

    # -- steps ----------------------------------------------------------------------------------------
    def _output_location(self, context: Any) -> str:
        if self.output_path:
            return str(self.output_path)
        if not isinstance(self.items, (list, tuple)):
            raise ConfigurationError(f"Task {self.task_id!r}: output_path is required when items is a file")
        from airflow.configuration import AIRFLOW_HOME

        ti = context["ti"]
        name = ti.task_id + (f"_{ti.map_index}" if ti.map_index >= 0 else "")
        parts = [_UNSAFE.sub("_", part) for part in (ti.dag_id, ti.run_id, name)]
        return f"{AIRFLOW_HOME}/batch_runs/{parts[0]}/{parts[1]}/{parts[2]}.jsonl"

    def _preflight(self, context: Any, store: BatchStore) -> int:
        """Check every item and spill its start arguments next to the output; raise before anything
        starts when an item is bad (unless ``skip_invalid``)."""
        problems: list[str] = []
        seen = [0]

        def lines() -> Iterator[dict[str, Any]]:
            for item in read_items(self.items, inputs_field=self.inputs_field, id_field=self.id_field):
                seen[0] += 1
                spec, problem = self._checked_spec(context, item)
                if problem is None:
                    yield {"i": item.index, "id": item.id, "spec": spec}
                    continue
                problems.append(f"item {item.index} (id {item.id!r}): {problem}")
                if self.skip_invalid:
                    yield {"i": item.index, "id": item.id, "problem": f"rejected before starting: {problem}"}

        with self._descriptions_read_once():
            total, fingerprint = store.write_specs(lines())
        if problems and not self.skip_invalid:
            more = f"; and {len(problems) - PROBLEMS_LISTED} more" if len(problems) > PROBLEMS_LISTED else ""
            raise InputValidationError(
                f"{len(problems)} of {seen[0]} items rejected before starting, nothing was started:\n  "
                + "\n  ".join(problems[:PROBLEMS_LISTED])
                + more
            )
        store.check_meta(total, fingerprint)
        if problems:
            self.log.warning(
                "%d of %d items are invalid and recorded failed (skip_invalid): %s",
                len(problems),
                total,
                "; ".join(problems[:PROBLEMS_LISTED]),
            )
        self.log.info("Pre-flight: %d items checked; spilled to %s.", total, store.specs)
        return total

    def _checked_spec(self, context: Any, item: Item) -> tuple[dict[str, Any] | None, str | None]:
        if not isinstance(item.inputs, Mapping):
            return None, f"inputs must be a JSON object, got {type(item.inputs).__name__}"
        try:
            spec = self.item_spec(context, item)
            self.check_inputs(spec)  # type: ignore[attr-defined]
        except InputValidationError as exc:
            return None, str(exc)
        return spec, None

    @contextlib.contextmanager
    def _descriptions_read_once(self) -> Iterator[None]:
        """During pre-flight, each description the checks read (Dify's parameters, a Flowy app) is fetched once."""
        transport = self.hook.transport
        self.hook.__dict__["transport"] = _ReadOnce(transport)
        try:
            yield
        finally:
            self.hook.__dict__["transport"] = transport

    def _finish(self, store: BatchStore, total: int, outcome: Mapping[str, Any]) -> dict[str, Any]:
        tally = store.assemble()
        summary = {
            "total": total,
            "succeeded": tally["succeeded"],
            "failed": tally["failed"],
            "output_path": store.location,
            "usage": tally["usage"],
            "elapsed_seconds": round(time.time() - store.started_at(), 3),
        }
        self.log.info("Batch summary: %s", summary)
        where = f"results in {store.output}"
        if outcome["status"] != "completed":
            raise BatchFailed(
                f"{self.hook.api.name} batch stopped: {outcome['message']}; {outcome['not_attempted']} of {total} items "
                f"were not attempted ({tally['succeeded']} succeeded, {tally['failed']} failed; {where})."
            )
        allowed = allowed_failures(self.max_failures, total)
        if tally["failed"] > allowed:
            raise BatchFailed(
                f"{tally['failed']} of {total} {self.hook.api.name} batch items failed; max_failures="
                f"{self.max_failures!r} allows {allowed} ({where})."
            )
        return summary


def allowed_failures(max_failures: int | float, total: int) -> int:
    """How many failed items ``max_failures`` (an int, or a fraction in [0, 1)) allows among ``total``."""
    if isinstance(max_failures, bool) or not isinstance(max_failures, (int, float)) or max_failures < 0:
        raise ValueError(f"max_failures must be a non-negative int or a fraction, got {max_failures!r}")
    if isinstance(max_failures, float):
        if max_failures >= 1:
            raise ValueError(f"max_failures as a fraction must be below 1, got {max_failures!r}")
        return math.floor(max_failures * total)
    return max_failures


class _ReadOnce:
    """A transport whose GET answers are kept: pre-flight reads each description once for all items."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport
        self._answers: dict[Any, Any] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)

    def call(self, call: Any) -> Any:
        request = call.request
        if request.method != "GET":
            return self._transport.call(call)
        key = (request.path, tuple(sorted((request.query or {}).items())))
        if key not in self._answers:
            self._answers[key] = self._transport.call(call)
        return self._answers[key]
