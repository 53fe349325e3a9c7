"""The Model regression panel: what the candidate fixed and broke, per class and sample by sample."""

import os

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.regression import compare as regression
from ..core.regression import report
from ..operators.compare import default_models, label_fields, request

REGRESSION_TAG = "regression"

F = fo.ViewField
PAGE = 15
TRACES = (
    ("fixed", "#2ca02c"),
    ("broken", "#d62728"),
    ("class_flip", "#ff7f0e"),
    ("new_fp", "#9467bd"),
    ("removed_fp", "#17becf"),
)
SETTINGS = ("gt_field", "baseline_field", "candidate_field", "iou", "iou_tolerance", "confidence_tolerance")
REPORTS_DIR = os.environ.get("LABELLOOP_REPORTS_DIR", os.path.expanduser("~/.fiftyone/labelloop/reports"))


class RegressionPanel(foo.Panel):
    """Per-class bars and a ranked table of the worst-regressed samples of a saved comparison, for the App's view."""

    @property
    def config(self):
        return foo.PanelConfig(
            name="labelloop_regression",
            label="Model regression",
            icon="compare_arrows",
            surfaces="grid",
            help_markdown="Run **LabelLoop: Compare models** first. Click a bar to see those objects, a row to open "
            "the sample with both prediction fields.",
        )

    def on_load(self, ctx):
        self._refresh(ctx)

    def on_change_view(self, ctx):
        self._refresh(ctx)

    def on_change_dataset(self, ctx):
        ctx.panel.set_state("comparison", None)
        self._refresh(ctx)

    def on_select_comparison(self, ctx):
        chosen = _event(ctx).get("value")
        match = [c for c in report.comparisons(ctx.dataset) if c["run_key"] == chosen]
        ctx.panel.set_state("comparison", match[0] if match else None)
        self._refresh(ctx)

    def on_page(self, ctx):
        page = max(0, (ctx.panel.state.page or 0) + int(_event(ctx).get("step", 1)))
        ctx.panel.set_state("page", page)
        self._load_rows(ctx, ctx.panel.state.comparison, page)

    def on_click_bar(self, ctx):
        """Filters the grid to the objects of the clicked class and category."""
        event, comparison = _event(ctx), ctx.panel.state.comparison
        label, category = event.get("x"), event.get("trace")
        if not comparison or label is None or category is None:
            return
        ctx.ops.set_view(view=objects_view(ctx.view, comparison, label, category))

    def on_open_row(self, ctx):
        """Opens the clicked sample with the ground truth and both prediction fields visible."""
        rows, comparison = ctx.panel.state.rows or [], ctx.panel.state.comparison
        index = _event(ctx).get("row")
        if comparison and index is not None and 0 <= int(index) < len(rows):
            fields = [comparison[f] for f in ("gt_field", "baseline_field", "candidate_field")]
            ctx.ops.set_active_fields(fields=fields)
            ctx.ops.open_sample(id=rows[int(index)]["id"])

    def on_show_regressed(self, ctx):
        key = ctx.panel.state.comparison["key"]
        ctx.ops.set_view(view=ctx.view.match(F(f"{key}_score") > 0).sort_by(f"{key}_score", reverse=True))

    def on_tag(self, ctx):
        key = ctx.panel.state.comparison["key"]
        regressed = ctx.view.match(F(f"{key}_score") > 0)
        regressed.tag_samples(REGRESSION_TAG)
        ctx.ops.notify(f"Tagged {len(regressed)} regressed samples '{REGRESSION_TAG}'", variant="success")
        ctx.ops.reload_samples()

    def on_send_to_cvat(self, ctx):
        """Tags the regressed samples and opens the send_to_cvat form for them, pre-populated from the candidate."""
        self.on_tag(ctx)
        comparison = ctx.panel.state.comparison
        params = {
            "tag": REGRESSION_TAG,
            "gt_field": comparison["gt_field"],
            "pred_field": comparison["candidate_field"],
        }
        ctx.prompt("@labelloop/mlops/send_to_cvat", params=params)

    def on_compare(self, ctx):
        """Runs a new comparison with the settings picked in the panel, on the current view."""
        state = ctx.panel.state
        settings = {**default_settings(ctx.dataset, state.comparison), **(state.fields or {}), **(state.numbers or {})}
        problems = regression.check(ctx.view, request(settings))
        if problems:
            ctx.ops.notify(" ".join(problems), variant="error")
            return
        result = regression.compare(ctx.view, request(settings))
        ctx.panel.set_state(
            "comparison", next(c for c in report.comparisons(ctx.dataset) if c["run_key"] == result["run_key"])
        )
        ctx.ops.reload_dataset()
        self._refresh(ctx)

    def on_export(self, ctx):
        path = export_report(ctx.view, ctx.panel.state.comparison)
        ctx.panel.set_state("exported", path)
        ctx.ops.notify(f"Report written to {path}", variant="success")

    def render(self, ctx):
        panel = types.Object()
        state = ctx.panel.state
        comparison = state.comparison
        _settings_form(panel, ctx, self.on_compare)
        if not comparison:
            panel.md("**No model comparison yet.** Pick the fields above and press *Compare*.", name="empty")
            return types.Property(panel, view=types.GridView(orientation="vertical", px=2, py=2))
        _comparison_picker(panel, state, self.on_select_comparison)
        panel.md(headline(comparison, state.summary or {}), name="headline")
        panel.plot(
            "per_class",
            data=bar_traces(state.summary or {}),
            layout=BAR_LAYOUT,
            on_click=self.on_click_bar,
            config={"displayModeBar": False},
            height=40,
        )
        table = types.TableView()
        for key, label in (("score", "Score"), ("broken", "Broken"), ("fixed", "Fixed"), ("name", "Sample")):
            table.add_column(key, label=label)
        table.add_row_action("open", on_click=self.on_open_row, label="Open", icon="open_in_new")
        panel.list("rows", types.Object(), view=table, label=f"Worst-regressed samples (page {(state.page or 0) + 1})")
        buttons = panel.h_stack("actions", gap=1)
        buttons.btn("prev", label="Previous", on_click=self.on_page, params={"step": -1})
        buttons.btn("next", label="Next", on_click=self.on_page, params={"step": 1})
        buttons.btn("show", label="Show regressed samples", on_click=self.on_show_regressed)
        buttons.btn("tag", label=f"Tag as '{REGRESSION_TAG}'", on_click=self.on_tag)
        buttons.btn("cvat", label="Send regressed to CVAT", on_click=self.on_send_to_cvat)
        buttons.btn("export", label="Export report", on_click=self.on_export)
        return types.Property(panel, view=types.GridView(orientation="vertical", gap=2, px=2, py=2))

    def _refresh(self, ctx):
        saved = report.comparisons(ctx.dataset)
        current = ctx.panel.state.comparison
        comparison = next((c for c in saved if current and c["run_key"] == current["run_key"]), None)
        comparison = comparison or (saved[0] if saved else None)
        ctx.panel.set_state(
            {
                "comparison": comparison,
                "choices": [{"value": c["run_key"], "label": _choice_label(c)} for c in saved],
                "summary": summary_for(ctx.view, comparison) if comparison else None,
                "page": 0,
            }
        )
        if comparison:
            self._load_rows(ctx, comparison, 0)

    def _load_rows(self, ctx, comparison, page):
        rows = report.top_regressions(ctx.view, comparison["key"], limit=PAGE, skip=page * PAGE)
        ctx.panel.set_state("rows", [{**row, "name": os.path.basename(row["filepath"])} for row in rows])


BAR_LAYOUT = {
    "barmode": "group",
    "title": {"text": "Per class: fixed vs broken (click a bar to see those objects)"},
    "height": 300,
    "margin": {"t": 40, "b": 40, "l": 40, "r": 10},
    "legend": {"orientation": "h"},
}


def summary_for(samples, comparison):
    """The comparison's counts for ``samples``: saved with the run for the whole dataset, aggregated for a view."""
    if isinstance(samples, fo.Dataset) or not samples._stages:
        saved = samples._root_dataset.get_run_info(comparison["run_key"]).config.counts
        if saved.get("samples") == len(samples._root_dataset):
            return saved
    return report.summarize(samples, comparison)


def bar_traces(summary):
    """Plotly bar traces, one per category, over the classes."""
    classes = sorted(summary.get("per_class", {}))
    return [
        {
            "type": "bar",
            "name": category,
            "x": classes,
            "marker": {"color": colour},
            "y": [summary["per_class"][c].get(category, 0) for c in classes],
        }
        for category, colour in TRACES
    ]


def headline(comparison, summary):
    """One line: which models, how many samples, fixed vs broken."""
    broken, fixed = report.broken_fixed(summary.get("overall", {}))
    overall = summary.get("overall", {})
    return (
        f"**`{comparison['candidate_field']}`** vs **`{comparison['baseline_field']}`** on "
        f"`{comparison['gt_field']}` — {summary.get('samples', 0)} samples, "
        f"{summary.get('regressed_samples', 0)} regressed. **Fixed {fixed}**, **broken {broken}** "
        f"(class flips {overall.get('class_flip', 0)}), new false positives {overall.get('new_fp', 0)}, "
        f"removed {overall.get('removed_fp', 0)}."
    )


def objects_view(samples, comparison, label, category):
    """The samples (and, for detections, only the objects) of class ``label`` in ``category``."""
    key, gt = comparison["key"], comparison["gt_field"]
    if samples._root_dataset.get_field(gt).document_type is fo.Classification:
        return samples.match((F(f"{gt}.label") == label) & (F(key) == category))
    field = {"new_fp": comparison["candidate_field"], "removed_fp": comparison["baseline_field"]}.get(category, gt)
    return samples.filter_labels(field, (F("label") == label) & (F(key) == category))


def export_report(samples, comparison, directory=None):
    """Writes the Markdown and JSON reports of ``comparison`` for ``samples``; returns the Markdown path."""
    import json

    directory = directory or REPORTS_DIR
    os.makedirs(directory, exist_ok=True)
    summary = report.summarize(samples, comparison)
    data = report.report(summary, comparison, [], report.top_regressions(samples, comparison["key"], limit=50))
    stem = os.path.join(directory, f"{samples._root_dataset.name}-{comparison['key']}")
    with open(stem + ".json", "w") as f:
        json.dump(data, f, indent=2, default=str)
    with open(stem + ".md", "w") as f:
        f.write(report.markdown(data))
    return stem + ".md"


def _settings_form(panel, ctx, on_compare):
    """Fields, IoU and tolerances of a new comparison (defaults: the shown comparison, or the latest runs)."""
    defaults = default_settings(ctx.dataset, ctx.panel.state.comparison)
    fields = panel.h_stack("fields", gap=1)
    for name, label in (("gt_field", "Ground truth"), ("baseline_field", "Baseline"), ("candidate_field", "Candidate")):
        choices = types.Dropdown(label=label)
        for field in label_fields(ctx.dataset):
            choices.add_choice(field, label=field)
        fields.str(name, view=choices, default=defaults[name])
    numbers = panel.h_stack("numbers", gap=1, align_y="bottom")
    for name, label in (("iou", "IoU"), ("iou_tolerance", "IoU tolerance"), ("confidence_tolerance", "Conf. tol.")):
        numbers.float(name, default=defaults[name], label=label)
    numbers.str("key", default=defaults["key"], label="Key")
    numbers.btn("compare", label="Compare", variant="contained", on_click=on_compare)


def default_settings(dataset, comparison=None):
    """The settings a new comparison starts from: those of ``comparison``, else the two latest pre-labelling runs'
    fields with IoU 0.5."""
    if comparison:
        return {name: comparison[name] for name in (*SETTINGS, "key")}
    fields = label_fields(dataset)
    baseline, candidate = default_models(dataset)
    gt = "ground_truth" if "ground_truth" in fields else None
    return {
        "gt_field": gt,
        "baseline_field": baseline,
        "candidate_field": candidate,
        "iou": 0.5,
        "iou_tolerance": 0.1,
        "confidence_tolerance": 0.2,
        "key": "compare",
    }


def _comparison_picker(panel, state, on_change):
    if len(state.choices or []) > 1:
        choices = types.Dropdown(label="Comparison")
        for choice in state.choices:
            choices.add_choice(choice["value"], label=choice["label"])
        panel.str("picked", view=choices, default=state.comparison["run_key"], on_change=on_change)


def _choice_label(comparison):
    return f"{comparison['key']}: {comparison['candidate_field']} vs {comparison['baseline_field']}"


def _event(ctx):
    return {**(getattr(ctx, "event_args", None) or {}), **ctx.params.get("event_args", {}), **ctx.params}
