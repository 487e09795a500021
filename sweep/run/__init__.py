"""Running a sweep, grouped by what each part does:

- ``driver/``: the process that runs the grid: ``api.run_sweep`` (the entry point), the
  checks before a run (``preflight``), the time estimate, Ray Tune (``tuning``), the
  callback that files finished trials, signals, the cluster and its elastic sizing
  (``elastic``: trials at a time follow the nodes as they join or leave).
- ``scheduling/``: which configurations each Ray Tune trial trains and when: the units,
  packs and their hand-out order (``units``), the searcher that hands them out, Optuna.
- ``worker/``: what runs inside a trial: the Ray Tune trainable, one unit's training and
  scoring (``unit_runner``), ``sweep train-one``, the classifier it scores with.
- ``records/``: what a run leaves: the ledger, checkpoints, storage (local or s3://), the
  trial result and the results table.
- ``watch/``: reading a running or finished sweep: ``sweep status``, TensorBoard, Optuna's
  dashboard.

This package's ``__init__`` files import nothing, so the modules that do not need Ray
(records, watch) load without it.
"""
