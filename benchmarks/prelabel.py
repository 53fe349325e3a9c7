"""Pre-labelling throughput on the digits PNGs (1,797; --quick: 1,000), the same tiny ViT classifier each way:

- our streamed bulk writer on the transformers model vs ``dataset.apply_model`` on FiftyOne's wrapper of it (anchor);
- the model exported to ONNX (onnxruntime) vs the same model in torch (our transformers path);
- the ONNX model behind a real MLServer on 127.0.0.1 (Open Inference Protocol, batched) vs the same ONNX model in
  process: the protocol's overhead per image (skipped when ``make mlserver`` has not been run).

Each figure is the median of --repeat alternating runs. The last line is ``RESULT prelabel ratio=<ours/anchor>
ours_ips=.. anchor_ips=.. peak_mb=.. onnx_vs_torch=.. onnx_ips=.. endpoint_ips=.. endpoint_overhead_ms=..``.
"""

import os
import statistics
import tempfile

import _setup

import fiftyone.zoo as foz

from core.models import source as models
from core.prelabel import run as prelabel
from testing import data, inference_server, tiny_models


def main():
    parser = _setup.parser(__doc__, "1,000 images instead of 1,797")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each; the median counts")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="labelloop-bench-")
    dataset = data.build_digits("bench-prelabel", f"{work}/digits", limit=1000 if args.quick else None)
    model_dir = tiny_models.image_classifier(f"{work}/model", [str(i) for i in range(10)])
    onnx_path = tiny_models.onnx_export(model_dir, f"{work}/digits.onnx", "classification")
    print(f"{len(dataset)} digit PNGs, model {model_dir}, batch size {args.batch_size}")

    def ours(kind, name, field, **options):
        source = models.parse_source(kind, name, options=options)
        request = prelabel.PrelabelRequest(
            source=source, output_field=field, batch_size=args.batch_size, overwrite=True
        )
        return lambda: prelabel.prelabel(dataset, request, progress=False)

    anchor = foz.load_zoo_model("classification-transformer-torch", name_or_path=model_dir)
    runs = {
        "ours": ours(models.HF, model_dir, "ours"),
        "anchor": lambda: dataset.apply_model(anchor, "anchor", batch_size=args.batch_size, progress=False),
        "onnx": ours(models.ONNX, onnx_path, "onnx"),
    }
    server = _endpoint(work, onnx_path)
    if server is not None:
        runs["endpoint"] = ours(models.ENDPOINT, "digits", "endpoint", url=server.url, spec=onnx_path[:-5] + ".json")
    try:
        seconds, peak_mb = _measure(runs, args.repeat)
    finally:
        if server is not None:
            server.stop()
    ips = {name: len(dataset) / s for name, s in seconds.items()}
    for name, label in LABELS.items():
        if name in seconds:
            agree = _agreement(dataset, name) if name != "ours" else len(dataset)
            print(
                f"{label:44s} {seconds[name]:7.2f} s  {ips[name]:8.1f} images/s  same top label {agree}/{len(dataset)}"
            )
    print(f"peak RSS after ours {peak_mb:.0f} MiB")
    result = (
        f"RESULT prelabel ratio={ips['ours'] / ips['anchor']:.2f} ours_ips={ips['ours']:.1f} "
        f"anchor_ips={ips['anchor']:.1f} peak_mb={peak_mb:.0f} onnx_vs_torch={ips['onnx'] / ips['ours']:.2f} "
        f"onnx_ips={ips['onnx']:.1f}"
    )
    if "endpoint" in seconds:
        overhead_ms = (seconds["endpoint"] - seconds["onnx"]) / len(dataset) * 1000
        print(f"endpoint overhead vs ONNX in process: {overhead_ms:.2f} ms/image")
        result += f" endpoint_ips={ips['endpoint']:.1f} endpoint_overhead_ms={overhead_ms:.2f}"
    print(result)


LABELS = {
    "anchor": "apply_model (FiftyOne's transformers wrapper)",
    "ours": "prelabel, transformers (torch)",
    "onnx": "prelabel, ONNX export (onnxruntime)",
    "endpoint": "prelabel, MLServer endpoint (same ONNX model)",
}


def _endpoint(work, onnx_path):
    """A real MLServer serving the ONNX model as ``digits``, or None when it is not installed."""
    if not os.access(inference_server.MLSERVER, os.X_OK):
        print("MLServer not installed (`make mlserver`): no endpoint figures")
        return None
    return inference_server.MLServer(f"{work}/mlserver", {"digits": onnx_path}).start()


def _measure(runs, repeat):
    """The median seconds of each run (alternating), and the peak RSS after ours."""
    times = {name: [] for name in runs}
    peak_mb = 0.0
    for _ in range(repeat):
        for name, fn in runs.items():
            times[name].append(_setup.timed(fn)[0])
            if name == "ours":
                peak_mb = _setup.peak_rss_mb()
    return {name: statistics.median(values) for name, values in times.items()}, peak_mb


def _agreement(dataset, field):
    return sum(a == b for a, b in zip(dataset.values(f"{field}.label"), dataset.values("ours.label"), strict=True))


if __name__ == "__main__":
    main()
