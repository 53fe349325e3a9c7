"""Runs reliability cases and measures each: clear error, graceful outcome or crash; labels lost; half-written
fields. The pytest suite and ``benchmarks/reliability.py`` both use it."""

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

import fiftyone as fo

CLEAR, GRACEFUL, CRASH = "clear error", "graceful", "crash"
UNPROTECTED = {"id", "tags", "metadata", "created_at", "last_modified_at"}
_EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(\w*(?:Error|Exception|Fault|Interrupt)\w*): ", re.MULTILINE)


@dataclass
class Outcome:
    """How a case ended: ``outcome`` (clear error, graceful, crash), labels ``lost``, the message the user saw
    and the problems found (why it is a crash)."""

    name: str
    operator: str
    kind: str
    outcome: str
    lost: int
    message: str
    problems: list = field(default_factory=list)
    seconds: float = 0.0

    def describe(self):
        return f"{self.name}: {self.outcome}, {self.lost} lost; " + "; ".join(self.problems or [self.message])


def run_case(case, res):
    """Runs ``case`` with the shared resources ``res``; returns its ``Outcome`` (never raises for the case)."""
    started = time.perf_counter()
    try:
        return _measure(case, res, started)
    finally:
        res.cleanup()


def run_all(cases, res, report=None):
    """The outcomes of ``cases``, in order; ``report(outcome)`` is called after each when given."""
    outcomes = []
    for case in cases:
        outcomes.append(run_case(case, res))
        if report:
            report(outcomes[-1])
    return outcomes


def _measure(case, res, started):
    def outcome(kind, lost=0, message="", problems=()):
        seconds = time.perf_counter() - started
        return Outcome(case.name, case.operator, case.kind, kind, lost, message, list(problems), seconds)

    try:
        target = case.setup(res)
        dataset = target._root_dataset
        before = Snapshot.take(dataset, exclude=case.writes)
    except Exception as error:
        return outcome(CRASH, problems=[f"setup failed: {type(error).__name__}: {error}"])
    res.journal.clear()
    try:
        result, error = case.call(target, res), None
    except Exception as raised:
        result, error = None, raised
    message = excerpt(error) if error is not None else ""
    problems = _error_problems(case, error, message)
    dataset.reload()
    after = Snapshot.take(dataset, exclude=case.writes)
    if error is not None:
        problems += before.leftovers(after, case.partial)
    problems += after.unreadable + after.resurrected(res.journal)
    problems += _verify(case, target, res, error if error is not None else result)
    lost = before.lost(after, res.journal)
    if lost:
        problems.append(f"{lost} labels or values lost or changed")
    kind = CRASH if problems else (CLEAR if error is not None else GRACEFUL)
    return outcome(kind, lost, message, problems)


def _error_problems(case, error, message):
    if case.error is None:
        return [] if error is None else [f"raised {type(error).__name__}: {message}"]
    if error is None:
        return ["no error where one was due"]
    if not isinstance(error, case.error_type):
        return [f"raised {type(error).__name__} instead of {case.error_type.__name__}: {message}"]
    if not re.search(case.error, message):
        return [f"unclear message (expected /{case.error}/): {message}"]
    return []


def _verify(case, target, res, result):
    if case.verify is None:
        return []
    try:
        return list(case.verify(target, res, result))
    except Exception as error:
        return [f"verify failed: {type(error).__name__}: {error}"]


def excerpt(error):
    """The part of an error the user reads: the validation reason (with the parameter), or the last exception
    message of an execution traceback."""
    text = str(error)
    validation = re.search(r"Validation error\. Path: ([\w.]+)\. Reason: (.*)", text, re.DOTALL)
    if validation:
        path, reason = validation.groups()
        return reason.strip() if path.startswith("invalid_input") else f"{path}: {reason.strip()}"
    found = list(_EXCEPTION_LINE.finditer(text))
    return text[found[-1].end() :].strip() if found else text.strip()


class Snapshot:
    """A dataset's protected values (label by label id, other fields by sample id), schema and runs."""

    def __init__(self):
        self.values, self.schema, self.runs, self.brain_runs, self.unreadable = {}, {}, {}, set(), []

    @classmethod
    def take(cls, dataset, exclude=()):
        snapshot = cls()
        snapshot.schema = {name: _type_name(f) for name, f in dataset.get_field_schema(flat=True).items()}
        snapshot.runs = {key: dataset.get_run_info(key).config.status for key in dataset.list_runs()}
        snapshot.brain_runs = set(dataset.list_brain_runs())
        for name in dataset.get_field_schema():
            if name not in UNPROTECTED and name not in exclude:
                try:
                    snapshot.values[name] = fingerprint(dataset, name)
                except Exception as error:
                    snapshot.values[name] = None
                    snapshot.unreadable.append(f"field '{name}' cannot be read: {type(error).__name__}: {error}")
        return snapshot

    def lost(self, after, journal):
        """How many protected labels (or values) are missing or changed in ``after``, and how many labels added
        by other users during the call are."""
        lost = 0
        for name, before in self.values.items():
            now = after.values.get(name) or {}
            lost += sum(_changed(value, now.get(key)) for key, value in before.items() if key not in journal.removed)
        for name, label_id, label in journal.added:
            lost += _changed(_flatten(label), (after.values.get(name) or {}).get(label_id))
        return lost

    def resurrected(self, journal):
        """A problem when labels that other users deleted during the call are back."""
        back = [key for values in self.values.values() for key in values or {} if key in journal.removed]
        return [f"{len(back)} labels other users deleted during the call are back"] if back else []

    def leftovers(self, after, partial=()):
        """What a failed or refused call left behind: new fields, runs not marked failed, new brain runs (fields
        and runs whose names start with one of ``partial`` may stay)."""
        allowed = tuple(partial) + tuple(f"{p}." for p in partial)
        new_fields = sorted(n for n in after.schema if n not in self.schema and not n.startswith(allowed))
        problems = [f"left new fields behind: {', '.join(new_fields)}"] if new_fields else []
        for key, status in after.runs.items():
            if key not in self.runs and status != "failed" and not key.startswith(allowed):
                problems.append(f"left run '{key}' in state '{status}'")
        problems += [f"left brain run '{key}' behind" for key in sorted(after.brain_runs - self.brain_runs)]
        return problems


def fingerprint(dataset, name):
    """``{label id: label}`` of a label field, ``{sample id: value}`` of any other field (values made JSON)."""
    document_type = getattr(dataset.get_field(name), "document_type", None)
    ids, values = dataset.values(["id", name])
    if document_type is None or not issubclass(document_type, fo.Label):
        return {sample_id: {"value": _json(value)} for sample_id, value in zip(ids, values, strict=True)}
    found = {}
    for value in values:
        for label in _labels(value):
            found[label.id] = _flatten(label.to_dict())
    return found


def _labels(value):
    if value is None:
        return []
    list_field = getattr(value, "_LABEL_LIST_FIELD", None)
    return [label for label in value[list_field] or []] if list_field else [value]


def _flatten(label_dict):
    return {key: _json(value) for key, value in label_dict.items()}


def _changed(before, now):
    """Whether a label (a dict of JSON values) lost or changed a value it had; ``now`` None: it is gone."""
    return now is None or any(now.get(key, "null") != value for key, value in before.items())


def _json(value):
    return json.dumps(value, sort_keys=True, default=_default)


def _default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def _type_name(field_):
    document_type = getattr(field_, "document_type", None)
    return type(field_).__name__ + (f"[{document_type.__name__}]" if document_type else "")


# --- tables


def table(outcomes):
    """One row per case: case, operator, outcome, labels lost, message excerpt."""
    rows = [("case", "operator", "kind", "outcome", "lost", "message")]
    for o in outcomes:
        text = "; ".join(o.problems) if o.problems else o.message
        rows.append((o.name, o.operator, o.kind, o.outcome, str(o.lost), _clip(text, 110)))
    return _format(rows)


def summary(outcomes):
    """One row per operator (and the totals): cases, clear errors, graceful outcomes, crashes, labels lost."""
    groups = {}
    for o in outcomes:
        groups.setdefault(o.operator, []).append(o)
    rows = [("operator", "cases", "clear errors", "graceful", "crashes", "lost")]
    rows += [_counts(name, group) for name, group in groups.items()]
    rows.append(_counts("total", outcomes))
    return _format(rows)


def result_line(outcomes):
    counts = Counter(o.outcome for o in outcomes)
    lost = sum(o.lost for o in outcomes)
    return f"RESULT reliability cases={len(outcomes)} clear_errors={counts[CLEAR]} crashes={counts[CRASH]} lost={lost}"


def _counts(name, group):
    counts = Counter(o.outcome for o in group)
    lost = sum(o.lost for o in group)
    return (name, str(len(group)), str(counts[CLEAR]), str(counts[GRACEFUL]), str(counts[CRASH]), str(lost))


def _format(rows):
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])


def _clip(text, width):
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."
