"""A small synchronous client for an emulator's control plane (``/_emulator/``)."""

from __future__ import annotations

from typing import Any

import requests


class EmulatorControl:
    """Drive one emulator from tests: inspect what it saw, add apps, change settings, inject faults.

    :param root_url: the emulator's root, e.g. ``http://127.0.0.1:8601`` (not its API base URL).
    """

    def __init__(self, root_url: str, timeout: float = 10.0) -> None:
        self.root_url = root_url.rstrip("/")
        self.timeout = timeout
        self._session = requests.Session()

    def _call(self, method: str, name: str, body: Any = None) -> Any:
        response = self._session.request(
            method, f"{self.root_url}/_emulator/{name}", json=body, timeout=self.timeout
        )
        if response.status_code >= 400:
            raise ValueError(f"emulator refused {name}: {response.text}")
        return response.json()

    def state(self) -> dict[str, Any]:
        """Counts, recorded requests, runs, faults, settings and apps."""
        return self._call("GET", "state")

    def reset(self) -> None:
        """Forget runs, requests, counts, faults and custom apps; settings return to their start values."""
        self._call("POST", "reset")

    def add_app(self, **definition: Any) -> dict[str, Any]:
        """Add an app, or update the fields given of an existing one (matched by ``id``)."""
        return self._call("POST", "apps", definition)

    def settings(self, **knobs: Any) -> dict[str, Any]:
        """Change global knobs; returns all settings."""
        return self._call("POST", "settings", knobs)

    def inject(
        self, kind: str, path: str, method: str = "*", times: int = 1, **extra: Any
    ) -> list[dict[str, Any]]:
        """Add a fault rule (``status``, ``html``, ``drop``, ``slow`` or ``malformed``); returns all rules."""
        return self._call(
            "POST", "faults", {"kind": kind, "path": path, "method": method, "times": times, **extra}
        )

    def count(self, name: str) -> int:
        """A counter: ``starts``, ``stops``, ``polls`` or a route such as ``"GET /task/{task_id}"``."""
        return self.state()["counts"].get(name, 0)

    def runs(self) -> dict[str, dict[str, Any]]:
        """Run id -> summary."""
        return self.state()["runs"]
