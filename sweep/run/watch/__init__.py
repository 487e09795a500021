"""Watching a sweep: sweep status, TensorBoard and the Optuna dashboard."""
