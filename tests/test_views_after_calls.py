"""Views and samples a person holds in a script or notebook keep working across SDK calls that add or delete fields
(FiftyOne's operator executor rebuilds the dataset's sample class; ``schema.keeping_sample_classes`` undoes that)."""

import fiftyone as fo
import fiftyone.operators as foo

from core.store import runs
from harness import operators as ops


def uniqueness(dataset):
    return foo.get_operator(ops.uri("compute_uniqueness"))(dataset, "emb", k=2)


def test_a_view_and_a_sample_held_before_a_call_see_the_fields_it_added(embedded):
    view = embedded.match({}).limit(4)
    held = embedded.first()
    assert len([s.id for s in view]) == 4  # the view has built its samples before the call
    uniqueness(embedded)
    assert all(0 <= s.uniqueness <= 1 for s in view)
    assert held.uniqueness == embedded.first().uniqueness is not None
    embedded.add_sample_field("after", fo.IntField)  # a field the person adds afterwards reaches the view too
    embedded.set_values("after", list(range(len(embedded))))
    assert [s.after for s in view] == [0, 1, 2, 3]


def test_a_view_held_across_a_run_deletion_loses_the_deleted_fields(embedded):
    view = embedded.limit(3)
    uniqueness(embedded)
    assert [s.uniqueness is not None for s in view] == [True] * 3
    [run] = runs.list_suite_runs(embedded)
    foo.get_operator(ops.uri("manage_runs"))(embedded, action="delete", run_key=run["key"])
    assert not embedded.has_field("uniqueness")
    assert [s.has_field("uniqueness") for s in view] == [False] * 3
    uniqueness(embedded)  # declared again, and the view sees it again
    assert [s.uniqueness is not None for s in view] == [True] * 3
