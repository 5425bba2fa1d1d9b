"""The Dify emulator's Human Input pauses, for workflow and chatflow runs alike.

Follows ``shared/recordings/dify-1.14.1-chatflow-knowledge-human-input.md`` (section 2): a run of an app
whose ``human_input`` option lists Human Input nodes pauses at the first; the form token is only in the
stream (``human_input_required``, ``workflow_paused``) and the events endpoint, never in the poll.
``GET/POST /form/human_input/{token}``: 412 ``human_input_form_submitted`` once submitted, 400
``invalid_form_data`` for an unknown action or a missing input, 404 for another app's key. Submitting
resumes the run (``running`` for ``resume_seconds``), which then pauses at the next node of the list
or succeeds. A stop on a paused run answers success and changes nothing; the run then resumed by its
form stays ``running`` for good.

Scripting: ``control.add_app(id=..., options={"human_input": [node, ...]})`` with nodes shaped like
:data:`APPROVAL_NODE` (``node_id``, ``title``, ``form_content``, ``inputs``, ``actions``). Two
nodes make a run pause twice (the second pause is not recorded: it repeats the first's events after
the resumption's ``human_input_form_filled``).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from airflow_workflow_providers.testing._runs import Run

PAUSED = "paused"
_NS = uuid.UUID("0f1b5a1e-3c55-4c8e-9d0e-2f9f1d4a7b21")
_OUTPUT_REF = re.compile(r"\{\{#\$output\.(\w+)#\}\}")
_START_REF = re.compile(r"\{\{#start\.(\w+)#\}\}")

#: the recorded ``airflow-approval`` app's node
APPROVAL_NODE: Mapping[str, Any] = {
    "node_id": "approval",
    "node_type": "human-input",
    "title": "Approval",
    "form_content": "Please review the request: **{{#start.query#}}**\n\nReviewer comment: {{#$output.comment#}}",
    "inputs": [
        {
            "type": "text_input",
            "output_variable_name": "comment",
            "default": {"type": "constant", "selector": [], "value": ""},
        }
    ],
    "actions": [
        {"id": "approve", "title": "Approve", "button_style": "primary"},
        {"id": "reject", "title": "Reject", "button_style": "default"},
    ],
}


@dataclass
class HumanForm:
    """One Human Input pause of a run, and the answer that resumed it (``submitted``)."""

    token: str
    form_id: str
    node: Mapping[str, Any]
    rendered: str
    expiration_time: int
    #: ``action``, ``inputs``, ``user``, ``at`` (the resume time) and ``task_id`` (the resumed run's)
    submitted: dict[str, Any] | None = None

    def definition(self) -> dict[str, Any]:
        return {
            "form_content": self.rendered,
            "inputs": self.node["inputs"],
            "resolved_default_values": {},
            "user_actions": self.node["actions"],
            "expiration_time": self.expiration_time,
        }

    def reason(self, rendered: bool = True) -> dict[str, Any]:
        """The ``human_input_required`` data (``rendered=False``: the content as the snapshot replays it)."""
        return {
            "form_id": self.form_id,
            "node_id": self.node["node_id"],
            "node_title": self.node["title"],
            "form_content": self.rendered if rendered else self.node["form_content"],
            "inputs": self.node["inputs"],
            "actions": self.node["actions"],
            "display_in_ui": True,
            "form_token": self.token,
            "resolved_default_values": {},
            "expiration_time": self.expiration_time,
        }

    def paused_reason(self, rendered: bool = True) -> dict[str, Any]:
        reason = self.reason(rendered)
        del reason["display_in_ui"]
        return {"TYPE": "human_input_required", **reason}

    def action_title(self) -> str | None:
        action = (self.submitted or {}).get("action")
        return next((a["title"] for a in self.node["actions"] if a["id"] == action), None)

    def problems(self, body: Mapping[str, Any]) -> str | None:
        """Why Dify refuses this answer (400 ``invalid_form_data``), if it does."""
        action = body.get("action")
        if action not in {a["id"] for a in self.node["actions"]}:
            return f"Invalid action: {action}"
        given = body.get("inputs") if isinstance(body.get("inputs"), Mapping) else {}
        missing = [
            i["output_variable_name"] for i in self.node["inputs"] if i["output_variable_name"] not in given
        ]
        return f"Missing required inputs: {', '.join(missing)}" if missing else None


def human_input_nodes(run: Run) -> list[Mapping[str, Any]]:
    return list(run.app.options.get("human_input") or [])


def forms_of(run: Run) -> list[HumanForm]:
    """The forms of the run's pauses so far, in order."""
    return run.extra.get("forms", [])


def form_of(run: Run) -> HumanForm | None:
    """The form of the run's latest pause."""
    forms = forms_of(run)
    return forms[-1] if forms else None


def resumed_by(run: Run) -> HumanForm | None:
    """The form whose answer resumed the run last."""
    return next((form for form in reversed(forms_of(run)) if form.submitted is not None), None)


def awaiting_form(run: Run, now: float | None = None) -> bool:
    form = form_of(run)
    return form is not None and form.submitted is None and not run.is_active(now)


def plan_human_input(run: Run, timeout: float) -> None:
    """Make a run of a Human Input app pause at its first node (at ``ends_at``)."""
    if human_input_nodes(run):
        run.extra["forms"] = []
        _pause(run, timeout)


def _pause(run: Run, timeout: float) -> None:
    """Pause the run at ``ends_at`` at its next Human Input node."""
    node = human_input_nodes(run)[len(forms_of(run))]
    rendered = _START_REF.sub(lambda m: str(run.inputs.get(m.group(1), "")), node["form_content"])
    key = f"{run.id}:{node['node_id']}"
    form = HumanForm(
        uuid.uuid5(_NS, "form:" + key).hex[:22],
        str(uuid.uuid5(_NS, "form-id:" + key)),
        node,
        rendered,
        int(run.ends_at + timeout),
    )
    run.extra["forms"].append(form)
    run.outcome = PAUSED
    run.outputs = {}


def submit(run: Run, form: HumanForm, body: Mapping[str, Any], resume_seconds: float, timeout: float) -> None:
    """Resume the run for ``resume_seconds``: then it pauses at its next node or succeeds; after a
    stop sent while it was paused it runs forever."""
    now = time.time()
    form.submitted = {
        "action": body["action"],
        "inputs": dict(body.get("inputs") or {}),
        "user": body["user"],
        "at": now,
        "task_id": str(uuid.uuid4()),
    }
    if run.stop_requested:
        run.run_seconds = float("inf")  # the stop set while paused aborts the resume and is never persisted
        run.outcome = "succeeded"
        return
    run.run_seconds = now + resume_seconds - run.started_at
    if len(forms_of(run)) < len(human_input_nodes(run)):
        _pause(run, timeout)
        return
    run.outcome = "succeeded"
    run.outputs = run.app.render_outputs(run.inputs)
    for answered in forms_of(run):
        run.outputs |= {
            "decision": answered.submitted["action"],  # type: ignore[index]
            "decision_title": answered.action_title(),
            **answered.submitted["inputs"],  # type: ignore[index]
        }


def node_outputs(form: HumanForm) -> dict[str, Any]:
    """The Human Input node's outputs once its form was submitted."""
    submitted = form.submitted or {}
    inputs = submitted.get("inputs", {})
    rendered = _OUTPUT_REF.sub(lambda m: str(inputs.get(m.group(1), "")), form.rendered)
    return {
        **inputs,
        "__action_id": submitted.get("action"),
        "__action_value": form.action_title(),
        "__rendered_content": rendered,
    }


def filled_event(form: HumanForm) -> dict[str, Any]:
    """The ``human_input_form_filled`` data of a resumed run."""
    outputs = node_outputs(form)
    return {
        "node_id": form.node["node_id"],
        "node_title": form.node["title"],
        "rendered_content": outputs["__rendered_content"],
        "action_id": outputs["__action_id"],
        "action_text": outputs["__action_value"],
    }


def find_form(runs: Mapping[str, Run], app_id: str, token: str) -> tuple[Run, HumanForm] | None:
    """The run and form of a token, answered or not, among the runs of one app."""
    for run in runs.values():
        for form in forms_of(run):
            if form.token == token and run.app.id == app_id:
                return run, form
    return None
