"""After every other e2e test: no API key the deployment used was written anywhere (docs/reliability.md, item 6).

The emulators accept keys made for this session only (``<usual key>-<random hex>``, see
``harness/emulators.py``), passed to Airflow only as ``AIRFLOW_CONN_*`` variables. Every example DAG,
the slot, mapping, sensor and reliability tests ran through them by the time this runs (marker
``e2e_last``), so the scan covers task logs (worker and triggerer parts), component logs, the metadata
database (trigger kwargs, XComs, rendered template fields, connections, ...) and anything else in
AIRFLOW_HOME.
"""

from __future__ import annotations

import pytest

from harness.scan import find_secrets

pytestmark = [pytest.mark.e2e, pytest.mark.e2e_last]


def test_the_scan_finds_a_key_where_one_is(tmp_path):
    key = "app-echo-0123456789abcdef"
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "attempt=1.log").write_text(f'{{"event": "Authorization: Bearer {key}"}}\n')
    (hit,) = find_secrets(tmp_path, {key})
    assert hit.startswith("logs/attempt=1.log: app-ec…") and key not in hit, "where, without the key itself"
    assert find_secrets(tmp_path, {"other-key"}, database_dump=f"INSERT INTO trigger VALUES ('{key}');") == []
    assert len(find_secrets(tmp_path, {key}, database_dump=f"INSERT INTO trigger VALUES ('{key}');")) == 2


def test_no_api_key_appears_in_airflow_home_or_the_metadata_database_after_the_suite(e2e):
    deployment, emulators = e2e
    keys = emulators.api_keys()
    # a fresh key per start of each emulator and per Dify app, and the knowledge base's dataset key
    assert {"dify", "scade", "arcee_orchestra", "flowy"} <= set(emulators.running) and len(keys) >= 6, keys
    dump = deployment.dump_database()
    # the dump is the real thing: it holds the runs of the tests that used those keys
    assert (
        "rendered_task_instance_fields" in dump and "e2e_rel_deferred" in dump and "example_dify" in dump
    ), "no runs to scan: this test checks what the whole e2e suite left, run it with the suite"

    assert find_secrets(deployment.home, keys, dump) == []
