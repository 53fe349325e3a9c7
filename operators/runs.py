"""``manage_runs``: list the suite's runs on the dataset, or delete one together with exactly what it wrote."""

from typing import Literal

import fiftyone as fo
from fiftyone.operators import types

from ..core.store import admin as run_admin
from . import common, tables

LIST, DELETE = "list", "delete"
PARAM_TYPES = {"action": common.STR, "run_key": common.STR}


class ManageRuns(common.DatasetOperator):
    """Lists LabelLoop runs (who, where, when, model, fields, counts) and deletes a run with the data it wrote.

    Before a deletion, the form shows what it will remove: the fields and labels the run wrote, never others'.
    """

    name = "manage_runs"
    label = "Manage runs"
    description = "List LabelLoop runs, or delete one with the fields and labels it wrote"
    param_types = PARAM_TYPES

    def form(self, ctx, inputs, view, well_typed):
        action = ctx.params.get("action") or LIST
        common.choice(inputs, "action", [LIST, DELETE], LIST, "Action")
        if action not in (LIST, DELETE):
            common.block(inputs, f"Unknown action '{action}': choose '{LIST}' or '{DELETE}'.")
        elif action == DELETE and well_typed:
            _add_deletion_inputs(ctx, inputs)

    def execute(self, ctx):
        if ctx.params.get("action") == DELETE:
            result = run_admin.delete_run(ctx.dataset, ctx.params["run_key"], user=common.user(ctx))
            return common.finished(ctx, result)
        records = run_admin.list_runs(ctx.dataset)
        return {"runs": records, "run_rows": tables.run_rows(records)}

    def resolve_output(self, ctx):
        outputs = types.Object()
        if ctx.params.get("action") == DELETE:
            outputs.str("run_key", label="Deleted run")
            outputs.list("deleted_fields", types.String(), label="Deleted fields")
            outputs.int("removed_labels", label="Labels removed")
        else:
            outputs.list("run_rows", types.Object(), label="LabelLoop runs", view=tables.table(tables.RUN_COLUMNS))
        return types.Property(outputs, view=types.View(label="LabelLoop runs"))

    def __call__(
        self,
        sample_collection: fo.core.collections.SampleCollection,
        action: Literal["list", "delete"] = LIST,
        run_key: str | None = None,
        delegate: bool = False,
    ) -> dict | None:
        """Lists the suite's runs on a dataset, or deletes one run together with exactly the fields and labels it
        wrote (never others').

        Args:
            sample_collection: a dataset, or a view of it: the runs are those of its dataset
            action: ``"list"`` or ``"delete"`` (default: ``"list"``)
            run_key: with ``action="delete"``, the key of the run to delete (default: None)
            delegate: whether to queue a delegated operation instead of running now (default: False)

        Returns:
            for ``"list"``, a dict with the ``runs`` (records, newest first) and the same as table rows
            (``run_rows``); for ``"delete"``, the deleted ``run_key``, its ``deleted_fields`` and the number of
            ``removed_labels``; None when delegated
        """
        params = {"action": action, "run_key": run_key}
        return common.execute_from_sdk(self, sample_collection, params, delegate=delegate)


def _add_deletion_inputs(ctx, inputs):
    records = run_admin.list_runs(ctx.dataset)
    runs = types.DropdownView()
    for record in records:
        runs.add_choice(record["key"], label=f"{record['key']} ({record['kind']}, {record['status']})")
    inputs.str("run_key", label="Run to delete", required=True, view=runs)
    if not records:
        common.block(inputs, "There are no LabelLoop runs on this dataset to delete.")
    elif ctx.params.get("run_key"):
        deletion = run_admin.plan_deletion(ctx.dataset, ctx.params["run_key"])
        if not common.block_all(inputs, deletion.problems):
            inputs.view("plan", types.Notice(label=deletion.describe()))
