"""Pre-labelling scale-out: one request split into 2 delegated operations (``num_shards=2``), run by 1 worker, then
by 2 workers (``fiftyone delegated`` workers in child processes, as on two hosts), on 2,000 drawn 128x128 images
(--quick: 400) with a random-initialised classifier of ViT-Tiny's shape (5.5M parameters, 224 px), so the work
is a real model's, not the test suite's toy.

Throughput is images over the time from the moment every worker is ready (FiftyOne and torch imported) until the
last one has run out of queued operations (the model's loading, once per operation, is inside it). Each worker
runs torch on one thread (``OMP_NUM_THREADS=1``), the same in both settings, so the figure is the scaling of the
workers, not of torch's threads. ``scaling`` = 2-worker throughput / 1-worker throughput; the goal is >= 1.7 (85 %
efficiency).
"""

import os
import subprocess
import sys
import tempfile
import time

import torch

from core.models.torch_compat import ensure_torchvision
from harness import operators as ops
from testing import data

ensure_torchvision()  # before transformers' vision models, as everywhere
import transformers as tr  # noqa: E402

GOAL = 1.7
THREADS = "1"


def run(quick: bool) -> dict:
    work = tempfile.mkdtemp(prefix="labelloop-scale-workers-")
    count = 400 if quick else 2000
    dataset = data.build_shapes("scale-prelabel-workers", f"{work}/images", count=count)
    model = _vit_tiny(f"{work}/model")
    ips = {workers: _throughput(dataset, model, workers) for workers in (1, 2)}
    scaling = ips[2] / ips[1]
    dataset.reload()  # the workers declared the fields
    return {
        "size": f"{count} images",
        "goal": f"2 workers >= {GOAL}x 1 worker",
        "met": scaling >= GOAL,
        "one_worker_ips": round(ips[1], 1),
        "two_workers_ips": round(ips[2], 1),
        "scaling": round(scaling, 2),
        "labelled": all(dataset.count(f"w{n}") == count for n in (1, 2)),
    }


def _throughput(dataset, model, workers):
    """Images per second of a 2-shard pre-labelling run by ``workers`` concurrent worker processes."""
    params = {"model": model, "output_field": f"w{workers}", "num_shards": 2}
    queued = ops.run("prelabel", dataset, params).result["operation_ids"]
    seconds = _run_workers(dataset.name, workers)
    failed = [op.result for op in map(ops.delegated_operation, queued) if op.run_state != "completed"]
    if failed:
        raise RuntimeError(f"a shard did not complete: {failed[0]}")
    return len(dataset) / seconds


def _run_workers(dataset_name, workers):
    """Starts ``workers`` worker processes, lets them go once all have imported FiftyOne and torch, and returns the
    seconds until the last one has run out of queued operations (a worker claims an operation atomically)."""
    with tempfile.TemporaryDirectory() as signals:
        go, ready = os.path.join(signals, "go"), [os.path.join(signals, f"ready-{n}") for n in range(workers)]
        env = {**os.environ, "OMP_NUM_THREADS": THREADS, "MKL_NUM_THREADS": THREADS}
        children = [subprocess.Popen([sys.executable, "-c", _worker(r, go, dataset_name)], env=env) for r in ready]
        _wait_until(lambda: all(map(os.path.exists, ready)), children)
        started = time.perf_counter()
        open(go, "w").close()
        if any(child.wait() != 0 for child in children):
            raise RuntimeError("a worker failed")
        return time.perf_counter() - started


def _worker(ready, go, dataset_name):
    """The code of a worker process: imports, says it is ready, waits for ``go``, runs queued operations."""
    return f"""
import os, time, torch
from fiftyone.operators.delegated import DelegatedOperationService
torch.set_num_threads(1)
open({ready!r}, "w").close()
while not os.path.exists({go!r}):
    time.sleep(0.01)
DelegatedOperationService().execute_queued_operations(dataset_name={dataset_name!r})
"""


def _wait_until(condition, children):
    while not condition():
        if any(child.poll() is not None for child in children):
            raise RuntimeError("a worker exited before it was ready")
        time.sleep(0.01)


def _vit_tiny(out_dir):
    """A ViT-Tiny-shaped classifier over the drawn shapes, random weights, saved with its processor."""
    torch.manual_seed(0)
    labels = dict(enumerate(data.SHAPES))
    config = tr.ViTConfig(
        image_size=224,
        patch_size=16,
        hidden_size=192,
        num_hidden_layers=12,
        num_attention_heads=3,
        intermediate_size=768,
        id2label=labels,
        label2id={v: k for k, v in labels.items()},
    )
    tr.ViTForImageClassification(config).save_pretrained(out_dir)
    tr.ViTImageProcessor(size={"height": 224, "width": 224}).save_pretrained(out_dir)
    return out_dir
