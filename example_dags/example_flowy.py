"""Example: run a Flowy app, keep its image before the signed URL expires, use the outputs downstream.

Needs a connection ``flowy_default`` (type ``flowy``; password = a secret API key ``flw_sk_...``), e.g.::

    export AIRFLOW_CONN_FLOWY_DEFAULT='{"conn_type": "flowy", "password": "flw_sk_..."}'

``APP_ID`` is the Flowy emulator's default echo app (``python -m airflow_workflow_providers.testing flowy``
serves it locally; point the connection's host at the emulator's base URL). For your own app, put its
24-hex id there and its input node ids in ``inputs`` (``FlowyHook().get_app(APP_ID)["inputs"]`` lists them).

Media outputs are copied to ``FLOWY_OUTPUT_DIR`` if that environment variable is set (any local path or
object storage URL such as ``s3://my-bucket/flowy``), else to ``$AIRFLOW_HOME/flowy-outputs``.
"""

from __future__ import annotations

import datetime
import os

from airflow.sdk import DAG, Param, task

from airflow_workflow_providers.flowy.operators import FlowyRunAppOperator

APP_ID = "65f1a2b3c4d5e6f708090a01"
OUTPUT_DIR = os.environ.get("FLOWY_OUTPUT_DIR") or os.path.join(
    os.environ.get("AIRFLOW_HOME", os.path.expanduser("~/airflow")), "flowy-outputs"
)

with DAG(
    "example_flowy",
    schedule=None,
    start_date=datetime.datetime(2024, 1, 1),
    catchup=False,
    params={
        "prompt": Param(
            "A lighthouse at dawn, watercolour",
            type="string",
            title="Prompt",
            description="What the Flowy app captions and renders (its `prompt` input).",
        )
    },
    tags=["example", "flowy"],
    doc_md="""
### Run a Flowy app and keep its image

`render` checks the inputs against the app's declared inputs, starts the run through `flowy_default`
and **defers** while it runs. Flowy's output URLs are signed and expire, so the image is streamed to
`output_dir` right after completion; the result gives its `location`, `size` and `sha256`.
""",
) as dag:
    render = FlowyRunAppOperator(
        task_id="render",
        app_id=APP_ID,
        inputs={"prompt": "{{ params.prompt }}"},
        output_dir=OUTPUT_DIR,
        deferrable=True,
        poll_interval=1,
        timeout=600,
    )

    @task
    def publish(run: dict) -> dict:
        """Stand-in for the next step: the caption and where the stored image is."""
        outputs = run["outputs"]
        image = outputs["image"]
        print(f"Caption: {outputs['caption']['text']}")
        print(f"Image stored at {image['location']} ({image['size']} bytes, sha256 {image['sha256']})")
        return {"caption": outputs["caption"]["text"], "image": image["location"], "sha256": image["sha256"]}

    publish(render.output)
