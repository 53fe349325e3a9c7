"""A run's results written chunk by chunk behind their computation, each write kept for the rollback and checked by
the field guards, with progress reported per chunk."""

from collections.abc import Callable, Iterable

from bson import ObjectId

import fiftyone as fo
import fiftyone.core.utils as fou

from .declared import FieldGuards
from .positional_writes import bulk_set
from .writes import Rollback, written_behind


def write_chunks(
    samples: fo.core.collections.SampleCollection,
    fields: list[str],
    rollback: Rollback,
    results: Iterable[tuple[list[ObjectId], list[dict]]],
    progress: Callable[..., None] | bool | None = None,
) -> None:
    """Writes every ``(sample ids, updates)`` chunk of ``results`` (``positional_writes.bulk_set``) while the next
    is computed (``writes.written_behind``): the values it replaces kept by ``rollback`` first, the declared
    ``fields`` checked by ``FieldGuards`` after."""
    dataset = samples._root_dataset
    guards = FieldGuards(dataset, fields)

    def write(result):
        rollback.save(result[0])
        bulk_set(dataset, *result)
        guards.check(result[0])

    with fou.ProgressBar(total=len(samples), progress=progress) as bar:
        written_behind(results, write, lambda result: bar.set_iteration(bar.iteration + len(result[0])))
