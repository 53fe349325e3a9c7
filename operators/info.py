"""``get_labelloop_info``: the label fields of the target view and the suite's runs on its dataset."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.store import info
from . import common, tables


class GetLabelLoopInfo(foo.Operator):
    """Summarises the target view for LabelLoop: label fields, label counts, and who ran what."""

    @property
    def config(self):
        return common.operator_config(
            "get_labelloop_info",
            "Dataset info",
            "Label fields of the target view and the LabelLoop runs on this dataset",
        )

    def resolve_input(self, ctx):
        inputs = types.Object()
        if len(ctx.target_view()) == 0:
            common.block(inputs, "The target view has no samples: choose the whole dataset or a non-empty view.")
        return types.Property(inputs, view=types.View(label="LabelLoop: dataset info"))

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

    def __call__(self, sample_collection, delegate=False):
        """The summary of ``sample_collection`` (None when ``delegate`` queues the work instead)."""
        return common.execute_from_sdk(self, sample_collection, {}, delegate=delegate)
