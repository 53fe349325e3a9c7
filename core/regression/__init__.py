"""Regression testing: per-sample comparison of two models, its report and the CI gate."""
