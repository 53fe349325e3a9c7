"""Bad input of the operators that manage what others wrote: ``manage_runs`` and ``finish_cvat_review``."""

from .registry import BAD_INPUT, WRONG_TYPE, Case, register
from .resources import digits, sdk, shapes


def _review_not_loaded(target, res):
    from .cvat_cases import cvat, send
    from .resources import operator

    with cvat(res):
        sent = send(target)
        return operator("finish_cvat_review")(target._root_dataset, review=sent["run_key"])


def _first(count):
    return lambda res: shapes(res).limit(count)


register(
    Case(
        "manage_runs_unknown_run", "manage_runs", BAD_INPUT, digits, sdk("manage_runs", "delete", "nope"), r"No Label"
    ),
    Case(
        "manage_runs_unknown_action", "manage_runs", BAD_INPUT, digits, sdk("manage_runs", "purge"), r"Unknown action"
    ),
    Case(
        "manage_runs_run_key_wrong_type",
        "manage_runs",
        WRONG_TYPE,
        digits,
        sdk("manage_runs", "delete", 42),
        r"run_key: Invalid value type .*: give",
    ),
    Case(
        "finish_review_none_sent",
        "finish_cvat_review",
        BAD_INPUT,
        digits,
        sdk("finish_cvat_review", review="nope"),
        r"no review with loaded corrections",
    ),
    Case(
        "finish_review_not_loaded",
        "finish_cvat_review",
        BAD_INPUT,
        _first(1),
        _review_not_loaded,
        r"no review with loaded corrections",
        partial=("ground_truth_cvat_", "cvat_"),
    ),
    Case(
        "finish_review_unknown_action",
        "finish_cvat_review",
        BAD_INPUT,
        digits,
        sdk("finish_cvat_review", action="keep"),
        r"no review with loaded corrections|Action must be one of",
    ),
)
