"""Dify's run events (``GET /workflow/{run_id}/events``) read as progress, free of I/O.

Ground truth is a real Dify 1.14.1 server: with ``include_state_snapshot=true`` the stream replays
the persisted state first (``inputs``/``outputs``/``process_data`` null, the Human Input node finished
``paused``, its form content unrendered), then relays live events; a finished run is one
``workflow_finished`` line; a paused run's snapshot ends after ``workflow_paused``. Node progress is
keyed by the node execution id, so a replayed event and its live twin log once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from airflow_workflow_providers.core.progress import NodeProgress, Progress, RunEnded, RunPaused
from airflow_workflow_providers.core.sse import SSEDecoder


class RunEvents:
    """Reads a run's event stream into :mod:`~airflow_workflow_providers.core.progress` items."""

    def __init__(self) -> None:
        self.decoder = SSEDecoder()
        self.form: dict[str, Any] = {}

    def feed(self, chunk: bytes) -> list[Progress]:
        items: list[Progress] = []
        for event in self.decoder.feed(chunk):
            if event.event == "ping" or not event.data:
                continue
            try:
                payload = json.loads(event.data)
            except ValueError:
                continue  # progress is best effort: polling decides
            data = payload.get("data") if isinstance(payload, Mapping) else None
            if isinstance(data, Mapping):
                item = self._item(str(payload.get("event")), data)
                if item is not None:
                    items.append(item)
        return items

    def _item(self, kind: str, data: Mapping[str, Any]) -> Progress | None:
        if kind in ("node_started", "node_finished"):
            seconds = data.get("elapsed_time")
            return NodeProgress(
                key=str(data.get("id") or data.get("node_id")),
                title=str(data.get("title") or data.get("node_id")),
                status="running" if kind == "node_started" else str(data.get("status")),
                seconds=float(seconds) if isinstance(seconds, (int, float)) else None,
            )
        if kind == "human_input_required":
            self.form = dict(data)
        elif kind == "workflow_paused":
            reasons = data.get("reasons")
            reason = (
                reasons[0]
                if isinstance(reasons, list) and reasons and isinstance(reasons[0], Mapping)
                else {}
            )
            form = {**self.form, **reason}
            token = form.get("form_token")
            return RunPaused(
                form, form_summary(form), str(token) if token else None, str(form.get("node_title") or "")
            )
        elif kind == "workflow_finished":
            return RunEnded(str(data.get("status")))
        return None


def form_summary(form: Mapping[str, Any]) -> str:
    """One line about a Human Input form: its node's title, actions and expiry."""
    actions = [str(a.get("id")) for a in form.get("actions") or [] if isinstance(a, Mapping)]
    expiry = form.get("expiration_time")
    when = (
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expiry))
        if isinstance(expiry, (int, float))
        else "never"
    )
    return f"Human Input {form.get('node_title')!r} waits for an answer (actions {actions}; expires {when})"
