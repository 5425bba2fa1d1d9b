"""Templated fields: ``conn_id`` everywhere (per-environment connections), JSON renderers for structured inputs."""

from __future__ import annotations

import pytest

from tests.test_provider import SHIPPED

MODES = ["deferred", "blocking"]
JSON_FIELDS = {"inputs", "node_settings", "files"}


@pytest.mark.parametrize("kind", ["operators", "sensors"])
def test_conn_id_is_templated_on_every_operator_and_sensor(kind):
    for cls in SHIPPED[kind]:
        assert "conn_id" in cls.template_fields, cls


def test_structured_inputs_render_as_json_in_the_ui():
    for cls in SHIPPED["operators"] | SHIPPED["sensors"]:
        for name in JSON_FIELDS & set(cls.template_fields):
            assert cls.template_fields_renderers.get(name) == "json", (cls, name)


def test_the_hook_is_not_built_while_the_dag_is_parsed():
    from tests.compat import DagBag
    from tests.conftest import _DAGS

    dag = DagBag(str(_DAGS)).dags["templated_conn_id_deferred"]
    for task in dag.tasks:
        assert task.conn_id == "scade_{{ dag_run.conf['env'] }}"
        assert "hook" not in vars(task)


@pytest.mark.parametrize("mode", MODES)
def test_one_dag_uses_the_connection_of_the_environment_it_is_run_for(
    scade_emulator, emulator_connection, run_dag, monkeypatch, mode
):
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    monkeypatch.delenv("AIRFLOW_CONN_SCADE_DEFAULT", raising=False)
    emulator_connection(scade_emulator, "scade_staging")
    result = run_dag(f"templated_conn_id_{mode}", env="staging")
    assert result.state == "success", result.tasks
    assert result.value("run")["outputs"] == {"result": "staging"}
    assert result.value("wait")["run_id"] == result.value("run")["run_id"]
    with create_session() as session:
        rendered = (
            session.query(RenderedTaskInstanceFields).filter_by(dag_id=f"templated_conn_id_{mode}").all()
        )
        assert {row.task_id: row.rendered_fields["conn_id"] for row in rendered} == {
            "run": "scade_staging",
            "wait": "scade_staging",
        }


def test_an_environment_without_a_connection_fails_naming_the_rendered_conn_id(
    scade_emulator, run_dag, capsys
):
    result = run_dag("templated_conn_id_blocking", env="prod")
    assert result.tasks["run"] == "failed"
    assert "scade_prod" in "".join(capsys.readouterr())
    assert scade_emulator.control.state()["runs"] == {}
