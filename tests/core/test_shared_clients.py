"""One client per account on the triggerer: many triggers share a session, a pool, a rate budget, one
connection lookup and one hook (core.transport, core.connections, core.trigger) -- over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from airflow_workflow_providers.core import connections
from airflow_workflow_providers.core import transport as transport_module
from airflow_workflow_providers.core import trigger as trigger_module
from airflow_workflow_providers.core.hook import WorkflowHook
from airflow_workflow_providers.core.transport import _SharedClients
from airflow_workflow_providers.flowy.hooks import FlowyHook
from tests.flowy.conftest import flowy  # noqa: F401 - the fixture
from tests.triggering import trigger_for


def finished_runs(flowy, count: int) -> list:
    hook = FlowyHook()
    refs = [hook.start_run(app_id=flowy.app_ids["echo"], inputs={"prompt": f"p{i}"}) for i in range(count)]
    deadline = time.time() + 30
    while (
        any(run["state"] != "completed" for run in flowy.control.runs().values()) and time.time() < deadline
    ):
        time.sleep(0.1)
    return refs


async def run_all(triggers) -> list[dict]:
    async def first_event(trigger) -> dict:
        events = [event.payload async for event in trigger.run()]
        assert len(events) == 1
        return events[0]

    return await asyncio.gather(*(first_event(t) for t in triggers))


def test_two_hundred_triggers_on_one_key_stay_within_its_announced_budget(flowy):
    flowy.control.settings(rate_limit_per_minute=10_000, max_concurrent_runs=1000)
    refs = finished_runs(flowy, 200)
    # 40 requests per 2-second window: 200 polls need five windows, spent without a single 429
    flowy.control.settings(rate_limit_per_minute=40, rate_limit_window_seconds=2)
    while time.time() % 2 > 1.5:  # start early in a window: the first answers then describe it
        time.sleep(0.05)
    started = len(flowy.control.state()["requests"])
    events = asyncio.run(run_all([trigger_for("flowy", ref, seconds=120) for ref in refs]))
    assert [e["status"] for e in events] == ["succeeded"] * 200
    polls = flowy.control.state()["requests"][started:]
    assert len(polls) >= 200
    assert [p for p in polls if p["status"] == 429] == []


def test_a_trigger_per_account_budget_would_have_spent_429s(flowy):
    """The control case: the same burst from two accounts' worth of pacers (two keys, one emulator
    budget) shows the emulator does answer 429 when a budget is overspent -- so the test above can fail."""
    flowy.control.settings(rate_limit_per_minute=10_000, max_concurrent_runs=1000)
    refs = finished_runs(flowy, 60)
    flowy.control.settings(rate_limit_per_minute=20, rate_limit_window_seconds=2)
    started = len(flowy.control.state()["requests"])

    async def unpaced() -> None:  # every request with a fresh pacer: what a per-trigger pacer amounts to
        hook = FlowyHook()
        async with hook.async_transport() as transport:
            for ref in refs:
                transport.client.pacer.__init__()
                await transport._send(hook.api.status(ref).request, transport.config.timeout)

    asyncio.run(unpaced())
    statuses = [p["status"] for p in flowy.control.state()["requests"][started:]]
    assert 429 in statuses


def test_triggers_of_one_account_share_one_session_and_two_accounts_get_two(flowy, monkeypatch):
    seen: list[tuple] = []

    async def watch() -> None:
        hook = FlowyHook()
        other = FlowyHook(conn_id="flowy_other")
        async with hook.async_transport() as a, hook.async_transport() as b, other.async_transport() as c:
            seen.append(
                (
                    a.session is b.session,
                    a.session is c.session,
                    a.pacer is b.pacer,
                    len(_SharedClients._accounts),
                )
            )
            assert type(a.session.cookie_jar).__name__ == "DummyCookieJar"
            assert a.session.connector.limit_per_host == 100
        seen.append(len(_SharedClients._accounts))
        assert a.session.closed and c.session.closed  # closed with the last user

    conn = {"conn_type": "flowy", "host": flowy.base_url, "password": flowy.api_key + "-other"}
    monkeypatch.setenv("AIRFLOW_CONN_FLOWY_OTHER", json.dumps(conn))
    asyncio.run(watch())
    assert seen == [(True, False, True, 2), 0]


def test_the_pool_size_per_host_comes_from_the_connection(flowy, monkeypatch):
    conn = {
        "conn_type": "flowy",
        "host": flowy.base_url,
        "password": flowy.api_key,
        "extra": {"connections_per_host": 7},
    }
    monkeypatch.setenv("AIRFLOW_CONN_FLOWY_SMALL", json.dumps(conn))

    async def limit() -> int:
        async with FlowyHook(conn_id="flowy_small").async_transport() as transport:
            return transport.session.connector.limit_per_host

    assert asyncio.run(limit()) == 7


def test_a_bad_pool_size_is_a_configuration_error_naming_the_connection(flowy, monkeypatch):
    from airflow_workflow_providers.core.errors import ConfigurationError

    conn = {
        "conn_type": "flowy",
        "host": flowy.base_url,
        "password": flowy.api_key,
        "extra": {"connections_per_host": 0},
    }
    monkeypatch.setenv("AIRFLOW_CONN_FLOWY_ZERO", json.dumps(conn))
    with pytest.raises(ConfigurationError, match="'flowy_zero'.*connections_per_host"):
        FlowyHook(conn_id="flowy_zero").client_config(FlowyHook.get_connection("flowy_zero"))


def test_many_triggers_on_one_conn_id_make_one_lookup_and_build_one_hook(flowy, monkeypatch):
    refs = finished_runs(flowy, 20)
    lookups: list[str] = []
    real = WorkflowHook._aget_connection

    async def counted(self, conn_id):
        lookups.append(conn_id)
        await asyncio.sleep(0.2)  # a slow API server: every trigger asks while the first lookup is out
        return await real(self, conn_id)

    monkeypatch.setattr(WorkflowHook, "_aget_connection", counted)
    prepared: list[str] = []
    prepare = transport_module._prepare_async
    monkeypatch.setattr(transport_module, "_prepare_async", lambda url: prepared.append(url) or prepare(url))
    trigger_module._HOOKS.clear()
    triggers = [trigger_for("flowy", ref) for ref in refs]
    events = asyncio.run(run_all(triggers))
    assert [e["status"] for e in events] == ["succeeded"] * 20
    assert lookups == ["flowy_default"]
    assert prepared == [flowy.base_url]  # one client made, however many triggers asked for it at once
    assert len(trigger_module._HOOKS) == 1
    assert len({id(t._hook()) for t in triggers}) == 1


def test_a_lookup_is_made_again_once_it_is_older_than_its_ttl(flowy, monkeypatch):
    lookups: list[str] = []
    real = WorkflowHook._aget_connection

    async def counted(self, conn_id):
        lookups.append(conn_id)
        return await real(self, conn_id)

    monkeypatch.setattr(WorkflowHook, "_aget_connection", counted)

    async def look(hook) -> None:
        async with hook.async_transport():
            pass

    hook = FlowyHook()
    asyncio.run(look(hook))
    asyncio.run(look(hook))
    monkeypatch.setattr(connections, "LOOKUP_TTL", 0.0)
    connections.forget()
    asyncio.run(look(hook))
    asyncio.run(look(hook))
    assert lookups == ["flowy_default"] * 3


def test_a_failed_lookup_fails_every_waiting_trigger_and_is_not_remembered(flowy):
    async def look(conn_id: str):
        async with FlowyHook(conn_id=conn_id).async_transport():
            pass

    async def both() -> list:
        return await asyncio.gather(look("missing_conn"), look("missing_conn"), return_exceptions=True)

    failures = asyncio.run(both())
    assert all(isinstance(f, Exception) and "missing_conn" in str(f) for f in failures)
    assert "missing_conn" not in connections._found


def test_a_netrc_entry_for_the_host_does_not_replace_the_key(flowy, monkeypatch, tmp_path):
    """A ~/.netrc (or ``NETRC``) login for the platform's host: requests would send it instead of the key
    (the worker's start: 401), aiohttp's ``trust_env`` would refuse to send it beside the key (the
    triggerer's polls); both transports keep the key, and the proxy variables still apply."""
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password something\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    refs = finished_runs(flowy, 1)
    events = asyncio.run(run_all([trigger_for("flowy", ref) for ref in refs]))
    assert [e["status"] for e in events] == ["succeeded"]
