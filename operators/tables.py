"""Table views of ``core.store.info`` summaries, shared by operator outputs and panels."""

import os
import re

from fiftyone.operators import types

LABEL_FIELD_COLUMNS = (
    ("name", "Field"),
    ("type", "Label type"),
    ("num_labels", "Labels"),
    ("written_by", "Written by"),
)
RUN_COLUMNS = (
    ("key", "Run"),
    ("kind", "Kind"),
    ("status", "Status"),
    ("user", "User"),
    ("host", "Host"),
    ("started_at", "Started (UTC)"),
    ("model", "Model"),
    ("fields", "Fields"),
    ("counts", "Counts"),
)
PANEL_RUN_COLUMNS = (
    ("key", "Run"),
    ("status", "Status"),
    ("user", "User"),
    ("started_at", "Started (UTC)"),
    ("model", "Model"),
)
"""The runs table of a panel, which shares the App's width with the grid: the rest is in the run's record."""


def table(columns):
    """A TableView with the given ``(key, label)`` columns."""
    view = types.TableView()
    for key, label in columns:
        view.add_column(key, label=label)
    return view


def add_summary_tables(obj: types.Object, rows: dict | None = None, run_columns=RUN_COLUMNS) -> None:
    """Adds the tables of ``display_rows`` to the ``types.Object`` ``obj``, showing ``rows`` (``display_rows``'
    result) when given, else the values of the output they are in; the runs table has ``run_columns``."""
    rows = rows or {}
    for name, label, columns in (
        ("label_field_rows", "Label fields", LABEL_FIELD_COLUMNS),
        ("run_rows", "LabelLoop runs", run_columns),
    ):
        obj.list(name, types.Object(), label=label, view=table(columns), default=rows.get(name))


def display_rows(summary):
    """The summary's tables as rows of strings and numbers, ready for a TableView."""
    return {
        "label_field_rows": [{**f, "written_by": ", ".join(f["written_by"])} for f in summary["label_fields"]],
        "run_rows": run_rows(summary["runs"]),
    }


def run_rows(records):
    """Run records as table rows; the fields a run created are marked "(new)"."""
    return [_run_row(record) for record in records]


def counts_cell(counts: dict) -> str:
    """A run's counts as one short line ("written=120, labels=240"): its numbers and words, with the numbers of a
    nested ``overall`` dict (a comparison's); per-class and other nested tables stay in the run's record."""
    flat = {**{k: v for k, v in counts.items() if not isinstance(v, dict | list)}, **counts.get("overall", {})}
    return ", ".join(f"{k}={v}" for k, v in flat.items())


def _run_row(run):
    counts = counts_cell(run["counts"] or {})
    created = set(run.get("created_fields") or [])
    fields = ", ".join(f"{name} (new)" if name in created else name for name in run["fields"] or [])
    row = {key: run.get(key) for key, _ in RUN_COLUMNS}
    started = (run.get("started_at") or "")[:19].replace("T", " ")  # to the second, on one line
    model = short_model(run.get("model") or "")
    return {**row, "model": model, "fields": fields, "counts": counts, "started_at": started}


def short_model(model: str) -> str:
    """A run's model as a table cell: each model's name and revision, without its source and directory
    ("baseline: hf:/data/models/vit@bb92eaaffcfe | ..." -> "baseline: vit@bb92eaaf | ..."); the run's record keeps
    the full identity."""
    return " | ".join(_short(part) for part in model.split(" | ")) if model else ""


def _short(model: str) -> str:
    role, _, identity = model.rpartition(": ")
    name, _, revision = re.sub(r"^(hf|zoo):", "", identity).partition("@")
    short = os.path.basename(name.rstrip("/")) + (f"@{revision[:8]}" if revision else "")
    return f"{role}: {short}" if role else short
