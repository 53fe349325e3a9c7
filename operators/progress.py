"""What a person sees while an operator runs: done / total and the time left, in the App as the work goes on.

FiftyOne shows the progress of an operation run from the App only when the operator yields it as it goes
(``execute_as_generator``); ``ctx.set_progress`` is only logged there. ``streamed`` makes every LabelLoop operator do
that in the App, and leaves delegated runs and SDK calls (which need the result returned) as they are.
"""

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable

import fiftyone as fo
from fiftyone.operators.executor import ExecutionResult
from fiftyone.operators.message import GeneratedMessage, MessageType

_LOGGER = logging.getLogger(__name__)

LARGE_VIEW = 1000
"""From this many samples on, the form of a long operation offers to schedule it (delegated) instead."""

_DONE = object()


class TimeLeft:
    """The time left of work started when this was made, from the fraction done: "about 40 s left", or "" while
    too little is done to say."""

    MIN_ELAPSED = 1.0  # seconds of work before a guess is worth showing

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._start = clock()

    def __call__(self, fraction: float | None) -> str:
        elapsed = self._clock() - self._start
        if not fraction or fraction >= 1 or elapsed < self.MIN_ELAPSED:
            return ""
        return f"about {duration(elapsed * (1 - fraction) / fraction)} left"


def duration(seconds: float) -> str:
    """A duration as a person reads it: "8 s", "3 min 20 s", "1 h 5 min"."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s" if minutes < 10 and seconds else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def progress_reporter(ctx) -> Callable[[float, str], None]:
    """A ``progress(fraction, label)`` callback for ``core`` that reports through the operator context, with the
    time left."""
    time_left = TimeLeft()
    return lambda fraction, label: ctx.set_progress(progress=fraction, label=_with(label, time_left(fraction)))


def progress_bar(ctx, what: str = "samples"):
    """FiftyOne's ``progress`` argument for ``core``: a terminal bar that also reports "done / total <what>" and the
    time left to the App or the worker."""
    time_left = TimeLeft()

    def report(bar):
        label = _with(f"{bar.iteration} / {bar.total} {what}", time_left(bar.progress))
        ctx.set_progress(progress=bar.progress, label=label)

    return fo.report_progress(report, dt=0.5)


def _with(label: str, time_left: str) -> str:
    return f"{label}, {time_left}" if time_left else label


def streamed(execute: Callable) -> Callable:
    """Wraps an operator's ``execute(self, ctx)`` so that, run from the App and not delegated, it streams its
    progress and the App operations it triggers while it works, then its result; elsewhere it runs as it is."""

    @functools.wraps(execute)
    def run(operator, ctx):
        if ctx.delegated or not from_app(ctx):
            return execute(operator, ctx)
        return _stream(ctx, functools.partial(execute, operator, ctx))

    return run


def from_app(ctx) -> bool:
    """Whether the App sent this request (it names the operator in it; the SDK's ``execute_operator`` does not)."""
    return bool(ctx.request_params.get("operator_uri"))


def _stream(ctx, work: Callable):
    """Runs ``work`` in a thread and yields what it triggers (progress included) as it comes, then its result; an
    error is yielded as the App's error line."""
    messages = queue.Queue()
    _route_to(ctx, messages)
    outcome = {}
    worker = threading.Thread(target=_run_into, args=(work, outcome, messages), name="labelloop-operator")
    worker.start()
    while (message := messages.get()) is not _DONE:
        yield message
    worker.join()
    if "error" in outcome:
        yield _Failure(outcome["error"])
    else:
        yield GeneratedMessage(MessageType.SUCCESS, cls=ExecutionResult, body=_Result(outcome["result"]))


def _route_to(ctx, messages: queue.Queue) -> None:
    """Makes ``ctx`` put what it triggers, and its progress as the App's progress bar, into ``messages``."""
    trigger = ctx.trigger

    def queued(operator_name, params=None):
        message = trigger(operator_name, params=params)
        messages.put(message)
        return message

    ctx.trigger = queued
    ctx.set_progress = lambda progress=None, label=None: ctx.ops.set_progress(label=label, progress=progress)


def _run_into(work: Callable, outcome: dict, messages: queue.Queue) -> None:
    try:
        outcome["result"] = work()
    except Exception as error:  # the App shows it; the server's log has the traceback
        _LOGGER.exception("LabelLoop operation failed")
        outcome["error"] = error
    finally:
        messages.put(_DONE)


class _Result:
    """The body of the result line: the operator's result as the App reads it (``ctx.results``)."""

    def __init__(self, result):
        self.result = result

    def to_json(self):
        return self.result


class _Failure(GeneratedMessage):
    """The line that tells the App the operation failed, with the message it shows."""

    def __init__(self, error: Exception):
        super().__init__(MessageType.ERROR)
        self.error = error

    def to_json(self):
        return {"error": f"{type(self.error).__name__}: {self.error}", "error_message": str(self.error)}
