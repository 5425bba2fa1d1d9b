"""``make demo``: every example DAG against the bundled emulators."""
