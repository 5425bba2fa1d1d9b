"""Knowledge-base ingestion: the pure dataset API description, then the hook, operator and sensor over
real HTTP against the Dify emulator's dataset API."""

from __future__ import annotations

import json
import time

import pytest

from airflow_workflow_providers.core.errors import InputValidationError, PermanentAPIError, RunTimedOut
from airflow_workflow_providers.core.model import Response, RunState
from airflow_workflow_providers.dify.hooks import DifyKnowledgeHook
from airflow_workflow_providers.dify.knowledge import api as knowledge_api
from airflow_workflow_providers.dify.knowledge.api import (
    DifyKnowledgeAPI,
    ExistingDocument,
    batch_ref,
    parse_accepted,
    parse_batch,
    parse_documents,
    plan,
)
from airflow_workflow_providers.dify.knowledge.operators import IndexingFailed
from airflow_workflow_providers.dify.operators import DifyKnowledgeIngestOperator
from airflow_workflow_providers.testing.dify_knowledge import DATASET_ID
from tests.recorded import SECOND_RECORDING, find

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # older Airflow 3 releases
    from airflow.exceptions import TaskDeferred

UNKNOWN = "00000000-0000-0000-0000-000000000000"


def entry(document_id: str, status: str, error: str | None = None) -> dict:
    return {
        "id": document_id,
        "indexing_status": status,
        "error": error,
        "completed_segments": 0,
        "total_segments": 1,
    }


class TestDescription:
    def test_recorded_create_and_update_answers_give_the_document_and_its_batch(self):
        for title in ("document/create-by-text", "create-by-file (.txt", "update-by-text (rename"):
            body = find(title, 200, recording=SECOND_RECORDING)[0].body
            accepted = parse_accepted(body)
            assert (accepted.document_id, accepted.batch) == (body["document"]["id"], body["batch"])
        assert (
            parse_accepted(
                find("update-by-text (rename", 200, recording=SECOND_RECORDING)[0].body
            ).indexing_status
            == "waiting"
        )

    def test_a_recorded_listing_gives_names_and_states(self):
        documents, more = parse_documents(find("documents (all;", 200, recording=SECOND_RECORDING)[0].body)
        assert [(d.name, d.display_status) for d in documents] == [
            ("retries.md", "available"),
            ("pools.txt", "available"),
            ("operators.txt", "available"),
        ]
        assert more is False

    @pytest.mark.parametrize(
        ("statuses", "state"),
        [
            (["waiting"], RunState.QUEUED),
            (["completed", "splitting"], RunState.RUNNING),
            (["completed", "brand-new"], RunState.RUNNING),
            (["completed", "completed"], RunState.SUCCEEDED),
            (["completed", "paused"], RunState.SUCCEEDED),
            (["error", "paused"], RunState.FAILED),
        ],
    )
    def test_a_batch_is_a_run_whose_state_aggregates_its_documents(self, statuses, state):
        run = parse_batch(
            {"data": [entry(f"d{i}", s, "boom" if s == "error" else None) for i, s in enumerate(statuses)]},
            "b",
        )
        assert run.state is state
        assert (run.warning is not None) == ("paused" in statuses and state is RunState.SUCCEEDED)
        if state is RunState.FAILED:
            assert run.error_message == "document d0: boom"

    def test_a_wait_follows_only_the_documents_it_touched(self):
        body = {"data": [entry("mine", "completed"), entry("theirs", "indexing")]}
        assert parse_batch(body, "b", {"mine"}).state is RunState.SUCCEEDED
        gone = parse_batch(body, "b", {"mine", "deleted"})
        assert (
            gone.state is RunState.FAILED
            and "document deleted: the document is no longer in its batch" in gone.error_message
        )

    def test_the_status_call_reads_the_batch_of_the_dataset(self):
        call = DifyKnowledgeAPI().status(batch_ref("ds", "b1", ["d2", "d1"]))
        assert call.request.path == "/datasets/ds/documents/b1/indexing-status"
        run = call.parse(
            Response(200, json.dumps({"data": [entry("d1", "completed"), entry("d2", "completed")]}).encode())
        )
        assert run.run_id == "b1" and run.raw_status == "2 completed"

    def test_documents_are_matched_by_name(self):
        existing = [
            ExistingDocument("id-a", "a.txt", "completed", "available"),
            ExistingDocument("id-b", "b.txt", "indexing", "indexing"),
            ExistingDocument("id-c1", "c.txt", "completed", "available"),
            ExistingDocument("id-c2", "c.txt", "completed", "available"),
        ]
        steps = {s.name: s for s in plan(["a.txt", "b.txt", "c.txt", "new.txt"], existing, "update")}
        assert (steps["a.txt"].action, steps["a.txt"].document_id, steps["a.txt"].problem) == (
            "update",
            "id-a",
            None,
        )
        assert "Dify only updates available documents" in steps["b.txt"].problem
        assert "2 documents named 'c.txt'" in steps["c.txt"].problem
        assert steps["new.txt"].action == "create"
        assert {s.action for s in plan(["a.txt"], existing, "skip")} == {"skip"}
        assert {s.action for s in plan(["a.txt", "c.txt"], existing, "duplicate")} == {"create"}


class TestHook:
    def test_listing_walks_every_page(self, knowledge, monkeypatch):
        monkeypatch.setattr(knowledge_api, "PAGE_LIMIT", 2)
        hook = DifyKnowledgeHook()
        for i in range(5):
            hook.create_document(
                DATASET_ID, name=f"doc-{i}.txt", text="x", settings={"process_rule": {"mode": "automatic"}}
            )
        assert sorted(d.name for d in hook.list_documents(DATASET_ID)) == [f"doc-{i}.txt" for i in range(5)]
        pages = [r["query"]["page"] for r in knowledge.control.state()["requests"] if r["method"] == "GET"]
        assert pages == ["1", "2", "3"]

    def test_an_unknown_dataset_is_a_permanent_error(self, knowledge):
        with pytest.raises(PermanentAPIError, match="Dataset not found") as raised:
            DifyKnowledgeHook().list_documents(UNKNOWN)
        assert raised.value.status_code == 404

    def test_test_connection_accepts_a_server_without_plugin_daemon(self, knowledge):
        ok, message = DifyKnowledgeHook().test_connection()
        assert ok and "cannot list datasets without its plugin daemon" in message
        knowledge.control.settings(plugin_daemon=True)
        assert DifyKnowledgeHook().test_connection() == (
            True,
            "Connected to Dify Knowledge: 1 knowledge bases visible.",
        )

    def test_an_app_key_is_refused_and_never_shown(self, knowledge, monkeypatch):
        value = {"conn_type": "dify_knowledge", "host": knowledge.base_url, "password": "app-echo"}
        monkeypatch.setenv("AIRFLOW_CONN_KB_WRONG", json.dumps(value))
        ok, message = DifyKnowledgeHook("kb_wrong").test_connection()
        assert not ok and "401" in message and "app-echo" not in message


class TaskInstance:
    def __init__(self):
        self.xcom = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def ingest(**kwargs):
    """Run the operator on this worker (blocking mode); return its result and the XComs it pushed."""
    kwargs.setdefault("dataset_id", DATASET_ID)
    operator = DifyKnowledgeIngestOperator(task_id="ingest", deferrable=False, poll_interval=0.05, **kwargs)
    context = {"ti": TaskInstance()}
    return operator.execute(context), context["ti"].xcom


def uploads(emulator) -> list[tuple[str, str]]:
    return [(r["method"], r["path"]) for r in emulator.control.state()["requests"] if r["method"] != "GET"]


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "pools.txt").write_text("Airflow pools limit how many task instances run at once.")
    (tmp_path / "retries.md").write_text("# Retries\n\nAirflow retries a failed task.")
    (tmp_path / ".DS_Store").write_bytes(b"\0")
    return tmp_path


class TestIngest:
    def test_texts_and_a_folder_are_created_and_indexed(self, knowledge, folder):
        result, _ = ingest(
            documents=[{"name": "notes.txt", "text": "Sensors wait for a condition."}], source=str(folder)
        )
        assert (result["created"], result["updated"], result["skipped"], result["failed"]) == (3, 0, 0, 0)
        assert [(d["name"], d["action"], d["indexing_status"], d["error"]) for d in result["documents"]] == [
            ("notes.txt", "create", "completed", None),
            ("pools.txt", "create", "completed", None),
            ("retries.md", "create", "completed", None),
        ]
        assert all(d["document_id"] and d["batch"] for d in result["documents"])
        assert json.loads(json.dumps(result)) == result  # XCom-safe
        paths = [path for _, path in uploads(knowledge)]
        assert paths.count(f"/datasets/{DATASET_ID}/document/create-by-text") == 1
        assert paths.count(f"/datasets/{DATASET_ID}/document/create-by-file") == 2

    def test_a_second_ingestion_updates_in_place(self, knowledge, folder):
        first, _ = ingest(source=str(folder))
        (folder / "pools.txt").write_text("Pools have slots.")
        second, _ = ingest(source=str(folder))
        assert (second["created"], second["updated"]) == (0, 2)
        assert [d["document_id"] for d in second["documents"]] == [
            d["document_id"] for d in first["documents"]
        ]
        assert [d["batch"] for d in second["documents"]] == [
            d["batch"] for d in first["documents"]
        ]  # Dify's own answer
        assert all(d["indexing_status"] == "completed" for d in second["documents"])
        listed = DifyKnowledgeHook().list_documents(DATASET_ID)
        assert len(listed) == 2

    def test_skip_leaves_existing_documents_alone(self, knowledge, folder):
        ingest(source=str(folder / "pools.txt"))
        before = len(uploads(knowledge))
        result, _ = ingest(source=f"{folder}/*.txt", on_existing="skip")
        assert (result["skipped"], result["created"]) == (1, 0)
        assert result["documents"][0]["action"] == "skip" and result["documents"][0]["batch"] is None
        assert len(uploads(knowledge)) == before

    def test_duplicate_creates_anew(self, knowledge):
        docs = [{"name": "same.txt", "text": "one"}]
        ingest(documents=docs)
        result, _ = ingest(documents=docs, on_existing="duplicate")
        assert result["created"] == 1
        assert [d.name for d in DifyKnowledgeHook().list_documents(DATASET_ID)] == ["same.txt", "same.txt"]

    def test_an_object_storage_uri_and_a_glob_select_files(self, knowledge, folder):
        result, _ = ingest(source=f"file://{folder}/*.md")
        assert [d["name"] for d in result["documents"]] == ["retries.md"]

    def test_without_waiting_the_answered_states_are_returned(self, knowledge):
        result, _ = ingest(documents=[{"name": "a.txt", "text": "a"}], wait_for_indexing=False)
        assert result["documents"][0]["indexing_status"] == "parsing"
        assert not [
            r for r in knowledge.control.state()["requests"] if r["path"].endswith("/indexing-status")
        ]

    def test_paused_documents_are_reported_not_waited_on(self, knowledge, capfd):
        knowledge.control.settings(indexing_outcomes={"held.txt": "paused"})
        result, _ = ingest(
            documents=[{"name": "held.txt", "text": "h"}, {"name": "ok.txt", "text": "o"}], timeout=30
        )
        assert {d["name"]: d["indexing_status"] for d in result["documents"]} == {
            "held.txt": "paused",
            "ok.txt": "completed",
        }
        assert (result["created"], result["failed"]) == (2, 0)
        assert "Indexing is paused in Dify for 'held.txt'" in capfd.readouterr().out

    def test_failed_documents_fail_the_task_at_the_end_naming_them(self, knowledge):
        knowledge.control.settings(indexing_outcomes={"bad-*": "Failed to parse the document"})
        with pytest.raises(
            IndexingFailed, match="1 of 2 documents failed: 'bad-1.txt': Failed to parse the document"
        ):
            ingest(documents=[{"name": "bad-1.txt", "text": "b"}, {"name": "good.txt", "text": "g"}])
        # the report reaches XCom, and the good document was indexed all the same
        listed = {d.name: d.display_status for d in DifyKnowledgeHook().list_documents(DATASET_ID)}
        assert listed == {"bad-1.txt": "error", "good.txt": "available"}

    def test_the_report_of_a_failure_is_pushed(self, knowledge):
        knowledge.control.settings(indexing_outcomes={"bad.txt": "broken"})
        operator = DifyKnowledgeIngestOperator(
            task_id="t",
            dataset_id=DATASET_ID,
            documents=[{"name": "bad.txt", "text": "b"}],
            deferrable=False,
            poll_interval=0.05,
        )
        ti = TaskInstance()
        with pytest.raises(IndexingFailed):
            operator.execute({"ti": ti})
        assert ti.xcom["report"]["failed"] == 1 and ti.xcom["report"]["documents"][0]["error"] == "broken"

    def test_an_update_dify_refuses_is_that_documents_failure(self, knowledge):
        knowledge.control.settings(indexing_outcomes={"stuck.txt": "paused"})
        ingest(documents=[{"name": "stuck.txt", "text": "v1"}])
        with pytest.raises(
            IndexingFailed, match="'stuck.txt': Dify only updates available documents; .* is 'paused'"
        ):
            ingest(documents=[{"name": "stuck.txt", "text": "v2"}])
        assert not [p for _, p in uploads(knowledge) if p.endswith("/update-by-text")]

    def test_a_timeout_names_the_documents_still_indexing(self, knowledge):
        knowledge.control.settings(indexing_seconds=60)
        with pytest.raises(RunTimedOut, match="still indexing: 'slow.txt' \\((parsing|splitting)\\)"):
            ingest(documents=[{"name": "slow.txt", "text": "s"}], timeout=0.5)


class TestBadInput:
    """Bad input fails before anything is uploaded (every request counts: none may be a write)."""

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"source": "/nonexistent/kb/file.txt"}, "source '/nonexistent/kb/file.txt' names no file"),
            ({"source": "/nonexistent/kb/*.md"}, "names no file"),
            ({"documents": [{"name": "a.txt"}]}, "documents\\[0\\] \\('a.txt'\\) needs a string 'text'"),
            ({"documents": "not a list"}, "documents must be a list"),
            (
                {"documents": [{"name": "a.txt", "text": "1"}, {"name": "a.txt", "text": "2"}]},
                "two documents are named 'a.txt'",
            ),
            ({"documents": []}, "there is nothing to ingest"),
        ],
    )
    def test_rejected_before_uploading(self, knowledge, kwargs, message):
        with pytest.raises(InputValidationError, match=message):
            ingest(**kwargs)
        assert knowledge.control.state()["requests"] == []

    def test_an_unsupported_file_is_rejected_before_uploading(self, knowledge, tmp_path):
        (tmp_path / "tool.exe").write_bytes(b"MZ")
        with pytest.raises(InputValidationError, match="'tool.exe': Dify does not index .exe files"):
            ingest(source=str(tmp_path))
        assert knowledge.control.state()["requests"] == []

    def test_a_missing_dataset_fails_before_uploading(self, knowledge, folder):
        with pytest.raises(PermanentAPIError, match="HTTP 404 not_found: Dataset not found"):
            ingest(dataset_id=UNKNOWN, source=str(folder))
        assert uploads(knowledge) == []

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            ({"on_existing": "replace"}, "on_existing must be one of"),
            ({"indexing_technique": "cheap"}, "indexing_technique must be one of"),
            ({"doc_form": "table"}, "doc_form must be one of"),
            ({"process_rule": {"rules": {}}}, "process_rule must be a dict with a 'mode'"),
            ({"documents": None}, "give documents, source or both"),
        ],
    )
    def test_wrong_options_fail_when_the_dag_is_parsed(self, kwargs, message):
        kwargs = {"documents": [{"name": "a", "text": "b"}], **kwargs}
        with pytest.raises(ValueError, match=message):
            DifyKnowledgeIngestOperator(task_id="t", dataset_id="d", **kwargs)

    def test_templated_fields(self):
        assert set(DifyKnowledgeIngestOperator.template_fields) == {
            "dataset_id",
            "documents",
            "source",
            "conn_id",
        }


class DeferringTaskInstance(TaskInstance):
    task_id, map_index = "ingest", -1

    def xcom_pull(self, task_ids, key, map_indexes):
        assert (task_ids, map_indexes) == (self.task_id, self.map_index)
        return self.xcom[key]


def event_for(trigger, status: str = "succeeded") -> dict:
    ref = trigger.run_ref
    return {
        "status": status,
        "platform": "Dify Knowledge",
        "run_id": ref.run_id,
        "message": "m",
        "run": ref.to_json(),
    }


class TestDeferred:
    """The deferred wait, resumed by hand with the event the shared trigger would send."""

    def operator(self, **kwargs):
        docs = [{"name": "first.txt", "text": "1"}, {"name": "second.txt", "text": "2"}]
        return DifyKnowledgeIngestOperator(
            task_id="ingest",
            dataset_id=DATASET_ID,
            documents=docs,
            deferrable=True,
            poll_interval=0.1,
            **kwargs,
        )

    def test_the_newest_batch_is_waited_on_and_the_wait_defers_again_until_every_batch_settled(
        self, knowledge
    ):
        knowledge.control.settings(
            indexing_seconds=5
        )  # still indexing at the first resume, even on a loaded machine
        operator, ti = self.operator(), DeferringTaskInstance()
        with pytest.raises(TaskDeferred) as first:
            operator.execute({"ti": ti})
        trigger = first.value.trigger
        batches = [d["batch"] for d in ti.xcom["ingestion_progress"]["documents"]]
        assert trigger.run_ref.run_id == batches[-1] and trigger.run_ref.extras["dataset_id"] == DATASET_ID
        assert trigger.serialize()[1]["platform_key"] == "dify_knowledge"
        with pytest.raises(TaskDeferred):  # resumed while both are still indexing: wait again
            operator.execute_complete({"ti": ti}, event_for(trigger))
        deadline = time.monotonic() + 60
        while any(
            d["indexing_status"] != "completed"
            for d in DifyKnowledgeHook().get_batch(DATASET_ID, batches[0]).outputs["documents"]
        ):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.2)
        result = operator.execute_complete({"ti": ti}, event_for(trigger))
        assert [d["indexing_status"] for d in result["documents"]] == ["completed", "completed"]

    def test_a_timeout_event_names_the_documents_still_indexing(self, knowledge):
        knowledge.control.settings(indexing_seconds=60)
        operator, ti = self.operator(), DeferringTaskInstance()
        with pytest.raises(TaskDeferred) as first:
            operator.execute({"ti": ti})
        with pytest.raises(RunTimedOut, match="still indexing: 'first.txt' .*'second.txt'"):
            operator.execute_complete({"ti": ti}, event_for(first.value.trigger, "timeout"))
        assert ti.xcom["report"]["created"] == 2


class TestSensor:
    def test_the_sensor_fails_naming_documents_in_error(self, knowledge):
        from airflow_workflow_providers.core.errors import RunFailed
        from airflow_workflow_providers.dify.sensors import DifyKnowledgeIndexingSensor

        knowledge.control.settings(indexing_outcomes={"bad.txt": "could not split"})
        accepted = DifyKnowledgeHook().create_document(
            DATASET_ID, name="bad.txt", text="b", settings={"process_rule": {"mode": "automatic"}}
        )
        sensor = DifyKnowledgeIndexingSensor(
            task_id="wait",
            dataset_id=DATASET_ID,
            batch=accepted.batch,
            poke_interval=0.05,
            timeout=20,
            deferrable=False,
        )
        with pytest.raises(RunFailed, match=f"document {accepted.document_id}: could not split"):
            while not sensor.poke({}):
                time.sleep(0.05)
