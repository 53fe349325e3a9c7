"""Test doubles and data builders shared by the tests, the demo and the benchmarks: the CVAT double and its
simulated annotator, the digits and shapes datasets, and tiny random-initialised transformers models."""
