"""What every LabelLoop operator shares: its config, form warnings, progress and the SDK entry point."""

import fiftyone.operators as foo
from fiftyone.operators import types


def operator_config(name, label, description, icon="/assets/icon.svg"):
    """An operator config that runs immediately or delegated, the caller's choice."""
    return foo.OperatorConfig(
        name=name,
        label=f"LabelLoop: {label}",
        description=description,
        icon=icon,
        dynamic=True,
        allow_immediate_execution=True,
        allow_delegated_execution=True,
        default_choice_to_delegated=False,
    )


def choice(inputs, name, values, default, label, description=None, required=False):
    """A dropdown whose wrong values are reported by our own checks (an enum only says "Invalid enum value")."""
    dropdown = types.DropdownView()
    for value in values:
        dropdown.add_choice(value, label=value)
    return inputs.str(name, default=default, label=label, description=description, required=required, view=dropdown)


def block(inputs, message, name="invalid_input"):
    """Shows ``message`` as a warning that blocks execution; the SDK raises it in its validation error."""
    prop = inputs.view(name, types.Warning(label=message))
    prop.invalid = True
    prop.error_message = message
    return prop


def block_all(inputs, messages):
    """Blocks execution with one warning per message; True when there was any."""
    for i, message in enumerate(messages):
        block(inputs, message, name=f"invalid_input_{i}")
    return bool(messages)


def progress_reporter(ctx):
    """A ``progress(fraction, label)`` callback for ``core`` that reports through the operator context."""
    return lambda fraction, label: ctx.set_progress(progress=fraction, label=label)


def run_output(title, numbers, floats=()):
    """The output view of a run: its key, then ``(name, label)`` integer (and float) results."""
    outputs = types.Object()
    outputs.str("run_key", label="Run")
    for name, label in numbers:
        outputs.int(name, label=label)
    for name, label in floats:
        outputs.float(name, label=label)
    return types.Property(outputs, view=types.View(label=title))


def progress_bar(ctx, what="samples"):
    """FiftyOne's ``progress`` argument for ``core``: a terminal bar that also reports to the App or the worker."""
    import fiftyone as fo

    def report(bar):
        ctx.set_progress(progress=bar.progress, label=f"{bar.iteration} / {bar.total} {what}")

    return fo.report_progress(report, dt=0.5)


def user(ctx):
    """Who runs the operation: the App user where FiftyOne knows one, else None (core uses the OS user)."""
    return getattr(ctx.user, "email", None) if getattr(ctx, "user", None) else None


def execute_from_sdk(operator, sample_collection, params, delegate=False):
    """Runs ``operator`` on ``sample_collection`` as the App would; returns its result (None when delegated).

    Bad input raises ``fiftyone.operators.executor.ExecutionError`` whose message says what to change. The
    caller's dataset is reloaded afterwards, so fields the operator added or removed are visible at once.
    """
    result = foo.execute_operator(
        operator.uri,
        ctx={"view": sample_collection.view(), "params": params},
        request_delegation=delegate,
    )
    sample_collection._root_dataset.reload()
    return None if result.delegated else result.result
