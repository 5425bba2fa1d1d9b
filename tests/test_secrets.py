"""API keys never reach what Airflow stores or prints: metadata DB (XCom, trigger kwargs, rendered
fields, task instances), logs, and task output."""

from __future__ import annotations

import json

from tests.compat import printed_lines

GOOD_KEY = "app-s3cr3t-good-7f3a9c"
BAD_KEY = "app-s3cr3t-bad-91d2e4"


def test_keys_appear_nowhere_airflow_writes(dify_emulator, monkeypatch, run_dag, airflow_home, capfd):
    dify_emulator.control.add_app(
        id=GOOD_KEY,
        name="secret",
        inputs=[{"name": "query", "type": "text-input", "required": True}],
        outputs=[{"name": "result", "value": "{query}"}],
    )
    for conn_id, key in (("dify_default", GOOD_KEY), ("dify_slow", BAD_KEY)):
        value = {"conn_type": "dify", "host": dify_emulator.base_url, "password": key}
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(value))

    assert run_dag("dify_echo_deferred", query="secret test").state == "success"
    assert run_dag("dify_echo_blocking", query="secret test").state == "success"
    assert run_dag("dify_invalid_deferred").tasks["run"] == "failed"
    assert run_dag("dify_failure_deferred").tasks["run"] == "failed"  # 401: the bad key is refused
    assert any(r["status"] == 401 for r in dify_emulator.control.state()["requests"])

    lines = printed_lines(capfd.readouterr())
    written = [path for path in airflow_home.rglob("*") if path.is_file()]
    assert any(path.suffix == ".db" for path in written), "the metadata DB should have been scanned"
    for key in (GOOD_KEY, BAD_KEY):
        assert not [line for line in lines if key in line]
        for path in written:
            assert key.encode() not in path.read_bytes(), f"{key} found in {path}"
