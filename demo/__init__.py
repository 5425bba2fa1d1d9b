"""``make demo``: every example DAG on a real Airflow deployment (see ``demo/__main__.py``)."""
