"""What a person sees in the Airflow UI, checked in a real browser (Debian's chromium through playwright).

Dify and Flowy runs of the example DAGs, stretched to about a minute on the emulators, are opened the
way a newcomer would: the grid while they wait on the triggerer, a task's log, its Details tab and its
"Remote run" link, the connection form and the providers page. ``make browser`` installs playwright and chromium;
``make screenshots`` also writes the grid, log and connection form pictures into ``docs/``.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from harness.processes import wait_until

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Dify's runs last a minute (no queue: its start would wait it out), Flowy's queue 5 s then run 40 s
PACE = {
    "dify": {"queued_seconds": 0.1, "run_seconds_multiplier": 300},
    "flowy": {"queued_seconds": 5, "run_seconds_multiplier": 200},
}
DIFY_RUNS = 3
#: the Dify task log's story, in order (core/story.py words it)
DIFY_STORY = [
    r"Dify inputs checked against the app's input form",
    r"Started Dify run (?P<run>[0-9a-f-]{{36}}) \(app [0-9a-f-]+, end user airflow:example_dify:summarize:",
    r"Waiting for Dify run {run} on the triggerer: a poll every 1\.0 s until .* the worker slot is free",
    r"Triggerer watching Dify run {run}",
    r"Dify run {run} state: running",
    r"Dify run {run} still running after \d+ s, polled \d+ times",
    r"Dify run {run} state: succeeded",
    r"Dify run {run} finished: succeeded in \d+ s; usage: total_tokens=\d+, total_steps=\d+; outputs: result \(\d+ chars\)",
]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (`make browser`)"
    )
    if not CHROMIUM.exists():
        pytest.skip(
            f"no browser: Debian's chromium is not installed at {CHROMIUM} (`make browser` installs it)"
        )
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    """Where screenshots go: ``docs/`` with UPDATE_SCREENSHOTS=1 (``make screenshots``), else a temporary folder."""
    return (
        REPO / "docs"
        if os.environ.get("UPDATE_SCREENSHOTS") == "1"
        else tmp_path_factory.mktemp("screenshots")
    )


@pytest.fixture(scope="module")
def page(browser, e2e):
    deployment, _ = e2e
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    page.goto(f"{deployment.url}/")
    page.fill("input[name=username]", deployment.username)
    page.fill("input[name=password]", deployment.password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"^(?!.*/auth/login).*$"), timeout=60_000)
    yield page
    page.close()


@pytest.fixture(scope="module")
def slow_runs(e2e, page, shots):
    """Dify and Flowy example runs lasting a minute; the grid is pictured while they wait on the triggerer."""
    deployment, emulators = e2e
    api = deployment.api
    emulators.reset()
    for platform, knobs in PACE.items():
        emulators[platform].control.settings(**knobs)
    try:
        dify = []
        for _ in range(DIFY_RUNS):
            dify.append(api.trigger("example_dify"))
            time.sleep(1.5)  # apart, so the grid shows one column per run
        flowy = api.trigger("example_flowy")

        def all_deferred() -> bool:
            states = [
                ti["state"]
                for run in dify
                for ti in api.task_instances("example_dify", run)
                if ti["task_id"] == "summarize"
            ]
            return states == ["deferred"] * DIFY_RUNS

        wait_until(
            all_deferred,
            180,
            "every Dify run's task deferred",
            interval=1,
            describe=lambda: "; ".join(api.describe_run("example_dify", run) for run in dify),
        )
        running = [
            ti for run in dify for ti in api.task_instances("example_dify", run) if ti["state"] == "running"
        ]
        page.goto(f"{deployment.url}/dags/example_dify")
        badge = page.locator(f"[data-testid='grid-{dify[-1]}-summarize']")
        badge.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        page.screenshot(path=str(shots / "grid-deferred.png"))
        for run in dify:
            api.wait_for_run("example_dify", run, timeout=300)
        api.wait_for_run("example_flowy", flowy, timeout=300)
        yield {"dify": dify, "flowy": flowy, "running_while_deferred": running}
    finally:
        emulators.reset()


def task_page(deployment, dag_id: str, run_id: str, task_id: str, tab: str = "") -> str:
    return f"{deployment.url}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}{tab}"


def test_the_grid_shows_the_runs_deferred_while_no_worker_slot_is_used(e2e, slow_runs):
    deployment, _ = e2e
    # every Dify task waited on the triggerer at once and none of them held a worker slot meanwhile
    assert [ti["task_id"] for ti in slow_runs["running_while_deferred"]] == []
    for run in slow_runs["dify"]:
        assert deployment.api.dag_run("example_dify", run)["state"] == "success"


def test_the_dify_task_log_tells_the_story_in_order(e2e, page, slow_runs, shots):
    deployment, _ = e2e
    run_id = slow_runs["dify"][0]
    page.goto(task_page(deployment, "example_dify", run_id, "summarize"))
    page.get_by_text("finished: succeeded").first.wait_for(timeout=60_000)
    text = page.inner_text("body")
    position, values = 0, {"run": ""}
    for pattern in DIFY_STORY:
        match = re.compile(pattern.format(**values)).search(text, position)
        assert match, (
            f"not in the log shown after position {position}: {pattern.format(**values)}\n{text[position:][:4000]}"
        )
        values["run"] = re.escape(match.groupdict().get("run") or "") or values["run"]
        position = match.end()
    page.keyboard.press("w")  # the log view's shortcuts: wrap long lines, then full screen
    page.keyboard.press("f")
    page.wait_for_timeout(1000)
    page.screenshot(path=str(shots / "task-log.png"))


def test_the_remote_run_link_is_on_the_dify_task_and_answers(e2e, page, slow_runs):
    deployment, _ = e2e
    page.goto(task_page(deployment, "example_dify", slow_runs["dify"][0], "summarize", "/details"))
    link = page.get_by_role("link", name="Remote run")
    link.wait_for(timeout=60_000)
    href = link.get_attribute("href")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/app/[0-9a-f-]+/logs", href or ""), href
    answer = requests.get(href, timeout=10)
    assert answer.status_code == 200 and "run logs" in answer.text


def test_the_flowy_task_has_no_remote_run_link(e2e, page, slow_runs):
    deployment, _ = e2e
    page.goto(task_page(deployment, "example_flowy", slow_runs["flowy"], "render", "/details"))
    page.get_by_text("Operator").first.wait_for(timeout=60_000)
    page.get_by_text("FlowyRunAppOperator").first.wait_for(timeout=60_000)
    assert page.get_by_role("link", name="Remote run").count() == 0
    assert page.get_by_text("Extra Links").count() == 0


@pytest.mark.parametrize(
    ("conn_type", "key_label", "placeholder"),
    [
        ("Dify", "API Key", "app-"),
        ("Scade", "Server key", "base64 server key"),
        ("Flowy", "API Key", "flw_sk_"),
    ],
)
def test_the_connection_form_names_the_fields_the_platform_uses(
    e2e, page, shots, conn_type, key_label, placeholder
):
    deployment, _ = e2e
    page.goto(f"{deployment.url}/connections")
    page.get_by_role("button", name="Add Connection").click()
    page.get_by_role("combobox").last.fill(conn_type)
    page.keyboard.press("Enter")
    # within the form's dialog: the connections list behind it has a "Port" column of its own once the
    # suite has created connections
    form = page.get_by_role("dialog")
    form.get_by_text("Base URL", exact=True).wait_for(timeout=30_000)
    assert form.get_by_text(key_label, exact=True).count() == 1
    for unused in ("Login", "Port", "Schema"):
        assert form.get_by_text(unused, exact=True).count() == 0
    password = page.locator("input[name=password]")
    assert placeholder in (password.get_attribute("placeholder") or "")
    if conn_type == "Dify":
        page.screenshot(path=str(shots / "connection-form.png"))


def test_the_providers_page_links_the_package_to_its_documentation(e2e, page):
    from airflow_workflow_providers.provider_info import DOCUMENTATION_URL

    deployment, _ = e2e
    page.goto(f"{deployment.url}/providers")
    link = page.get_by_role("link", name="airflow-workflow-providers")
    link.wait_for(timeout=60_000)
    assert link.get_attribute("href") == DOCUMENTATION_URL
