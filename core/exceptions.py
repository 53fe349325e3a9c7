"""The suite's errors, each with a message that says what to do."""

import requests


class ModelError(ValueError):
    """A model that cannot be used as asked; the message says what to do instead."""


class CVATError(Exception):
    """A CVAT problem, with a message that says what to do (never a credential)."""


class CVATResponseError(CVATError, requests.exceptions.HTTPError):
    """An error answer of the server (``response`` holds it); an ``HTTPError`` for FiftyOne's own checks."""


class FieldBusy(RuntimeError):
    """A field is being written by another run; ``holder`` is that lease's document."""

    def __init__(self, message: str, holder: dict) -> None:
        super().__init__(message)
        self.holder = holder


def refuse(problems: list[str]) -> None:
    """Raises the ``ValueError`` that states every problem of a request, when there is any (the suite's way of
    refusing bad input before anything is written; operators show the same messages as form warnings)."""
    if problems:
        raise ValueError(" ".join(problems))
