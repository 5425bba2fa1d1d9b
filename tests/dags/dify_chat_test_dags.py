"""Chatflow and chat-message DAGs the Dify tests run with dag.test().

Connections (set by the tests): ``dify_chatflow`` -> the emulator's chatflow app (input ``topic``; answer
``echo: {query} / {topic}``), ``dify_approval`` / ``dify_chatflow_approval`` -> its Human Input workflow and
chatflow, ``dify_chat`` / ``dify_agent`` / ``dify_completion`` -> its chat, agent and
text-generation apps (answer ``echo: {query}``).
"""

from __future__ import annotations

import datetime

from airflow.sdk import DAG, task

from airflow_workflow_providers.dify.operators import (
    DifyChatMessageOperator,
    DifyRunChatflowOperator,
    DifyRunWorkflowOperator,
)

FAST = {"poll_interval": 0.2, "retries": 0}


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=datetime.datetime(2024, 1, 1), catchup=False)


for mode, deferrable in (("deferred", True), ("blocking", False)):
    with _dag(f"dify_chatflow_{mode}") as dag:
        ask = DifyRunChatflowOperator(
            task_id="ask",
            conn_id="dify_chatflow",
            query="{{ dag_run.conf['query'] }}",
            inputs={"topic": "airflow"},
            deferrable=deferrable,
            **FAST,
        )
        follow_up = DifyRunChatflowOperator(
            task_id="follow_up",
            conn_id="dify_chatflow",
            query="and then?",
            inputs={"topic": "turn 2"},
            conversation_id="{{ ti.xcom_pull(task_ids='ask')['conversation_id'] }}",
            deferrable=deferrable,
            **FAST,
        )

        @task
        def answers(first: dict, second: dict) -> list[str]:
            return [first["answer"], second["answer"]]

        ask >> follow_up
        answers(ask.output, follow_up.output)
    globals()[dag.dag_id] = dag

    with _dag(f"dify_wrong_mode_{mode}") as dag:
        DifyRunWorkflowOperator(
            task_id="run", conn_id="dify_chatflow", inputs={"topic": "t"}, deferrable=deferrable, **FAST
        )
    globals()[dag.dag_id] = dag

for app in ("chat", "agent", "completion"):
    with _dag(f"dify_message_{app}") as dag:
        DifyChatMessageOperator(
            task_id="ask",
            conn_id=f"dify_{app}",
            query="{{ dag_run.conf['query'] }}",
            inputs={"query": "{{ dag_run.conf['query'] }}"} if app == "completion" else {},
            retries=0,
        )
    globals()[dag.dag_id] = dag

with _dag("dify_message_wrong_mode") as dag:
    DifyChatMessageOperator(
        task_id="ask", conn_id="dify_chatflow", query="q", inputs={"topic": "t"}, retries=0
    )

# ``dify_approval`` -> the emulator's Human Input app: query -> Approval [approve | reject, comment] -> outputs;
# ``dify_chatflow_approval`` -> its chatflow with the same node: topic -> Approval -> answer
HUMAN_INPUT_APPS = {
    "approval": (DifyRunWorkflowOperator, {"inputs": {"query": "deploy release 2.0"}}),
    "chatflow_approval": (
        DifyRunChatflowOperator,
        {"query": "hello chatflow", "inputs": {"topic": "airflow"}},
    ),
}
for mode, deferrable in (("deferred", True), ("blocking", False)):
    for app, (operator, arguments) in HUMAN_INPUT_APPS.items():
        for on_human_input in ("fail", "wait"):
            with _dag(f"dify_{app}_{on_human_input}_{mode}") as dag:
                operator(
                    task_id="run",
                    conn_id=f"dify_{app}",
                    on_human_input=on_human_input,
                    deferrable=deferrable,
                    timeout=120,  # a form nobody answers fails the test instead of hanging it
                    **arguments,  # type: ignore[arg-type]
                    **FAST,
                )
            globals()[dag.dag_id] = dag
