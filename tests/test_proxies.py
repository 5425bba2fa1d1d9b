"""Workers (requests) and the triggerer (aiohttp) honour the same proxy variables and the same CA bundle."""

from __future__ import annotations

import asyncio
import logging

import pytest

from airflow_workflow_providers.core.errors import PlatformAPIError
from airflow_workflow_providers.core.retry import RetryPolicy
from airflow_workflow_providers.core.transport import AsyncTransport, ClientConfig, SyncTransport
from airflow_workflow_providers.dify.api import DifyAPI
from tests.network import HttpsApp, RecordingProxy, private_ca

PROXY_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "REQUESTS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "CURL_CA_BUNDLE",
)
MODES = ["deferred", "blocking"]
#: how each transport introduces itself
WORKER, TRIGGERER = "python-requests/", "aiohttp/"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


@pytest.fixture
def proxy(monkeypatch):
    proxy = RecordingProxy()
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("HTTPS_PROXY", proxy.url)
    yield proxy
    proxy.close()


@pytest.fixture
def scade(scade_emulator, emulator_connection):
    emulator_connection(scade_emulator)
    return scade_emulator


def _status_polls(proxy: RecordingProxy, client: str) -> list[str]:
    return [
        p.url
        for p in proxy.api_requests()
        if p.method == "GET" and "/task/" in p.url and client in p.user_agent
    ]


@pytest.mark.parametrize("mode", MODES)
def test_every_call_of_a_task_goes_through_the_proxy(scade, proxy, run_dag, mode):
    result = run_dag(f"scade_echo_{mode}", text="via proxy")
    assert result.state == "success", result.tasks
    starts = [p for p in proxy.api_requests() if p.method == "POST"]
    assert [p.url for p in starts] == [f"{scade.base_url}/scade/flow/1607/execute"]
    assert WORKER in starts[0].user_agent
    # every request the emulator answered came through the proxy
    assert len(proxy.api_requests()) == len(scade.control.state()["requests"]) >= 2
    if mode == "deferred":
        assert _status_polls(proxy, TRIGGERER), "the triggerer's polls bypassed the proxy"
    else:
        assert _status_polls(proxy, WORKER) and not _status_polls(proxy, TRIGGERER)


@pytest.mark.parametrize("mode", MODES)
def test_no_proxy_lets_a_task_reach_its_host_directly(scade, proxy, run_dag, monkeypatch, mode):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    result = run_dag(f"scade_echo_{mode}", text="direct")
    assert result.state == "success", result.tasks
    assert len(scade.control.state()["requests"]) >= 2
    assert proxy.passed == []


def test_media_downloads_go_through_the_proxy(flowy_emulator, emulator_connection, proxy, run_dag, tmp_path):
    emulator_connection(flowy_emulator)
    result = run_dag("flowy_echo_blocking", prompt="via proxy", output_dir=str(tmp_path))
    assert result.state == "success", result.tasks
    downloads = [p for p in proxy.api_requests() if "/media/" in p.url]
    stored = [o for o in result.value("run")["outputs"].values() if o.get("location")]
    assert stored and len(downloads) == len(stored)
    assert all(p.method == "GET" and WORKER in p.user_agent for p in downloads)


# -- certificates ----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tls_app(tmp_path_factory):
    ca, context = private_ca(tmp_path_factory.mktemp("ca"))
    app = HttpsApp(context, {"name": "behind a private CA", "mode": "workflow"})
    yield app, ca
    app.close()


def _probe_both_transports(url: str) -> tuple[str, str]:
    """Dify's ``GET /info`` once through the worker's transport and once through the triggerer's."""
    config = ClientConfig(
        DifyAPI(), url, {"Authorization": "Bearer app-x"}, RetryPolicy(attempts=1), timeout=10
    )
    log = logging.getLogger("test")
    sync = SyncTransport(config, log).call(DifyAPI().probe())

    async def probe_async() -> str:
        async with AsyncTransport(config, log) as transport:
            return await transport.call(DifyAPI().probe())

    return sync, asyncio.run(probe_async())


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_both_transports_trust_the_ca_bundle_the_environment_names(tls_app, monkeypatch, variable):
    app, ca = tls_app
    monkeypatch.setenv(variable, str(ca))
    expected = "app 'behind a private CA' (mode workflow)"
    assert _probe_both_transports(app.url) == (expected, expected)


def test_without_the_ca_bundle_neither_transport_trusts_the_server(tls_app):
    app, _ = tls_app
    config = ClientConfig(DifyAPI(), app.url, {}, RetryPolicy(attempts=1), timeout=10)
    log = logging.getLogger("test")
    with pytest.raises(PlatformAPIError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        SyncTransport(config, log).call(DifyAPI().probe())

    async def probe_async() -> None:
        async with AsyncTransport(config, log) as transport:
            await transport.call(DifyAPI().probe())

    with pytest.raises(PlatformAPIError, match="CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        asyncio.run(probe_async())
