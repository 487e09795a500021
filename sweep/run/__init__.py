"""Running a sweep: Ray Tune, the trainable, the ledger, storage, cluster, estimate, table.

``sweep.run.api.run_sweep`` is the entry point. This package's ``__init__`` imports
nothing, so the modules that do not need Ray (ledger, storage, results, status) load
without it.
"""
