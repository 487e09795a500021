"""The driver process of a sweep: run_sweep, the checks before a run, the time estimate,
Ray Tune, its callback, signals and the cluster."""
