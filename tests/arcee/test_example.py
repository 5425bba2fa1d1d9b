"""The Arcee Orchestra example DAG succeeds against the emulator with the default connection."""

from __future__ import annotations


def test_example_arcee_succeeds(arcee, run_dag):
    result = run_dag("example_arcee")
    assert result.state == "success", result.tasks
    assert result.value("publish").startswith("Summarize quarterly sales for run manual__")
    assert [s["node"] for s in result.value("summarize")["steps"]] == ["input", "agent", "output"]
    assert len(arcee.control.runs()) == 1
