"""Pre-labelling throughput: our streamed bulk writer vs ``dataset.apply_model``, same local model, same images.

Prints images/s of both on the digits PNGs (1,797; --quick: 1,000), the median of --repeat alternating runs, and
ends with ``RESULT prelabel ratio=<ours/anchor> ours_ips=.. anchor_ips=.. peak_mb=..`` (peak RSS after our runs).
"""

import statistics
import tempfile

import _setup

import fiftyone.zoo as foz

from core.models import source as models
from core.prelabel import run as prelabel
from testing import data, tiny_models


def main():
    parser = _setup.parser(__doc__, "1,000 images instead of 1,797")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each; the median counts")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="labelloop-bench-")
    dataset = data.build_digits("bench-prelabel", f"{work}/digits", limit=1000 if args.quick else None)
    model_dir = tiny_models.image_classifier(f"{work}/model", [str(i) for i in range(10)])
    print(f"{len(dataset)} digit PNGs, model {model_dir}, batch size {args.batch_size}")

    source = models.parse_source(models.HF, model_dir)
    request = prelabel.PrelabelRequest(source=source, output_field="ours", batch_size=args.batch_size, overwrite=True)
    anchor = foz.load_zoo_model("classification-transformer-torch", name_or_path=model_dir)
    ours, theirs = [], []
    for _ in range(args.repeat):
        ours.append(_setup.timed(lambda: prelabel.prelabel(dataset, request, progress=False))[0])
        peak_mb = _setup.peak_rss_mb()
        theirs.append(
            _setup.timed(lambda: dataset.apply_model(anchor, "anchor", batch_size=args.batch_size, progress=False))[0]
        )
    ours_s, anchor_s = statistics.median(ours), statistics.median(theirs)

    agree = sum(a == b for a, b in zip(dataset.values("ours.label"), dataset.values("anchor.label"), strict=True))
    ours_ips, anchor_ips = len(dataset) / ours_s, len(dataset) / anchor_s
    print(f"ours:        {ours_s:7.2f} s  {ours_ips:8.1f} images/s")
    print(f"apply_model: {anchor_s:7.2f} s  {anchor_ips:8.1f} images/s")
    print(f"same top label on {agree}/{len(dataset)} images; peak RSS after ours {peak_mb:.0f} MiB")
    print(
        f"RESULT prelabel ratio={ours_ips / anchor_ips:.2f} ours_ips={ours_ips:.1f} "
        f"anchor_ips={anchor_ips:.1f} peak_mb={peak_mb:.0f}"
    )


if __name__ == "__main__":
    main()
