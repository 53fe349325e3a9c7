"""The detections dataset that the ``compare``, ``mistakenness`` and ``paint`` jobs share: built once, kept by
name in the driver's mongod (``synthetic.shared``), ``run`` being the driver's ``build`` step."""

import os

import _setup

from testing import synthetic

NAME = "scale-detections"
SAMPLES = {False: 1_000_000, True: 20_000}  # by --quick
OVERRIDE = "LABELLOOP_SCALE_SAMPLES"  # the driver's --samples


def count(quick: bool) -> int:
    """How many samples the shared dataset has (``--samples``, else by ``--quick``)."""
    return int(os.environ.get(OVERRIDE) or SAMPLES[quick])


def dataset(quick: bool):
    """The shared dataset, built when it is not there yet."""
    return synthetic.shared(NAME, count(quick))


def size(quick: bool) -> str:
    """The size column of a job on the shared dataset."""
    return f"{count(quick):,} samples x ~10 obj x 3"


def run(quick: bool) -> dict:
    """Builds the shared dataset (the driver's ``build`` step)."""
    build_s, built = _setup.timed(lambda: dataset(quick))
    objects = built.count("ground_truth.detections") + built.count("baseline.detections")
    objects += built.count("candidate.detections")
    return {"size": size(quick), "build_s": round(build_s, 1), "objects": objects}
