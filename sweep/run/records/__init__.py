"""What a sweep leaves behind: the ledger, checkpoints, storage, trial results and the
results table."""
