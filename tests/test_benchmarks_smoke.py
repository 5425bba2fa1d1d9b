"""The benchmark code paths at toy scale, so that ``make bench`` cannot rot. Structure only, never timing."""

from __future__ import annotations

import asyncio
import importlib.util
import os

import pytest

from airflow_workflow_providers.core.compat import AIRFLOW_VERSION
from benchmarks import client, imports, lifecycle, report, scale
from benchmarks.emulator import EmulatorProcess, start_runs

N = 5
HAS_HTTP_PROVIDER = importlib.util.find_spec("airflow.providers.http") is not None


#: the benchmark hands triggers to TriggerRunner as Airflow 3.3's triggerer does (plain kwargs)
newest_airflow_only = pytest.mark.skipif(
    AIRFLOW_VERSION < (3, 3, 0),
    reason="the benchmark drives Airflow 3.3's TriggerRunner; make bench measures the newest Airflow only",
)


@pytest.fixture(scope="module")
def emulator():
    process = EmulatorProcess()
    yield process
    process.stop()


@newest_airflow_only
@pytest.mark.parametrize(
    "variant",
    [
        "ours",
        "floor",
        pytest.param(
            "alt",
            marks=pytest.mark.skipif(
                not HAS_HTTP_PROVIDER,
                reason="the alternative needs the bench extra (apache-airflow-providers-http)",
            ),
        ),
    ],
)
def test_each_variant_waits_out_every_run_through_airflows_trigger_runner(emulator, variant, monkeypatch):
    for name, value in emulator.connection_env(0).items():
        monkeypatch.setenv(name, value)
    runs = start_runs([emulator], N, 1.0)
    cpu0 = emulator.cpu_seconds()
    raw = asyncio.run(
        client.drive({"runs": runs, "variant": variant, "poll_interval": 0.3, "max_seconds": 20})
    )
    result = scale.summarize(raw, runs, emulator.cpu_seconds() - cpu0)

    assert raw["statuses"] == {"succeeded": N} and result["events"] == N
    assert result["polls"] >= N and result["connections"] >= 1
    assert set(result) >= {
        "lag_p99_ms",
        "lag_max_ms",
        "cpu_per_poll_us",
        "rss_per_trigger_kb",
        "delay_max_s",
        "connections_per_poll",
        "emulator_cpu_per_poll_us",
    }
    assert all(delay > -1 for delay in [result["delay_p50_s"], result["delay_max_s"]])


@newest_airflow_only
def test_whole_life_and_restart_scenarios_measure_both_variants(emulator, monkeypatch):
    for name, value in emulator.connection_env(0).items():
        monkeypatch.setenv(name, value)
    whole = lifecycle.whole_life([emulator], n=N, interval=0.3, polls=3, rounds=1, log=lambda *_: None)
    assert set(whole["median_us"]) == {"ours", "ours-polling", "floor"} and whole["ratio"] > 0
    assert set(whole["median_per_trigger_us"]) == set(whole["median_us"])
    restart = lifecycle.restart([emulator], n=N, interval=0.5, rounds=1, log=lambda *_: None)
    assert [r["polled_once"] for r in restart["rows"]] == [N, N]
    assert all(r["all_polled_intervals"] < 10 and r["create_seconds"] >= 0 for r in restart["rows"])
    text = report.render(
        {
            "machine": {
                "cpu": "c",
                "cores": 2,
                "memory_gb": 1,
                "os": "o",
                "python": "3",
                "airflow": "3",
                "aiohttp": "3",
                "providers_http": "-",
                "date": "d",
            },
            "command": "make bench",
            "run_seconds": 1.0,
            "lifecycle": {"whole_life": whole, "restart": restart},
        }
    )
    assert "whole life" in text and "every run polled once after" in text and "polls only" in text


def test_saturation_points_take_the_fastest_step_under_the_lag_limit():
    steps = [
        {
            "variant": v,
            "offered_per_s": o,
            "achieved_per_s": a,
            "lag_p99_ms": lag,
            "lag_max_ms": lag,
            "client_cpu_load": 0.5,
            "emulator_cpu_load": 0.5,
        }
        for v in scale.VARIANTS
        for o, a, lag in ((100, 100, 5), (200, 190, 50), (400, 300, 900))
    ]
    points = scale.saturation_points(steps)
    assert {v: p["polls_per_s"] for v, p in points.items()} == {"ours-polling": 190, "floor": 190, "alt": 190}


def test_import_and_parse_measurements_see_our_modules_and_no_connection_at_parse():
    own = imports._importtime("airflow_workflow_providers.dify.operators")
    assert own["own_s"] > 0 and own["total_s"] >= own["own_s"]
    parsed = imports.parse_times(N, 1, ["dify"])["dify"]
    assert parsed["tasks"] == N and parsed["errors"] == []
    assert parsed["connects"] == 0 and parsed["lookups"] == 0


def test_report_keeps_the_rest_of_the_document_and_draws_the_plot(tmp_path):
    row = {
        "n": N,
        "poll_interval": 1.0,
        "lag_p50_ms": 1.0,
        "lag_p99_ms": 2.0,
        "lag_max_ms": 3.0,
        "cpu_per_poll_us": 300.0,
        "cpu_per_poll_windows_us": {"median": 300.0, "min": 250.0, "max": 350.0},
        "rss_per_trigger_kb": 20.0,
        "connections": 1,
        "connections_per_poll": 0.1,
        "delay_p50_s": 0.5,
        "delay_max_s": 1.0,
        "events": N,
        "emulator_cpu_per_poll_us": 200.0,
    }
    results = {
        "machine": {
            "cpu": "cpu",
            "cores": 2,
            "memory_gb": 1,
            "os": "linux",
            "python": "3",
            "airflow": "3",
            "aiohttp": "3",
            "providers_http": "6",
            "date": "today",
        },
        "command": "make bench",
        "run_seconds": 1.0,
        "scale": [{**row, "variant": v} for v in scale.VARIANTS],
    }
    doc = tmp_path / "BENCHMARKS.md"
    doc.write_text(
        f"# Benchmarks\n\nintro\n\n{report.START}\nold\n{report.END}\n\n## Slots: deferrable vs blocking\nkept\n"
    )
    report.write(results, doc=doc, plot=tmp_path / "scale.png")
    text = doc.read_text()
    assert "intro" in text and "## Slots: deferrable vs blocking\nkept" in text and "old" not in text
    assert "| 5 | 1 s | 1.00x | 1.00x |" in text
    if importlib.util.find_spec("matplotlib"):
        assert (tmp_path / "scale.png").stat().st_size > 0 and "scale.png" in text
    assert os.path.exists(doc)


@pytest.mark.skipif(
    not HAS_HTTP_PROVIDER, reason="the triggerer process imports the http provider (bench extra)"
)
@newest_airflow_only
def test_the_live_progress_scenario_compares_events_with_polling(emulator):
    from benchmarks import progress

    results = {
        r["variant"]: r for r in (progress.measure(emulator, v, N, 1.0, 0.5) for v in progress.VARIANTS)
    }
    assert {r["events"] for r in results.values()} == {N}
    assert (
        results["ours"]["event_streams_per_run"] == 1.0
        and results["ours-polling"]["event_streams_per_run"] == 0.0
    )
    assert all(r["polls_per_run"] >= 1 and r["cpu_ms_per_run"] > 0 for r in results.values())
