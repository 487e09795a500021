"""Reporting: experiment -> panels -> summary -> figures, from the results table alone
(never Ray)."""
