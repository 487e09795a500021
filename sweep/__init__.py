"""The EBGAN grid search on Ray Tune: config (sweep.yaml -> trials), run (Ray Tune ->
ledger -> results table), report (table -> figures); the `sweep` command in cli.py."""
