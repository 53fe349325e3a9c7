"""What every LabelLoop operator shares: its base class (config, form), param type checks, form warnings, progress,
the SDK entry point."""

import asyncio
import contextvars
import difflib
import inspect
import math
import reprlib
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import fiftyone as fo
import fiftyone.operators as foo
from fiftyone.operators import types
from fiftyone.operators.executor import ExecutionOptions

from ..core.store import schema
from .progress import LARGE_VIEW, progress_bar, progress_reporter, streamed  # noqa: F401 (the operators' progress)

PLUGIN = "@labelloop/mlops"
PANELS = ("labelloop_overview", "labelloop_regression")
"""The suite's panels (their names), which ``refresh_panels`` renders again when an operator has finished."""


def operator_config(name, label, description, icon="/assets/icon.svg", distributed=False):
    """An operator config that runs immediately or delegated, the caller's choice (``distributed``: FiftyOne
    Enterprise may split a delegated run into tasks, each on its share of the view)."""
    return foo.OperatorConfig(
        name=name,
        label=f"LabelLoop: {label}",
        description=description,
        icon=icon,
        dynamic=True,
        allow_immediate_execution=True,
        allow_delegated_execution=True,
        default_choice_to_delegated=False,
        allow_distributed_execution=distributed,
        execute_as_generator=True,  # see progress.streamed
    )


class LabelLoopOperator(foo.Operator):
    """What every LabelLoop operator is: its ``config`` from class attributes, and a ``resolve_input`` that checks
    the param types first (so their warnings lead the form), then lets ``form`` add the operator's own inputs.

    A subclass sets ``name``, ``label`` (the App shows "LabelLoop: <label>"), ``description`` and ``param_types``
    ({param: ParamType}, see ``check_types``; none by default), and implements ``form``, ``execute`` and the SDK
    entry point ``__call__`` (through ``execute_from_sdk``). An operator on the whole dataset rather than the
    target view subclasses ``DatasetOperator``.
    """

    name: str
    label: str
    description: str
    param_types: Mapping[str, "ParamType"] = {}
    targets_view = True
    """Whether the form reads ``ctx.target_view()``: FiftyOne then offers the App's target choice (whole dataset,
    current view, selected samples) at the top of the form."""
    long_running = False
    """Whether the work grows with the samples (a model, embeddings, a comparison): on a view of ``LARGE_VIEW``
    samples or more the form then says so and chooses scheduling (delegated execution) by default."""
    distributed = False
    """Whether the work is per sample, so FiftyOne's distributed execution may split a delegated run into tasks,
    each on its share of the target view, recorded as one run (see ``sharding.part``)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "execute" in cls.__dict__:
            cls.execute = streamed(cls.execute)  # progress in the App as the work goes on

    @property
    def config(self):
        return operator_config(self.name, self.label, self.description, distributed=self.distributed)

    @property
    def title(self):
        """The form's title: the label in running text ("LabelLoop: compute uniqueness"); a label that starts with
        an acronym ("CVAT review status") keeps its capitals."""
        acronym = self.label.split()[0].isupper()
        return f"LabelLoop: {self.label if acronym else self.label[:1].lower() + self.label[1:]}"

    def resolve_input(self, ctx):
        inputs = types.Object()
        view = ctx.target_view() if self.targets_view else None
        well_typed = check_types(inputs, ctx.params, self.param_types)
        if self._large(view):
            inputs.view("large_view", types.Notice(label=large_view_notice(len(view))))
        self.form(ctx, inputs, view, well_typed)
        warnings_first(inputs)
        return types.Property(inputs, view=types.View(label=self.title))

    def resolve_execution_options(self, ctx):
        large = self._large(ctx.target_view() if self.targets_view else None)
        return ExecutionOptions(
            allow_delegated_execution=True,
            default_choice_to_delegated=large,
            allow_distributed_execution=self.distributed,
        )

    def _large(self, view) -> bool:
        return self.long_running and view is not None and len(view) >= LARGE_VIEW

    def form(self, ctx, inputs, view, well_typed) -> None:
        """Adds the operator's inputs, and what blocks a run as warnings (``block``), to ``inputs``.

        ``view`` is ``ctx.target_view()`` (None for a ``DatasetOperator``); ``well_typed`` is whether every given
        param has its declared type: parse the params only when it is True.
        """


class DatasetOperator(LabelLoopOperator):
    """An operator on the whole dataset (its runs, its CVAT reviews) rather than on the target view: its form reads
    ``ctx.dataset`` (``view`` is None), and the App offers no target choice."""

    targets_view = False


def large_view_notice(count: int) -> str:
    """What the form of a long operation on ``count`` samples says about scheduling it."""
    return (
        f"{count:,} samples: this can take minutes, with the App waiting. Schedule runs it in the background on a "
        "delegated worker (`fiftyone delegated launch`; open-source FiftyOne also needs "
        "FIFTYONE_ALLOW_LEGACY_ORCHESTRATORS=true where the App runs)."
    )


def choice(inputs, name, values, default, label, description=None, required=False):
    """A dropdown whose wrong values are reported by our own checks (an enum only says "Invalid enum value")."""
    dropdown = types.DropdownView()
    for value in values:
        dropdown.add_choice(value, label=value)
    return inputs.str(name, default=default, label=label, description=description, required=required, view=dropdown)


def if_offered(default, choices):
    """``default`` when it is one of ``choices`` (a dropdown's default must be a choice), else None."""
    return default if default in choices else None


def block(inputs, message, name="invalid_input"):
    """Shows ``message`` as a warning that blocks execution; the SDK raises it in its validation error."""
    prop = inputs.view(name, types.Warning(label=message))
    prop.invalid = True
    prop.error_message = message
    return prop


def warn(inputs, message, name="replaces"):
    """Shows ``message`` (when there is one) as a warning that does not block execution, e.g. what a run replaces."""
    if message:
        inputs.view(name, types.Warning(label=message))


def warnings_first(inputs: types.Object) -> None:
    """Moves the form's warnings above its inputs, in their order: a warning that blocks Execute must be in view
    when the form opens, not below the fold of a long form."""
    warning = {name: isinstance(prop.view, types.Warning) for name, prop in inputs.properties.items()}
    inputs.properties = dict(sorted(inputs.properties.items(), key=lambda item: not warning[item[0]]))


def block_all(inputs, messages):
    """Blocks execution with one warning per message; True when there was any."""
    for i, message in enumerate(messages):
        block(inputs, message, name=f"invalid_input_{i}")
    return bool(messages)


class ParamType(NamedTuple):
    """The type a param must have: ``accepts(value)``, and ``what`` to give instead, as a message says it."""

    accepts: Callable
    what: str

    def described(self, what):
        """This type, described for one param (say what it is, not only its Python type)."""
        return self._replace(what=what)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value):
    return _is_number(value) and (isinstance(value, int) or value.is_integer())


STR = ParamType(lambda value: isinstance(value, str), "a string")
NUMBER = ParamType(_is_number, "a finite number")
INT = ParamType(lambda value: _is_integer(value) and -(2**63) <= value < 2**63, "an integer of 64 bits (below 2**63)")
BOOL = ParamType(lambda value: isinstance(value, bool), "True or False")
DICT = ParamType(lambda value: isinstance(value, Mapping), "a dict")


def check_types(inputs, params, declared):
    """Blocks each given param that is not of its type in ``declared`` ({name: ParamType}); True when all are.

    Call it first in ``resolve_input`` (so its warnings come first) and parse the params only when it is True.
    """
    wrong = [name for name, kind in declared.items() if params.get(name) is not None and not kind.accepts(params[name])]
    for name in wrong:
        value = params[name]
        message = (
            f"{name}: Invalid value type ({type(value).__name__} {reprlib.repr(value)}): give {declared[name].what}."
        )
        block(inputs, message, name=f"invalid_input_{name}")
    return not wrong


def run_output(ctx, title, numbers, floats=(), strings=(("run_key", "Run"),), lists=()):
    """The output view of a run: ``(name, label)`` string, integer, float and list results, each only when the
    result (``ctx.results``) has a value for it: the App shows "No value provided" rows and empty headings else."""
    results = ctx.results or {}
    outputs = types.Object()
    for pairs, add in (
        (strings, outputs.str),
        (numbers, outputs.int),
        (floats, outputs.float),
        (lists, lambda name, label: outputs.list(name, types.String(), label=label)),
    ):
        for name, label in pairs:
            if results.get(name) not in (None, [], ""):
                add(name, label=label)
    return types.Property(outputs, view=types.View(label=title))


def finished(ctx, result, label=None, samples_only=False):
    """The end of an execution: reports the progress complete with ``label`` (when given), reloads the App's dataset
    (only its samples with ``samples_only``) and refreshes the suite's panels, so that they show what was written,
    and returns ``result``."""
    if label:
        ctx.set_progress(progress=1.0, label=label)
    (ctx.ops.reload_samples if samples_only else ctx.ops.reload_dataset)()
    refresh_panels(ctx)
    return result


def refresh_panels(ctx) -> None:
    """Makes each of the suite's panels open in the App render again, with its own state: the App tells a panel when
    the view changes, not when an operator wrote to the dataset. Nothing to do outside the App."""
    for panel in _panels(ctx.spaces):
        if panel.type in PANELS:
            state = (panel.state or {}).get("state", {})
            params = {"panel_id": panel.component_id, "__method__": "on_refresh", "panel_state": state}
            ctx.trigger(f"{PLUGIN}/{panel.type}", params=params)


def _panels(space):
    """The panels of an App ``fo.Space`` (None: none), in its nested spaces too."""
    for child in getattr(space, "children", None) or []:
        yield from _panels(child) if isinstance(child, fo.Space) else [child]


def user(ctx):
    """Who runs the operation: the App user where FiftyOne knows one, else None (core uses the OS user)."""
    return getattr(ctx.user, "email", None) if getattr(ctx, "user", None) else None


def execute_from_sdk(operator, sample_collection, params, delegate=False):
    """Runs ``operator`` on ``sample_collection`` as the App would; returns its result (None when delegated).

    It blocks until the operator has finished, in a notebook too. A keyword the operator does not take raises
    ``TypeError`` before anything runs (see ``check_keywords``); bad input raises
    ``fiftyone.operators.executor.ExecutionError`` whose message says what to change. The caller's dataset is
    reloaded afterwards, so fields the operator added or removed are visible at once.
    """
    check_keywords(operator, params)
    with schema.keeping_sample_classes(sample_collection._root_dataset):
        result = _execute_operator(
            operator.uri,
            ctx={"view": sample_collection.view(), "params": params},
            request_delegation=delegate,
        )
    return None if result.delegated else result.result


def check_keywords(operator, params: Mapping) -> None:
    """Raises ``TypeError``, as Python does for an unexpected keyword argument, when ``params`` has a name that
    ``operator`` does not take (see ``sdk_keywords``), naming the closest one it takes."""
    known = sdk_keywords(operator)
    unknown = [name for name in params if name not in known]
    if unknown:
        raise TypeError("; ".join(_unexpected_keyword(operator.name, name, known) for name in unknown))


def sdk_keywords(operator) -> set[str]:
    """The keywords that ``operator``'s SDK call takes: its ``param_types`` and the parameters of its
    ``__call__`` after the sample collection."""
    parameters = list(inspect.signature(operator.__call__).parameters.values())[1:]
    named = {p.name for p in parameters if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    return named | set(operator.param_types)


def _unexpected_keyword(operator_name: str, name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    hint = f"did you mean '{close[0]}'?" if close else f"it takes {', '.join(sorted(known))}"
    return f"{operator_name} got an unexpected keyword '{name}': {hint}"


def _execute_operator(uri: str, **kwargs):
    """FiftyOne's ``execute_operator(uri, **kwargs)`` run to completion, also where this thread runs an event loop
    (a Jupyter kernel's): there FiftyOne would return a task that runs in the background, so the call is made in
    a worker thread, which runs no loop, and this thread waits for its result or error.

    The worker runs in a copy of this thread's context variables, as ``asyncio.run`` does (IPython routes a
    cell's output by them)."""
    if not _event_loop_running():
        return foo.execute_operator(uri, **kwargs)
    worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="labelloop-sdk")
    try:
        return worker.submit(contextvars.copy_context().run, foo.execute_operator, uri, **kwargs).result()
    finally:
        worker.shutdown(wait=False)


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
