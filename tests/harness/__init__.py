"""Shared test harness: a private MongoDB, operator runners, tiny local models, a live App server."""
