"""Every platform's task log tells the same story, in order, through Airflow's dag.test()."""

from __future__ import annotations

import re

import pytest

from airflow_workflow_providers.testing.arcee import ECHO_WORKFLOW

#: platform -> (emulator fixture, display name, run conf of its echo DAG)
PLATFORMS = {
    "dify": ("dify_emulator", "Dify", {"query": "hello"}),
    "scade": ("scade_emulator", "Scade", {"text": "hello"}),
    "arcee": ("arcee_orchestra_emulator", "Arcee Orchestra", {"workflow": ECHO_WORKFLOW, "query": "hello"}),
    "flowy": ("flowy_emulator", "Flowy", {"prompt": "hello"}),
}
#: (deferred, blocking) -> the story's lines, as patterns, in the order they must appear
STORY = {
    "deferred": [
        "inputs checked against .+: no problem found",
        r"Started {name} run (?P<id>\S+) \(.+\)",
        "Waiting for {name} run {id} on the triggerer: a poll every .+ the worker slot is free",
        "Triggerer watching {name} run {id}",
        "{name} run {id} state: succeeded",
        r"{name} run {id} finished: succeeded.*; usage: .+; outputs: .+\(.+\)",
    ],
    "blocking": [
        "inputs checked against .+: no problem found",
        r"Started {name} run (?P<id>\S+) \(.+\)",
        "Waiting for {name} run {id} on this worker .+ slot stays in use",
        "{name} run {id} state: succeeded",
        r"{name} run {id} finished: succeeded.*; usage: .+; outputs: .+\(.+\)",
    ],
}


def in_order(text: str, patterns: list[str], name: str) -> list[str]:
    """The lines matching each pattern in turn, each after the previous; fails naming the first missing."""
    found, position, values = [], 0, {"name": re.escape(name), "id": ""}
    for pattern in patterns:
        regex = re.compile(pattern.format(**values))
        match = regex.search(text, position)
        assert match, (
            f"not found after position {position}: {regex.pattern}\n{text[position : position + 3000]}"
        )
        values["id"] = re.escape(match.groupdict().get("id") or "") or values["id"]
        found.append(match.group(0))
        position = match.end()
    return found


@pytest.mark.parametrize("mode", ["deferred", "blocking"])
@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_task_log_tells_the_runs_story_in_order(
    request, platform, mode, emulator_connection, run_dag, capfd
):
    fixture, name, conf = PLATFORMS[platform]
    emulator_connection(
        request.getfixturevalue(fixture),
        f"{platform}_default" if platform != "arcee" else "arcee_orchestra_default",
    )
    capfd.readouterr()
    result = run_dag(f"{platform}_echo_{mode}", **conf)
    assert result.state == "success", result.tasks
    out, err = capfd.readouterr()
    in_order(out + err, STORY[mode], name)
    # only a platform with a run page gets the "Remote run" link
    assert (("run", "_link_RemoteRunLink") in result.xcom) == (platform == "dify")


@pytest.mark.parametrize("platform", ["dify", "scade", "arcee", "flowy"])
def test_rejected_inputs_are_stated_before_the_traceback(
    request, platform, emulator_connection, run_dag, capfd
):
    fixture, name, _ = PLATFORMS[platform]
    emulator_connection(
        request.getfixturevalue(fixture),
        f"{platform}_default" if platform != "arcee" else "arcee_orchestra_default",
    )
    capfd.readouterr()
    result = run_dag(f"{platform}_invalid_deferred")
    assert result.tasks["run"] == "failed"
    out, err = capfd.readouterr()
    text = out + err
    said = text.find("Nothing was submitted (no credits spent).")
    assert 0 <= said < text.find("Task failed with exception"), text[-3000:]
