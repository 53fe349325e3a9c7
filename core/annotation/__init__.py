"""The annotation loop with CVAT: connection, review field, send, status, load, merge, finish."""
