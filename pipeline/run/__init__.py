"""Doing the work: the plan, the ledger and lock file, outputs on disk, the runner, the workflow."""
