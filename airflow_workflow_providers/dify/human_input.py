"""Human Input pauses of Dify runs: keep waiting, fail, or ask in Airflow's human-in-the-loop.

With ``on_human_input="airflow"`` a run that pauses at a Human Input node becomes an Airflow
required action (Browse -> Required Actions, or the HITL REST API): subject = the node's title, body =
the form's content, options = its action titles, params = its inputs with their defaults. The answer
is submitted to Dify (``POST /form/human_input/{token}``) and the task waits for the run again.

Airflow takes **one** required action per task try (a second answer to the same try is refused), so
when a run pauses a second time in one try the try fails, saying so; with task retries the next try
re-attaches to the same run (Airflow >= 3.3, ``task_state_store``) and asks the new form.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from airflow_workflow_providers.core.compat import FEATURES, ask_in_airflow, has_feature
from airflow_workflow_providers.core.errors import (
    ConfigurationError,
    PermanentAPIError,
    RunFailed,
    RunTimedOut,
)
from airflow_workflow_providers.core.model import Run, RunRef, RunState
from airflow_workflow_providers.core.watch import validate_event
from airflow_workflow_providers.dify import forms

if TYPE_CHECKING:
    from airflow_workflow_providers.dify.hooks import DifyHook

ON_HUMAN_INPUT = ("wait", "airflow", "fail")
#: what a run's reference carries about the pause being handled
FORM_EXTRAS = ("form_token", "form_title", "answered_form")


def checked_mode(on_human_input: str) -> str:
    if on_human_input not in ON_HUMAN_INPUT:
        raise ValueError(f"on_human_input must be one of {ON_HUMAN_INPUT}, got {on_human_input!r}")
    if on_human_input == "airflow" and not has_feature("human_in_the_loop"):
        import airflow

        minimum = ".".join(map(str, FEATURES["human_in_the_loop"][0][:2]))
        raise ConfigurationError(
            f"on_human_input='airflow' needs Airflow >= {minimum} (its human-in-the-loop API); this is "
            f"Airflow {airflow.__version__}. Use 'wait' (answer the form in Dify) or 'fail'."
        )
    return on_human_input


class HumanInputMixin:
    """What a Dify run operator does when its run pauses for a person (see the module docstring)."""

    on_human_input: str
    hook: DifyHook
    deferrable: bool
    poll_interval: float
    timeout: float
    cancel_on_kill: bool
    log: Any
    _state: Any

    @property
    def trigger_options(self) -> dict[str, Any]:
        return {"pause_event": True} if self.on_human_input != "wait" else {}

    # -- waiting ------------------------------------------------------------------------------------------
    def wait(self, context: Any, ref: RunRef, *, end_time: float) -> Run:
        """Poll on the worker; a pause goes to :meth:`on_pause` (a form already handled is waited out)."""
        while True:
            run = self.hook.wait_for_run(
                ref,
                end_time=end_time,
                poll_interval=self.poll_interval,
                until_paused=self.on_human_input != "wait",
            )
            if run.state is not RunState.PAUSED:
                return run
            paused = self.hook.paused_form(ref)
            if not paused.token or paused.token == ref.extras.get("form_token"):
                time.sleep(self.poll_interval)
                continue
            ref = self.on_pause(
                context,
                RunRef(
                    ref.run_id,
                    {
                        **ref.extras,
                        "form_token": paused.token,
                        "form_title": paused.form.get("node_title", ""),
                    },
                ),
            )

    def execute_complete(self, context: Any, event: dict[str, Any]) -> Any:
        if isinstance(event, dict) and event.get("status") == "paused":
            self._state = context.get("task_state_store")
            ref = self.on_pause(context, RunRef.from_json(validate_event(event)["run"]))
            return self.carry_on(context, ref)
        return super().execute_complete(context, event)  # type: ignore[misc]

    def carry_on(self, context: Any, ref: RunRef) -> Any:
        """Wait for the run again (a fresh ``timeout``: the time a person took is not the run's)."""
        self._state, self._run_ref = context.get("task_state_store"), ref
        if self.deferrable:
            self.defer_until_done(
                ref,
                poll_interval=self.poll_interval,
                wait=self.timeout,  # type: ignore[attr-defined]
                cancel_on_kill=self.cancel_on_kill,
            )
        try:
            run = self.wait(context, ref, end_time=time.time() + self.timeout)
        except RunTimedOut:
            self.on_wait_timeout(context, ref)  # type: ignore[attr-defined]
            raise
        result = self.finish(run)  # type: ignore[attr-defined]
        self._forget()  # type: ignore[attr-defined]
        return result

    # -- a pause ------------------------------------------------------------------------------------------
    def on_pause(self, context: Any, ref: RunRef) -> RunRef:
        """Handle the pause at the form ``ref`` names: return the reference to keep waiting on, or raise
        (``fail``, a second pause in this try) or park the task until a person answers in Airflow."""
        what = f"Dify run {ref.run_id}"
        if self.on_human_input == "fail":
            self._leave_paused(
                ref,
                f"{what} paused at Human Input {ref.extras.get('form_title')!r} and on_human_input='fail'. Dify "
                "cannot stop a paused run (a stop is lost), so it stays paused until its form is answered in "
                "Dify or expires.",
            )
        if ref.extras.get("answered_form"):
            self._leave_paused(
                ref,
                f"{what} paused a second time in this try, at Human Input {ref.extras.get('form_title')!r}. Airflow "
                "takes one required action per task try: with retries, the next try re-attaches to the run and "
                "asks this form; without, answer it in Dify.",
            )
        question = self._question(ref)
        if question is None:
            return ref
        self._ask(context, ref, question)

    def _leave_paused(self, ref: RunRef, message: str) -> NoReturn:
        """Fail this try, leaving the run paused on purpose: nobody stops it, so a retry re-attaches to it
        and meets its pause afresh (the stored reference names no form)."""
        extras = {k: v for k, v in ref.extras.items() if k not in FORM_EXTRAS}
        self._remember(RunRef(ref.run_id, extras), "worker")  # type: ignore[attr-defined]
        raise RunFailed(message, platform="Dify", run_id=ref.run_id, raw_status="paused")

    def _question(self, ref: RunRef) -> forms.FormQuestion | None:
        """The form as a required action; None (keep waiting) when it was answered in Dify or expired."""
        token, what = ref.extras["form_token"], f"Dify run {ref.run_id}"
        try:
            definition = self.hook.transport.call(forms.form(token))
        except PermanentAPIError as exc:
            if exc.code != forms.SUBMITTED:
                raise
            self.log.info("The form of %s was answered in Dify already; waiting for the run.", what)
            return None
        question = forms.question(token, definition, ref.extras.get("form_title") or "Dify Human Input")
        if question.expired:
            self.log.warning("The form of %s expired before it was asked; waiting for the run.", what)
            return None
        return question

    def _ask(self, context: Any, ref: RunRef, question: forms.FormQuestion) -> NoReturn:
        timeout = (
            timedelta(seconds=max(1.0, question.expires_at - time.time())) if question.expires_at else None
        )
        self.log.info(
            "Dify run %s waits for a person: asked in Airflow as the required action %r (options %s).",
            ref.run_id,
            question.subject,
            list(question.actions),
        )
        ask_in_airflow(
            self,
            context["task_instance"].id,
            subject=question.subject,
            body=question.body,
            options=list(question.actions),
            inputs={name: "" if default is None else default for name, default in question.inputs.items()},
            timeout=timeout,
            method_name="resume_after_input",
            kwargs={"run": ref.to_json()},
        )

    def resume_after_input(self, context: Any, event: dict[str, Any], run: dict[str, Any]) -> Any:
        """A person answered in Airflow (or nobody did in time): answer the form in Dify, wait again."""
        ref = RunRef.from_json(run)
        chosen = list(event.get("chosen_options") or [])
        if event.get("error") or event.get("timedout") or not chosen:
            self.log.warning(
                "Nobody answered the required action of Dify run %s in time; waiting for the run.", ref.run_id
            )
            return self.carry_on(context, ref)
        question = self._question(ref)
        if question is not None:
            responder = event.get("responded_by_user") or {}
            user = (
                f"airflow:{responder['name']}"
                if isinstance(responder, dict) and responder.get("name")
                else ref.extras.get("user", "")
            )
            body = question.answer(chosen, event.get("params_input") or {}, user)
            try:
                self.hook.transport.call(forms.submit(question.token, body))
                self.log.info(
                    "Answered the form of Dify run %s: action %r, inputs %s.",
                    ref.run_id,
                    body["action"],
                    sorted(body["inputs"]),
                )
            except PermanentAPIError as exc:
                if exc.code != forms.SUBMITTED:
                    raise
                self.log.info(
                    "The form of Dify run %s was answered in Dify meanwhile; that answer stands.", ref.run_id
                )
        return self.carry_on(
            context, RunRef(ref.run_id, {**ref.extras, "answered_form": question.token if question else "-"})
        )
