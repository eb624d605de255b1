"""The orchestrator: hermod runtime, sandbox, batches, results store, cost and reports."""
