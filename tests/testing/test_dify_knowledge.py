"""The Dify emulator's dataset API against the knowledge-base session recorded on a real Dify 1.14.1 server."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from airflow_workflow_providers.testing import RunningEmulator
from airflow_workflow_providers.testing.dify_knowledge import DATASET_ID, DATASET_KEY
from tests.recorded import SECOND_RECORDING, find

Api = Any  # the conftest's client (a fixture: conftest modules are not importable)
OPERATORS = (
    "Airflow operators wrap a unit of work. Sensors wait for a condition.\n\nThe Dify provider offers an "
    "operator that runs a Dify workflow and a sensor that waits for a run.\n\nDeferrable operators release "
    "the worker slot while they wait."
)
RULE = {"mode": "automatic"}
DOCS = f"/datasets/{DATASET_ID}/documents"


def recorded(title_part: str, status: int | None = None) -> Any:
    return find(title_part, status, recording=SECOND_RECORDING)[0].body


def keys(body: Any) -> set[str]:
    """The keys the real server sent, without the recording's ``"…"`` placeholder for left-out fields."""
    return set(body) - {"…"}


@pytest.fixture
def kb(dify_emulator: RunningEmulator, api) -> Api:
    """A client of the emulator's dataset API, with the workspace's dataset key."""
    return api(dify_emulator, DATASET_KEY)


def create_text(kb: Api, name: str = "operators.txt", text: str = OPERATORS) -> dict:
    response = kb.post(
        f"/datasets/{DATASET_ID}/document/create-by-text",
        json={"name": name, "text": text, "indexing_technique": "economy", "process_rule": RULE},
    )
    assert response.status_code == 200, response.text
    return response.json()


def create_file(kb: Api, name: str, content: bytes, content_type: str = "text/plain") -> requests.Response:
    return kb.post(
        f"/datasets/{DATASET_ID}/document/create-by-file",
        files={"file": (name, content, content_type)},
        data={"data": '{"indexing_technique":"economy","process_rule":{"mode":"automatic"}}'},
    )


def poll_until_settled(kb: Api, batch: str) -> tuple[list[str], dict]:
    """Poll a batch until its first document settles; the statuses seen in order (a line per change), and the last body."""
    seen: list[str] = []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body = kb.get(f"{DOCS}/{batch}/indexing-status").json()
        status = body["data"][0]["indexing_status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in ("completed", "error", "paused"):
            return seen, body
        time.sleep(0.02)
    raise AssertionError(f"batch {batch} never settled: {seen}")


class TestDocuments:
    def test_create_by_text_answers_the_recorded_shape_then_indexes_over_time(self, kb: Api) -> None:
        created = create_text(kb)
        real = recorded("document/create-by-text", 200)
        assert set(created) == {"document", "batch"} and keys(created["document"]) == keys(real["document"])
        assert re.fullmatch(r"\d{20}", created["batch"]) and re.fullmatch(r"\d{20}", real["batch"])
        document = created["document"]
        assert (document["indexing_status"], document["display_status"], document["created_from"]) == (
            "parsing",
            "indexing",
            "api",
        )
        assert (document["word_count"], document["tokens"], document["doc_form"]) == (
            None,
            None,
            "text_model",
        )
        upload = document["data_source_detail_dict"]["upload_file"]
        assert (upload["name"], upload["size"], upload["extension"]) == ("operators.txt", 230, "txt")
        seen, last = poll_until_settled(kb, created["batch"])
        assert set(seen) <= {"parsing", "splitting", "indexing", "completed"} and seen[-1] == "completed"
        assert set(last) == {"data"}
        entry = last["data"][0]
        recorded_entry = {
            "id",
            "indexing_status",
            "processing_started_at",
            "parsing_completed_at",
            "cleaning_completed_at",
            "splitting_completed_at",
            "completed_at",
            "paused_at",
            "error",
            "stopped_at",
            "completed_segments",
            "total_segments",
        }
        assert set(entry) == recorded_entry
        assert entry["completed_segments"] == entry["total_segments"] >= 1
        assert (
            entry["paused_at"] is None and entry["error"] is None and isinstance(entry["completed_at"], int)
        )

    def test_files_are_named_after_the_file_and_listed_newest_first(self, kb: Api) -> None:
        create_text(kb)
        pools = create_file(
            kb, "pools.txt", b"Airflow pools limit how many task instances run at once.\nA pool has slots."
        )
        retries = create_file(
            kb, "retries.md", b"# Retries\n\nAirflow retries a failed task.", "text/markdown"
        )
        assert pools.status_code == retries.status_code == 200
        assert (
            pools.json()["document"]["name"] == "pools.txt"
            and pools.json()["batch"] != retries.json()["batch"]
        )
        poll_until_settled(kb, retries.json()["batch"])
        listing = kb.get(DOCS).json()
        real = recorded("documents (all;")
        assert keys(listing) == keys(real) and keys(listing["data"][0]) == keys(real["data"][0])
        assert [d["name"] for d in listing["data"]] == ["retries.md", "pools.txt", "operators.txt"]
        assert [d["position"] for d in listing["data"]] == [3, 2, 1]
        assert (listing["has_more"], listing["limit"], listing["total"], listing["page"]) == (False, 20, 3, 1)
        filtered = kb.get(DOCS, params={"keyword": "retries", "page": 1, "limit": 20}).json()
        assert [d["name"] for d in filtered["data"]] == ["retries.md"] and filtered["total"] == 1
        done = listing["data"][0]
        assert (done["indexing_status"], done["display_status"], done["word_count"], done["tokens"]) == (
            "completed",
            "available",
            len(b"# Retries\n\nAirflow retries a failed task."),
            0,
        )

    def test_the_detail_carries_the_whole_upload_file_object(self, kb: Api) -> None:
        created = create_text(kb)
        poll_until_settled(kb, created["batch"])
        detail = kb.get(f"{DOCS}/{created['document']['id']}").json()
        assert keys(detail) == keys(recorded("(document detail;"))
        assert set(detail["data_source_info"]) == {"upload_file"}
        assert isinstance(detail["data_source_info"]["upload_file"]["created_at"], float)

    def test_an_update_answers_the_original_batch_waiting_and_created_from_web(self, kb: Api) -> None:
        created = create_text(kb)
        poll_until_settled(kb, created["batch"])
        document_id = created["document"]["id"]
        text = OPERATORS + "\n\nTriggers run deferred work in the triggerer process."
        updated = kb.post(
            f"{DOCS}/{document_id}/update-by-text", json={"name": "operators-v2.txt", "text": text}
        ).json()
        real = recorded("update-by-text (rename", 200)
        assert updated["batch"] == created["batch"]  # the original batch, as the real server answers
        mine = updated["document"]
        assert (
            {
                k: mine[k]
                for k in ("indexing_status", "display_status", "created_from", "word_count", "tokens")
            }
            == {
                "indexing_status": "waiting",
                "display_status": "queuing",
                "created_from": "web",
                "word_count": 230,
                "tokens": 0,
            }
            == {
                k: real["document"][k]
                for k in ("indexing_status", "display_status", "created_from", "word_count", "tokens")
            }
        )
        seen, _ = poll_until_settled(kb, created["batch"])
        assert seen[0] == "waiting" and seen[-1] == "completed"
        (listed,) = kb.get(DOCS).json()["data"]
        assert (listed["id"], listed["name"], listed["word_count"]) == (
            document_id,
            "operators-v2.txt",
            len(text),
        )

    def test_only_available_documents_can_be_updated(self, kb: Api, dify_emulator: RunningEmulator) -> None:
        dify_emulator.control.settings(indexing_seconds=30)
        created = create_text(kb)  # still indexing
        response = kb.post(
            f"{DOCS}/{created['document']['id']}/update-by-text", json={"name": "x.txt", "text": "x"}
        )
        assert (response.status_code, response.json()["code"]) == (400, "invalid_param")

    def test_delete_answers_204_then_404(self, kb: Api) -> None:
        created = create_text(kb)
        url = f"{DOCS}/{created['document']['id']}"
        first = kb.request("DELETE", url)
        assert (first.status_code, first.content, first.headers["Content-Type"]) == (
            204,
            b"",
            "application/json",
        )
        again = kb.request("DELETE", url)
        assert (again.status_code, again.json()) == (404, recorded("(same document again)", 404))

    def test_an_unknown_batch_is_404(self, kb: Api) -> None:
        response = kb.get(f"{DOCS}/20990101000000000000/indexing-status")
        assert (response.status_code, response.json()["message"]) == (404, "Documents not found.")


class TestIndexingOutcomes:
    def test_a_paused_document_says_paused_in_indexing_status_but_keeps_its_stage_in_the_list(
        self, kb: Api, dify_emulator: RunningEmulator
    ) -> None:
        dify_emulator.control.settings(indexing_outcomes={"held-*": "paused"})
        created = create_text(kb, "held-1.txt")
        seen, last = poll_until_settled(kb, created["batch"])
        assert seen[-1] == "paused" and isinstance(last["data"][0]["paused_at"], int)
        (listed,) = kb.get(DOCS).json()["data"]
        assert listed["display_status"] == "paused" and listed["indexing_status"] in ("parsing", "splitting")
        time.sleep(0.4)  # a paused document stays paused: only a person resumes it
        assert (
            kb.get(f"{DOCS}/{created['batch']}/indexing-status").json()["data"][0]["indexing_status"]
            == "paused"
        )

    def test_an_indexing_error_carries_its_text_and_a_stop_time(
        self, kb: Api, dify_emulator: RunningEmulator
    ) -> None:
        dify_emulator.control.settings(
            indexing_outcomes={"*.pdf": "Failed to parse PDF: EOF marker not found"}
        )
        response = create_file(kb, "broken.pdf", b"not a pdf", "application/pdf")
        seen, last = poll_until_settled(kb, response.json()["batch"])
        entry = last["data"][0]
        assert (seen[-1], entry["error"]) == ("error", "Failed to parse PDF: EOF marker not found")
        assert isinstance(entry["stopped_at"], int) and entry["completed_at"] is None
        assert kb.get(DOCS).json()["data"][0]["display_status"] == "error"


class TestDatasets:
    def test_create_answers_200_and_a_second_create_of_the_name_409(self, kb: Api) -> None:
        body = {"name": "airflow-kb-rec", "indexing_technique": "economy", "permission": "only_me"}
        created = kb.post("/datasets", json=body)
        real = recorded("POST /datasets (economy)", 200)
        assert created.status_code == 200 and keys(created.json()) == keys(real)
        assert (
            created.json()["retrieval_model_dict"]["search_method"] == "semantic_search"
        )  # even for economy
        again = kb.post("/datasets", json={"name": "airflow-kb-rec", "indexing_technique": "economy"})
        assert (again.status_code, again.json()) == (409, recorded("(same name again)", 409))

    def test_listing_and_reading_datasets_need_the_plugin_daemon(
        self, kb: Api, dify_emulator: RunningEmulator
    ) -> None:
        listing = kb.get("/datasets", params={"page": 1, "limit": 5})
        assert (listing.status_code, listing.json()) == (
            400,
            recorded("(list — needs the plugin daemon)", 400),
        )
        detail = kb.get(f"/datasets/{DATASET_ID}")
        assert (detail.status_code, detail.json()) == (
            400,
            recorded("(detail — needs the plugin daemon)", 400),
        )
        assert kb.get(DOCS).status_code == 200  # documents work without it
        dify_emulator.control.settings(plugin_daemon=True)
        assert kb.get("/datasets").json()["data"][0]["id"] == DATASET_ID

    def test_a_deleted_dataset_is_not_found(self, kb: Api) -> None:
        created = kb.post("/datasets", json={"name": "transient", "indexing_technique": "economy"}).json()
        assert kb.request("DELETE", f"/datasets/{created['id']}").status_code == 204
        gone = kb.get(f"/datasets/{created['id']}/documents")
        assert (gone.status_code, gone.json()) == (404, recorded("(deleted dataset)", 404))


class TestAuthAndErrors:
    def test_app_and_dataset_keys_are_each_refused_on_the_others_endpoints(self, dify: Api, kb: Api) -> None:
        app_key_here = dify.get(DOCS)
        assert (app_key_here.status_code, app_key_here.json()) == (
            401,
            recorded("(app key on a dataset endpoint)", 401),
        )
        assert app_key_here.headers["WWW-Authenticate"] == 'Bearer realm="api"'
        dataset_key_there = kb.get("/parameters")
        assert (dataset_key_there.status_code, dataset_key_there.json()) == (
            401,
            recorded("(dataset key on an app endpoint)", 401),
        )

    def test_an_unknown_dataset_is_404(self, kb: Api) -> None:
        response = kb.get("/datasets/00000000-0000-0000-0000-000000000000/documents")
        assert (response.status_code, response.json()) == (404, recorded("(unknown dataset id)", 404))

    def test_api_access_turned_off_is_403_until_turned_on(
        self, kb: Api, dify_emulator: RunningEmulator
    ) -> None:
        console = f"{dify_emulator.root_url}/console/api/datasets/{DATASET_ID}/api-keys"
        assert requests.post(f"{console}/disable", timeout=10).json() == {"result": "success"}
        off = kb.get(DOCS)
        assert (off.status_code, off.json()) == (403, recorded("(API access disabled)", 403))
        requests.post(f"{console}/enable", timeout=10)
        assert kb.get(DOCS).status_code == 200

    @pytest.mark.parametrize(
        ("title", "send"),
        [
            (
                "(missing text)",
                lambda kb: kb.post(
                    f"/datasets/{DATASET_ID}/document/create-by-text",
                    json={"name": "no-text.txt", "indexing_technique": "economy"},
                ),
            ),
            (
                "(no file part)",
                lambda kb: kb.post(
                    f"/datasets/{DATASET_ID}/document/create-by-file",
                    files={"data": (None, '{"indexing_technique":"economy"}')},
                ),
            ),
            (
                "(bad indexing_technique)",
                lambda kb: kb.post("/datasets", json={"name": "x", "indexing_technique": "cheap"}),
            ),
            (
                "(body is not JSON)",
                lambda kb: kb.post(
                    f"/datasets/{DATASET_ID}/document/create-by-text",
                    data="{not json",
                    headers={"Content-Type": "application/json"},
                ),
            ),
        ],
    )
    def test_malformed_requests_answer_as_recorded(self, kb: Api, title: str, send: Any) -> None:
        real = find(title, recording=SECOND_RECORDING)[0]
        response = send(kb)
        assert (response.status_code, response.json()) == (real.status, real.body)

    def test_an_update_with_text_and_no_name_is_refused_as_recorded(self, kb: Api) -> None:
        created = create_text(kb)
        poll_until_settled(kb, created["batch"])
        response = kb.post(
            f"{DOCS}/{created['document']['id']}/update-by-text", json={"text": "text without a name"}
        )
        assert (response.status_code, response.json()) == (400, recorded("(text without name)", 400))

    def test_an_unsupported_file_type_is_415(self, kb: Api) -> None:
        response = create_file(kb, "tool.exe", b"MZ", "application/octet-stream")
        assert (response.status_code, response.json()["code"]) == (415, "unsupported_file_type")


def test_dataset_keys_are_created_and_deleted_in_the_console(dify_emulator: RunningEmulator, api) -> None:
    console = f"{dify_emulator.root_url}/console/api/datasets/api-keys"
    created = requests.post(console, timeout=10).json()
    assert set(created) == set(recorded("POST /console/api/datasets/api-keys", 200))
    assert created["type"] == "dataset" and created["token"].startswith("dataset-")
    assert api(dify_emulator, created["token"]).get(DOCS).status_code == 200  # workspace-wide: any dataset
    assert requests.delete(f"{console}/{created['id']}", timeout=10).status_code == 204
    assert api(dify_emulator, created["token"]).get(DOCS).status_code == 401


class TestRetrieval:
    KEYWORDS = {"search_method": "keyword_search", "reranking_enable": False, "top_k": 3}
    RETRIEVE = f"/datasets/{DATASET_ID}/retrieve"

    @pytest.fixture
    def indexed(self, kb: Api) -> None:
        """The recording's documents, indexed: pools.txt, then retries.md (two paragraphs)."""
        for name, content, kind in (
            (
                "pools.txt",
                b"Airflow pools limit how many task instances run at once.\nA pool has slots.\n",
                "text/plain",
            ),
            (
                "retries.md",
                b"# Retries\nAirflow retries a failed task `retries` times, waiting `retry_delay` between tries.\n\n"
                b"# Backoff\nSet `retry_exponential_backoff` to grow the wait.\n",
                "text/markdown",
            ),
        ):
            created = create_file(kb, name, content, kind)
            assert poll_until_settled(kb, created.json()["batch"])[0][-1] == "completed"

    def search(self, kb: Api, query: str, path: str = RETRIEVE) -> requests.Response:
        return kb.post(
            path,
            json={"query": query, "retrieval_model": {**self.KEYWORDS, "score_threshold_enabled": False}},
        )

    def test_keyword_search_finds_the_recorded_segments_in_storage_order(
        self, kb: Api, indexed: None
    ) -> None:
        expected = recorded("/retrieve (keyword_search; records after")
        got = self.search(kb, "Airflow retries backoff").json()
        assert keys(got) == keys(expected)
        first, want = got["records"][0], expected["records"][0]
        assert keys(first) == keys(want) and keys(first["segment"]) == keys(want["segment"])
        assert first["segment"]["document"] == want["segment"]["document"]  # all null
        assert [r["segment"]["content"] for r in got["records"]] == [
            r["segment"]["content"] for r in expected["records"]
        ]
        assert {r["score"] for r in got["records"]} == {0.0}
        assert (first["segment"]["word_count"], first["segment"]["position"]) == (74, 1)
        assert set(first["segment"]["keywords"]) == set(want["segment"]["keywords"])
        pools = self.search(kb, "pool slots", f"/datasets/{DATASET_ID}/hit-testing").json()
        assert [r["segment"]["content"] for r in pools["records"]] == [
            r["segment"]["content"] for r in recorded("/hit-testing (alias of /retrieve")["records"]
        ]

    def test_no_match_is_an_empty_list(self, kb: Api, indexed: None) -> None:
        assert self.search(kb, "zebra giraffe").json() == recorded("/retrieve (keyword_search, no match)")

    def test_without_keyword_search_the_missing_vector_store_refuses_and_a_query_is_required(
        self, kb: Api
    ) -> None:
        query_only = kb.post(self.RETRIEVE, json={"query": "how do sensors wait"})
        assert (query_only.status_code, query_only.json()) == (400, recorded("/retrieve (query only"))
        no_query = kb.post(
            self.RETRIEVE, json={"retrieval_model": {**self.KEYWORDS, "score_threshold_enabled": False}}
        )
        assert (no_query.status_code, no_query.json()) == (400, recorded("/retrieve (no query)"))
