"""The Model regression panel: what the candidate fixed and broke, per class and sample by sample.

``render`` shows everything for the App's current view, and only a person's clicks write the panel's state: the App
keeps panel state in its workspace, and a workspace change makes it reload the page, which drops the sidebar filters
(FiftyOne 1.22). The hooks of the App's changes therefore only let ``render`` run again.
"""

import base64
import math
import os

import fiftyone.operators as foo
from fiftyone.operators import types

from ..core.regression import compare as regression
from ..core.regression import defaults, metrics, report, semantic
from ..operators.common import user

REGRESSION_TAG = "regression"
COMPARE_MODELS = "@labelloop/mlops/compare_models"

PAGE = 15
COLOURS = {
    "fixed": "#2ca02c",
    "broken": "#d62728",
    "class_flip": "#ff7f0e",
    "new_fp": "#9467bd",
    "removed_fp": "#17becf",
    "wrong_to_wrong": "#7f7f7f",
}


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
        """Nothing to load: ``render`` reads the comparison for the App's current view."""

    def on_change_view(self, ctx):
        """Only makes the App render the panel again, for the new view (see ``render``)."""

    def on_change_dataset(self, ctx):
        """Only makes the App render the panel again, for the new dataset."""

    def on_refresh(self, ctx):
        """Only makes the App render the panel again: an operator finished (see ``operators.common.refresh_panels``)."""

    def on_select_comparison(self, ctx):
        self._pick(ctx, _event(ctx).get("value"))

    def on_page(self, ctx):
        """Shows the next (or previous, ``step`` -1) page of the worst-regressed samples, never past either end."""
        summary = report.summary_for(ctx.view, shown_comparison(ctx))
        page = shown_page(ctx, summary) + int(_event(ctx).get("step", 1))
        ctx.panel.set_state("page", min(max(0, page), pages(summary) - 1))

    def on_click_bar(self, ctx):
        """Filters the grid to the objects of the clicked class and category. The class is the bar's id, the class
        name as stored: plotly may turn an x value that looks like a number into one."""
        event, comparison = _event(ctx), shown_comparison(ctx)
        label, category = event.get("id"), event.get("trace")
        if not comparison or label is None or category is None:
            return
        ctx.ops.set_view(view=report.objects_view(ctx.view, comparison, label, category))

    def on_click_transition(self, ctx):
        """Shows the samples of the clicked cell of the transition matrix (baseline class -> candidate class)."""
        event, comparison = _event(ctx), shown_comparison(ctx)
        summary = report.summary_for(ctx.view, comparison) if comparison else {}
        classes = transition_classes(summary)
        baseline, candidate = (_class_named(event.get(axis), classes) for axis in ("y", "x"))
        if baseline is not None and candidate is not None:
            ctx.ops.set_view(view=report.transition_view(ctx.view, comparison, baseline, candidate))

    def on_open_row(self, ctx):
        """Opens the clicked sample with the ground truth and both prediction fields visible, and the objects the
        candidate changed selected (highlighted)."""
        comparison, index = shown_comparison(ctx), _event(ctx).get("row")
        if not comparison or index is None or int(index) < 0:
            return
        rows = _page(ctx.view, comparison, shown_page(ctx, report.summary_for(ctx.view, comparison)))
        if int(index) < len(rows):
            sample_id = rows[int(index)]["id"]
            ctx.ops.set_active_fields(fields=[comparison[f] for f in defaults.COMPARED_FIELDS])
            ctx.ops.set_selected_labels(report.changed_labels(ctx.view, comparison, sample_id))
            ctx.ops.open_sample(id=sample_id)

    def on_show_regressed(self, ctx):
        ctx.ops.set_view(view=report.regressed(ctx.view, shown_comparison(ctx)["key"]))

    def on_tag(self, ctx):
        """Tags the regressed samples of the view (a run recorded with the App user)."""
        key = shown_comparison(ctx)["key"]
        tagged = report.tag_regressed(ctx.view, key, REGRESSION_TAG, user=user(ctx))["tagged"]
        ctx.ops.notify(f"Tagged {tagged} regressed samples '{REGRESSION_TAG}'", variant="success")
        ctx.ops.reload_samples()

    def on_send_to_cvat(self, ctx):
        """Opens the send_to_cvat form for the regressed samples, pre-populated from the candidate: nothing is
        written before the person executes it."""
        comparison = shown_comparison(ctx)
        params = {
            "regressed_in": comparison["key"],
            "gt_field": comparison["gt_field"],
            "pred_field": comparison["candidate_field"],
        }
        ctx.prompt("@labelloop/mlops/send_to_cvat", params=params)

    def on_compare(self, ctx):
        """Starts ``compare_models`` on the current view with the settings picked in the panel (refused here with a
        notification when they are wrong); ``on_compared`` shows the new comparison when it succeeds."""
        state = ctx.panel.state
        picked = {**(state.fields or {}), **(state.numbers or {})}
        settings = {**defaults.default_settings(ctx.dataset, shown_comparison(ctx)), **picked}
        params = {name: settings[name] for name in defaults.SETTINGS}
        problems = regression.check(ctx.view, regression.CompareRequest.from_params(params))
        if problems:
            ctx.ops.notify(" ".join(problems), variant="error")
            return
        ctx.prompt(COMPARE_MODELS, params=params, on_success=self.on_compared, skip_prompt=True)

    def on_compared(self, ctx):
        """Shows the comparison ``compare_models`` just saved (its result's run key)."""
        self._pick(ctx, (_event(ctx).get("result") or {}).get("run_key"))

    def on_export(self, ctx):
        """Has the browser download the report of the shown comparison for the App's view (Markdown and JSON)."""
        files = report.export_files(ctx.view, shown_comparison(ctx))
        for name, media_type, text in files:
            ctx.ops.browser_download(url=data_url(text, media_type), filename=name)
        ctx.ops.notify(f"Report downloaded: {', '.join(name for name, _, _ in files)}", variant="success")

    def render(self, ctx):
        """Everything the panel shows, for the App's current view: view changes write no panel state (see the
        module's docstring)."""
        panel = types.Object()
        saved = report.comparisons(ctx.dataset)
        comparison = _shown(saved, ctx.panel.state.picked)
        _settings_form(panel, ctx, comparison, self.on_compare)
        if not comparison:
            panel.md("**No model comparison yet.** Pick the fields above and press *Compare*.", name="empty")
            return types.Property(panel, view=types.GridView(orientation="vertical", px=2, py=2))
        _comparison_picker(panel, saved, comparison, self.on_select_comparison)
        summary = report.summary_for(ctx.view, comparison)
        panel.md(headline(comparison, summary), name="headline")
        numbers = metrics.model_metrics(summary)
        _metrics_table(panel, numbers["overall"], summary.get("kind"))
        plot = {"data": bar_traces(summary), "layout": bar_layout(summary), "config": {"displayModeBar": False}}
        panel.plot("per_class", on_click=self.on_click_bar, **plot)
        _per_class_table(panel, numbers["per_class"])
        if summary.get("transitions"):
            plot = {"data": [transition_trace(summary)], "layout": MATRIX_LAYOUT, "config": {"displayModeBar": False}}
            panel.plot("transitions", on_click=self.on_click_transition, **plot)
        page, last = shown_page(ctx, summary), pages(summary) - 1
        self._add_rows(panel, ctx, comparison, page, last)
        buttons = panel.h_stack("actions", gap=1)
        buttons.btn("prev", label="Previous", on_click=self.on_page, params={"step": -1}, disabled=page == 0)
        buttons.btn("next", label="Next", on_click=self.on_page, params={"step": 1}, disabled=page == last)
        buttons.btn("show", label="Show regressed samples", on_click=self.on_show_regressed)
        buttons.btn("tag", label=f"Tag as '{REGRESSION_TAG}'", on_click=self.on_tag)
        buttons.btn("cvat", label="Send regressed to CVAT", on_click=self.on_send_to_cvat)
        buttons.btn("export", label="Export report", on_click=self.on_export)
        return types.Property(panel, view=types.GridView(orientation="vertical", gap=2, px=2, py=2))

    def _add_rows(self, panel, ctx, comparison, page, last):
        """The table of page ``page`` (of ``last`` + 1) of worst-regressed samples, each with an Open action."""
        table = types.TableView()
        for key, label in (("score", "Score"), ("broken", "Broken"), ("fixed", "Fixed"), ("name", "Sample")):
            table.add_column(key, label=label)
        table.add_row_action("open", on_click=self.on_open_row, label="Open", icon="open_in_new")
        rows = [{**row, "name": os.path.basename(row["filepath"])} for row in _page(ctx.view, comparison, page)]
        label = f"Worst-regressed samples (page {page + 1}) of {last + 1} page{'s' if last else ''}"
        panel.list("rows", types.Object(), view=table, default=rows, label=label)

    def _pick(self, ctx, run_key):
        """Shows comparison ``run_key`` from now on (the newest, whichever it is, when it is the newest), page 1."""
        saved = report.comparisons(ctx.dataset)
        newest = saved[0]["run_key"] if saved else None
        ctx.panel.set_state({"picked": None if run_key == newest else run_key, "page": 0})


BAR_LAYOUT = {
    "barmode": "group",
    "title": {"text": "Per class: fixed vs broken (click a bar to see those objects)"},
    "height": 340,
    "margin": {"t": 40, "b": 40, "l": 40, "r": 10},
    "showlegend": True,
    "legend": {"orientation": "h", "x": 0, "y": -0.2, "title": {"text": "click a bar:"}},
    "bargap": 0.15,
    "bargroupgap": 0.05,
    "xaxis": {"type": "category", "title": {"text": "class"}},
}


PIXELS_TITLE = "Per class: fixed vs broken pixels (click a bar to see those samples)"


def bar_layout(summary: dict) -> dict:
    """The bar chart's layout: a semantic-mask comparison counts pixels, and a bar shows samples."""
    if summary.get("kind") != semantic.SUMMARY_KIND:
        return BAR_LAYOUT
    return {**BAR_LAYOUT, "title": {"text": PIXELS_TITLE}, "yaxis": {"title": {"text": "pixels"}}}


MATRIX_LAYOUT = {
    "title": {"text": "Baseline class -> candidate class (samples; click a cell to see them)"},
    "height": 380,
    "margin": {"t": 40, "b": 50, "l": 70, "r": 10},
    "xaxis": {"type": "category", "title": {"text": "candidate"}},
    "yaxis": {"type": "category", "title": {"text": "baseline"}, "autorange": "reversed"},
}
MODEL_ROWS = {
    "classification": (("accuracy", "Accuracy"), ("precision", "Precision"), ("recall", "Recall"), ("f1", "F1")),
    "detections": (
        ("precision", "Precision"),
        ("recall", "Recall"),
        ("f1", "F1"),
        ("tp", "True positives"),
        ("fp", "False positives"),
        ("fn", "False negatives"),
    ),
}
"""The rows of the models table by kind of comparison (FiftyOne's ``metrics()`` names; micro averages)."""


def _metrics_table(panel, overall: dict, kind: str | None) -> None:
    """Both models' numbers and the change, as FiftyOne's evaluation gives them, for the view."""
    table = types.TableView()
    for key, label in (
        ("metric", "Metric"),
        ("baseline", "Baseline"),
        ("candidate", "Candidate"),
        ("change", "Change"),
    ):
        table.add_column(key, label=label)
    rows = [
        _metric_row(label, overall["baseline"][key], overall["candidate"][key])
        for key, label in MODEL_ROWS.get(kind, MODEL_ROWS["detections"])
    ]
    panel.list("models", types.Object(), view=table, default=rows, label="Models (FiftyOne's evaluation numbers)")


def _per_class_table(panel, per_class: dict) -> None:
    """Per class: support, and each model's precision, recall and F1 with the change of F1."""
    table = types.TableView()
    columns = (("class", "Class"), ("support", "Support"), ("precision", "Precision"), ("recall", "Recall"))
    for key, label in (*columns, ("f1", "F1"), ("change", "F1 change")):
        table.add_column(key, label=label)
    rows = []
    for label, models in sorted(per_class.items()):
        base, cand = models["baseline"], models["candidate"]
        row = {"class": label, "support": str(base["support"]), "change": _change(base["f1"], cand["f1"])}
        row.update({k: f"{_number(base[k])} -> {_number(cand[k])}" for k in ("precision", "recall", "f1")})
        rows.append(row)
    panel.list("classes", types.Object(), view=table, default=rows, label="Per class (baseline -> candidate)")


def _metric_row(label: str, base: float, cand: float) -> dict:
    return {"metric": label, "baseline": _number(base), "candidate": _number(cand), "change": _change(base, cand)}


def _number(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def _change(base: float, cand: float) -> str:
    return f"{cand - base:+d}" if isinstance(base, int) else f"{cand - base:+.3f}"


def transition_classes(summary: dict) -> list[str]:
    """The classes of a classification comparison's transition matrix, in order."""
    transitions = summary.get("transitions", {})
    return sorted(set(transitions) | {c for row in transitions.values() for c in row})


def transition_trace(summary: dict) -> dict:
    """The heatmap of how many samples went from each baseline class to each candidate class."""
    classes, transitions = transition_classes(summary), summary["transitions"]
    z = [[transitions.get(b, {}).get(c, 0) for c in classes] for b in classes]
    return {"type": "heatmap", "x": classes, "y": classes, "z": z, "colorscale": "Blues", "texttemplate": "%{z}"}


def _class_named(value, classes: list[str]) -> str | None:
    """The class a clicked axis value stands for: plotly may give a class name that looks like a number as one."""
    if value is None:
        return None
    return str(value) if str(value) in classes else next((c for c in classes if _same_number(c, value)), None)


def _same_number(name: str, value) -> bool:
    try:
        return float(name) == float(value)
    except (TypeError, ValueError):
        return False


def data_url(text: str, media_type: str) -> str:
    """``text`` as a data URL the browser downloads as it is (no file is written on the server)."""
    return f"data:{media_type};charset=utf-8;base64,{base64.b64encode(text.encode()).decode()}"


def bar_traces(summary):
    """Plotly bar traces, one per category the comparison's kind can have, over the classes."""
    classes = sorted(summary.get("per_class", {}))
    return [
        {
            "type": "bar",
            "name": category,
            "x": classes,
            "ids": classes,
            "marker": {"color": COLOURS[category]},
            "y": [summary["per_class"][c].get(category, 0) for c in classes],
        }
        for category in report.charted(summary)
    ]


def headline(comparison: dict, summary: dict) -> str:
    """One line: which models, how many samples, fixed vs broken, and what is reported apart from them."""
    broken, fixed = report.broken_fixed(summary.get("overall", {}))
    unit = " pixels" if summary.get("kind") == semantic.SUMMARY_KIND else ""
    return (
        f"**`{comparison['candidate_field']}`** vs **`{comparison['baseline_field']}`** on "
        f"`{comparison['gt_field']}` — {summary.get('samples', 0)} samples, "
        f"{summary.get('regressed_samples', 0)} regressed. "
        f"**Fixed {fixed}{unit}**, **broken {broken}{unit}**{_apart(summary)}."
    )


def _apart(summary):
    """The headline's end: for classifications the samples neither fixed nor broken, else the false positives."""
    overall = summary.get("overall", {})
    if summary.get("kind") == "classification":
        return (
            f"; {overall.get('wrong_to_wrong', 0)} wrong before and after (not broken), "
            f"{overall.get('no_ground_truth', 0)} without ground truth (not judged)"
        )
    if summary.get("kind") == semantic.SUMMARY_KIND:
        return f"; new false positives {overall.get('new_fp', 0)} pixels, removed {overall.get('removed_fp', 0)} pixels"
    return (
        f" (class flips {overall.get('class_flip', 0)}), new false positives {overall.get('new_fp', 0)}, "
        f"removed {overall.get('removed_fp', 0)}"
    )


def pages(summary: dict) -> int:
    """How many pages the worst-regressed samples of ``summary`` take (at least one, maybe empty)."""
    return max(1, math.ceil(summary.get("regressed_samples", 0) / PAGE))


def shown_page(ctx, summary: dict) -> int:
    """The page the panel shows: the person's, or the first when the view has shrunk below it."""
    page = ctx.panel.state.page or 0
    return page if page < pages(summary) else 0


def shown_comparison(ctx) -> dict | None:
    """The comparison the panel shows: the one the person picked while it is saved, else the newest."""
    return _shown(report.comparisons(ctx.dataset), ctx.panel.state.picked)


def _page(samples, comparison, page):
    return report.top_regressions(samples, comparison["key"], limit=PAGE, skip=page * PAGE)


def _settings_form(panel, ctx, comparison, on_compare):
    """Fields, IoU and tolerances of a new comparison (defaults: the shown comparison, or the latest runs)."""
    start = defaults.default_settings(ctx.dataset, comparison)
    label_fields = defaults.label_fields(ctx.dataset)
    fields = panel.h_stack("fields", gap=1)
    for name, label in (("gt_field", "Ground truth"), ("baseline_field", "Baseline"), ("candidate_field", "Candidate")):
        choices = types.Dropdown(label=label)
        for field in label_fields:
            choices.add_choice(field, label=field)
        fields.str(name, view=choices, default=start[name])
    numbers = panel.h_stack("numbers", gap=1, align_y="bottom")
    for name, label in (("iou", "IoU"), ("iou_tolerance", "IoU tolerance"), ("confidence_tolerance", "Conf. tol.")):
        numbers.float(name, default=start[name], label=label)
    numbers.str("key", default=start["key"], label="Key")
    numbers.btn("compare", label="Compare", variant="contained", on_click=on_compare)
    replaced = defaults.replaced(ctx.dataset, (ctx.panel.state.numbers or {}).get("key") or start["key"])
    if replaced:
        panel.view("replaces", types.Warning(label=replaced))


def _comparison_picker(panel, saved, comparison, on_change):
    if len(saved) > 1:
        choices = types.Dropdown(label="Comparison")
        for choice in saved:
            choices.add_choice(choice["run_key"], label=_choice_label(choice))
        # named after the shown run: a value the App kept in the panel's state for another property never
        # overrides (a blank or stale choice after a new comparison); on_change reads the event's value
        panel.str(f"picked_{comparison['run_key']}", view=choices, default=comparison["run_key"], on_change=on_change)


def _shown(saved, picked):
    """The comparison of ``saved`` (newest first) to show: run ``picked`` while it is saved, else the newest."""
    kept = next((c for c in saved if c["run_key"] == picked), None)
    return kept or (saved[0] if saved else None)


def _choice_label(comparison):
    return f"{comparison['key']}: {comparison['candidate_field']} vs {comparison['baseline_field']}"


def _event(ctx):
    return {**(getattr(ctx, "event_args", None) or {}), **ctx.params.get("event_args", {}), **ctx.params}
