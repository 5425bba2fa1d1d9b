"""Dify's Human Input forms as data (no I/O): reading a paused run's form, asking it, answering it.

Ground truth is a real Dify 1.14.1 server: the form token is only in the stream of the run (the
start's, or the events endpoint's snapshot), never in ``GET /workflows/run/{id}``; ``GET
/form/human_input/{token}`` gives the rendered definition; ``POST`` answers ``{}`` and resumes the run;
a form already answered (by anyone, in Dify's web app too) answers 412 ``human_input_form_submitted``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_workflow_providers.core.errors import ResponseFormatError
from airflow_workflow_providers.core.model import Request, Response, RunRef
from airflow_workflow_providers.core.platform import json_body
from airflow_workflow_providers.core.progress import RunPaused
from airflow_workflow_providers.core.retry import Call
from airflow_workflow_providers.dify.events import RunEvents

NAME = "Dify"
#: the error code of a form that was answered already
SUBMITTED = "human_input_form_submitted"


@dataclass(frozen=True, slots=True)
class FormQuestion:
    """A Human Input form put as an Airflow required action: options are the action titles."""

    token: str
    subject: str
    body: str
    #: option shown in Airflow -> Dify action id
    actions: Mapping[str, str]
    #: input name -> default value
    inputs: Mapping[str, Any]
    expires_at: float | None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= time.time()

    def answer(self, chosen: list[str], values: Mapping[str, Any], user: str) -> dict[str, Any]:
        """The body of ``POST /form/human_input/{token}`` for what the person chose in Airflow."""
        if len(chosen) != 1 or chosen[0] not in self.actions:
            raise ValueError(f"expected one of {sorted(self.actions)}, got {chosen!r}")
        inputs = {name: values.get(name, default) for name, default in self.inputs.items()}
        return {
            "action": self.actions[chosen[0]],
            "inputs": {k: "" if v is None else v for k, v in inputs.items()},
            "user": user,
        }


def question(token: str, definition: Any, title: str) -> FormQuestion:
    """The required action for a form definition (``GET /form/human_input/{token}``)."""
    if not isinstance(definition, Mapping) or not isinstance(definition.get("user_actions"), list):
        raise ResponseFormatError(
            f"{NAME} form {token}: expected a definition with user_actions, got {definition!r}"
        )
    actions = [a for a in definition["user_actions"] if isinstance(a, Mapping) and a.get("id")]
    titles = [str(a.get("title") or a["id"]) for a in actions]
    # titles are what a person reads; ids stand in when two actions share a title
    labels = titles if len(set(titles)) == len(titles) else [str(a["id"]) for a in actions]
    inputs = {}
    for spec in definition.get("inputs") or []:
        if isinstance(spec, Mapping) and spec.get("output_variable_name"):
            default = spec.get("default")
            inputs[str(spec["output_variable_name"])] = (
                default.get("value") if isinstance(default, Mapping) else None
            )
    expiry = definition.get("expiration_time")
    return FormQuestion(
        token=token,
        subject=title,
        body=str(definition.get("form_content") or ""),
        actions={label: str(a["id"]) for label, a in zip(labels, actions)},
        inputs=inputs,
        expires_at=float(expiry) if isinstance(expiry, (int, float)) else None,
    )


def form(token: str) -> Call[Any]:
    return Call(Request("GET", f"/form/human_input/{token}"), lambda response: json_body(response, NAME))


def submit(token: str, body: Mapping[str, Any]) -> Call[Any]:
    """Answer a form; not idempotent (a repeat answers 412)."""
    request = Request("POST", f"/form/human_input/{token}", json=dict(body))
    return Call(request, lambda response: json_body(response, NAME), idempotent=False)


class PausedForm:
    """Reads a paused run's event snapshot until its pause names the form."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.events = RunEvents()

    def feed(self, chunk: bytes) -> RunPaused | None:
        return next((item for item in self.events.feed(chunk) if isinstance(item, RunPaused)), None)

    def end(self, *, timed_out: bool) -> RunPaused:
        raise ResponseFormatError(f"{NAME} run {self.run_id} is paused, but its event stream named no form")

    def read_whole(self, response: Response) -> RunPaused:
        return self.feed(response.body + b"\n\n") or self.end(timed_out=False)


def paused_form(ref: RunRef) -> Call[RunPaused]:
    """The form a paused run waits on, from the events endpoint's snapshot (needs the run's end user)."""
    query = {"user": ref.extras.get("user", ""), "include_state_snapshot": "true"}
    reader = PausedForm(ref.run_id)
    request = Request("GET", f"/workflow/{ref.run_id}/events", query=query, stream=True)
    return Call(request, reader.read_whole, run_id=ref.run_id, reader=reader)  # type: ignore[arg-type]
