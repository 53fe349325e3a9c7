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
        """Nothing to load: ``render`` summarises the App's current view."""

    def on_change_view(self, ctx):
        """Only makes the App render the panel again, for the new view."""

    def on_change_dataset(self, ctx):
        """Only makes the App render the panel again, for the new dataset."""

    def on_refresh(self, ctx):
        """Only makes the App render the panel again: a person's click, or an operator that finished (see
        ``operators.common.refresh_panels``)."""

    def render(self, ctx):
        """The view's summary, in the rendered output alone: the panel writes no state, which would make the App
        reload its page and drop the sidebar filters (see ``panels.regression``)."""
        summary = info.summarize(ctx.view)
        panel = types.Object()
        panel.md(header(summary), name="header")
        tables.add_summary_tables(panel, tables.display_rows(summary), run_columns=tables.PANEL_RUN_COLUMNS)
        panel.btn("refresh", label="Refresh", icon="refresh", on_click=self.on_refresh)
        return types.Property(panel, view=types.GridView(orientation="vertical", gap=2, px=2, py=2))


def header(summary: dict) -> str:
    """The panel's first line: dataset, samples in the view, runs on the dataset."""
    return (
        f"**LabelLoop on `{summary['dataset']}`**: {summary['num_samples']} samples in the current view, "
        f"{len(summary['runs'])} LabelLoop runs on the dataset."
    )
