"""Fixtures for the emulator tests: an authenticated HTTP client per platform."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from airflow_workflow_providers.testing import RunningEmulator


class Api:
    """``requests`` against one emulator's API base, authenticated with its default key."""

    def __init__(self, emulator: RunningEmulator, api_key: str | None = None) -> None:
        self.emulator = emulator
        self.headers = emulator.headers(api_key)

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.emulator.base_url + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)


def _client_fixture(platform_key: str) -> Any:
    @pytest.fixture(name=platform_key.split("_")[0])
    def client(request: pytest.FixtureRequest) -> Api:
        """A client of this platform's emulator (reset for the test)."""
        return Api(request.getfixturevalue(f"{platform_key}_emulator"))

    return client


dify, scade, arcee, flowy = (_client_fixture(key) for key in ("dify", "scade", "arcee_orchestra", "flowy"))


@pytest.fixture
def api() -> type[Api]:
    """The client class, for tests that need another key or emulator."""
    return Api
