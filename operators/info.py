"""``get_labelloop_info``: the label fields of the target view and the suite's runs on its dataset."""

import fiftyone as fo
from fiftyone.operators import types

from ..core.store import info
from . import common, tables


class GetLabelLoopInfo(common.LabelLoopOperator):
    """Summarises the target view for LabelLoop: label fields, label counts, and who ran what.

    It only reads: nothing is written and no run is recorded.
    """

    name = "get_labelloop_info"
    label = "Dataset info"
    description = "Label fields of the target view and the LabelLoop runs on this dataset"

    def form(self, ctx, inputs, view, well_typed):
        common.block_all(inputs, info.problems(view))

    def execute(self, ctx):
        summary = info.summarize(ctx.target_view(), progress=common.progress_reporter(ctx))
        ctx.set_progress(progress=1.0, label="Done")
        return {**summary, **tables.display_rows(summary)}

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("dataset", label="Dataset")
        outputs.int("num_samples", label="Samples in the target view")
        tables.add_summary_tables(outputs)
        return types.Property(outputs, view=types.View(label="LabelLoop: dataset info"))

    def __call__(self, sample_collection: fo.core.collections.SampleCollection, delegate: bool = False) -> dict | None:
        """Summarises samples for LabelLoop: their label fields with label counts and writers, and the suite's runs
        on their dataset.

        Args:
            sample_collection: the samples to summarise (a dataset or a non-empty view)
            delegate: whether to queue a delegated operation instead of running now (default: False)

        Returns:
            a dict with the ``dataset`` name, ``num_samples``, ``media_type``, the ``label_fields`` and the
            ``runs`` (records), and the same tables as display rows (``label_field_rows``, ``run_rows``); None when
            delegated
        """
        return common.execute_from_sdk(self, sample_collection, {}, delegate=delegate)
