"""``benchmarks.batch`` at toy scale, so that ``make bench`` cannot rot. Structure only, never timing."""

from __future__ import annotations

from benchmarks import batch


def test_the_batch_benchmark_runs_every_item_and_reports_each_figure(tmp_path):
    result = batch.run(items=40, concurrency=10, run_seconds=0.3, poll_interval=1.0, work=tmp_path)
    assert (result["outcome"], result["succeeded"], result["failed"]) == ("completed", 40, 0)
    assert result["emulator_counts"]["starts"] == 40
    assert set(result) >= {
        "throughput_per_s",
        "ratio_to_ideal",
        "lag_p99_ms",
        "rss_growth_mb",
        "polls_per_item",
        "elapsed_s",
        "engine_cpu_s",
        "journal_segments",
    }
