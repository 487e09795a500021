"""Which configurations each Ray Tune trial trains, and in which order: units and packs,
the searcher, Optuna."""
