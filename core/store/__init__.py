"""Storage of the suite's work on a dataset: runs, leases, schema changes, bulk writes, field helpers."""
