"""A delegated worker that stalls mid-run, to be killed: ``python -m reliability.worker DATASET --batches N``.

It executes the dataset's queued delegated operations like ``fiftyone delegated launch``, but its transformers
model blocks forever from batch N + 1 on, so that the parent can kill it with SIGKILL at a known point: N whole
batches written, the operation and its run still marked running.
"""

import argparse
import threading

from fiftyone.operators.delegated import DelegatedOperationService

from .resources import on_call, plugin_module


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("--batches", type=int, required=True, help="batches to run before stalling")
    args = parser.parse_args()
    predictor = plugin_module("models.hf").HFPredictor
    with on_call(predictor, "predict", args.batches + 1, threading.Event().wait):
        DelegatedOperationService().execute_queued_operations(dataset_name=args.dataset)


if __name__ == "__main__":
    main()
