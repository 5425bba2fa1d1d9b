"""Ask a Dify chatflow, continue the conversation in a second task, and use both answers.

Connections: ``dify_chatflow`` points at a Dify chatflow (advanced-chat) app (host = base URL such as
``https://api.dify.ai/v1``, password = the app's API key). Against the bundled emulator use its
``app-chatflow`` key: that app takes a ``topic`` input and answers ``echo: <query> / <topic>``.
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.operators import DifyRunChatflowOperator

with DAG(
    "example_dify_chatflow",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={"topic": "release notes"},
    tags=["example", "dify"],
) as dag:
    ask = DifyRunChatflowOperator(
        task_id="ask",
        conn_id="dify_chatflow",
        query="What changed for run {{ run_id }}?",
        inputs={"topic": "{{ params.topic }}"},
        deferrable=True,
        poll_interval=2,
        timeout=600,
    )
    # same DAG run, same default end user: the follow-up continues the conversation
    follow_up = DifyRunChatflowOperator(
        task_id="follow_up",
        conn_id="dify_chatflow",
        query="Summarize that in one line.",
        inputs={"topic": "{{ params.topic }}"},
        conversation_id="{{ ti.xcom_pull(task_ids='ask')['conversation_id'] }}",
        deferrable=True,
        poll_interval=2,
        timeout=600,
    )

    @task
    def publish(first: dict, second: dict) -> list[str]:
        print(f"Conversation {first['conversation_id']}: {first['answer']!r} then {second['answer']!r}")
        return [first["answer"], second["answer"]]

    ask >> follow_up
    publish(ask.output, follow_up.output)
