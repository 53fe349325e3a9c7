"""The regression panel's first paint on the shared dataset (counts, metrics, bars, the worst 15 samples), as the
App calls it, then again; the comparison is run first (untimed) when the ``compare`` job has not run.

``first_paint_s`` is the first paint of this dataset by a server that has loaded the plugin (as the App's has, once
any panel of it was shown: the plugin is loaded first on an empty dataset); ``cold_paint_s`` adds loading it."""

import _setup
from diff import FIELDS

import fiftyone as fo

from core.regression import report
from core.regression.compare import CompareRequest, compare
from harness.operators import run_panel
from scale_jobs import _detections

GOAL_S = 2.0


def run(quick: bool) -> dict:
    dataset = _detections.dataset(quick)
    compared_first = not report.comparisons(dataset)
    if compared_first:
        compare(dataset, CompareRequest(*FIELDS, key="compare"), progress=False)
    empty = fo.Dataset()
    cold_s, _ = _setup.timed(lambda: run_panel("labelloop_regression", empty, "on_load"))
    empty.delete()
    paint_s, _ = _setup.timed(lambda: run_panel("labelloop_regression", dataset, "on_load"))
    repaint_s, _ = _setup.timed(lambda: run_panel("labelloop_regression", dataset, "on_load"))
    return {
        "size": _detections.size(quick),
        "goal": f"first paint <= {GOAL_S} s",
        "met": paint_s <= GOAL_S,
        "first_paint_s": round(paint_s, 2),
        "cold_paint_s": round(cold_s + paint_s, 2),
        "repaint_s": round(repaint_s, 2),
        "compared_first": compared_first,
    }
