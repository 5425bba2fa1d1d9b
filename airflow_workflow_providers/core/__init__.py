"""The run engine every platform shares: model, retry decisions, transport, and the Airflow bases."""
