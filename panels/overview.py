"""The LabelLoop panel: the current view's label fields and the suite's runs, refreshed as the view changes."""

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.store import info
from ..operators import tables

HELP = (
    "LabelLoop closes the labelling loop: pre-label with a model, find what is wrong or new, correct it in CVAT, "
    "and regression-test the next model. This panel lists the label fields of the current view and every "
    "LabelLoop run on the dataset (who, when, which model, which fields)."
)


class LabelLoopOverviewPanel(foo.Panel):
    """Overview of LabelLoop's work on the dataset, scoped to the App's current view."""

    @property
    def config(self):
        return foo.PanelConfig(
            name="labelloop_overview",
            label="LabelLoop",
            icon="loop",
            surfaces="grid",
            help_markdown=HELP,
        )

    def on_load(self, ctx):
        self._refresh(ctx)

    def on_change_view(self, ctx):
        self._refresh(ctx)

    def on_change_dataset(self, ctx):
        self._refresh(ctx)

    def on_refresh(self, ctx):
        self._refresh(ctx)

    def render(self, ctx):
        panel = types.Object()
        panel.md(_header(ctx.panel.state), name="header")
        tables.add_summary_tables(panel)
        panel.btn("refresh", label="Refresh", icon="refresh", on_click=self.on_refresh)
        return types.Property(panel, view=types.GridView(orientation="vertical", gap=2, px=2, py=2))

    def _refresh(self, ctx):
        summary = info.summarize(ctx.view)
        ctx.panel.set_state(
            {
                "dataset": summary["dataset"],
                "num_samples": summary["num_samples"],
                "num_runs": len(summary["runs"]),
                **tables.display_rows(summary),
            }
        )


def _header(state):
    if state.get("dataset") is None:
        return "**LabelLoop**: loading..."
    return (
        f"**LabelLoop on `{state.get('dataset')}`**: "
        f"{state.get('num_samples')} samples in the current view, "
        f"{state.get('num_runs')} LabelLoop runs on the dataset."
    )
