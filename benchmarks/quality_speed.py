"""Uniqueness vs fiftyone-brain, and embedding-map timings, on clustered random vectors stored in datasets.

Builds datasets of clustered 128-d vectors (fixed seed) in field ``emb``, then runs every measurement in a child
process of its own (which inherits the private mongod through ``FIFTYONE_DATABASE_URI``), so each peak RSS
(``VmHWM``) is that job's alone: ours (``core.quality.uniqueness.compute_uniqueness``) and
``fiftyone.brain.compute_uniqueness(dataset, embeddings="emb")`` at 10k (both exact), ours at 200k (``--large``;
above ``core.quality.neighbors.APPROXIMATE_FROM``, so by the approximate faiss search: see
``benchmarks/scale_jobs/neighbours.py`` for its recall), and
``fiftyone.brain.compute_visualization`` with PCA, UMAP and t-SNE at 10k and 50k (``--quick`` skips t-SNE at 50k).
Peaks are reported whole and as added to the RSS of the loaded process (Python, FiftyOne, the dataset). The
scores are compared by correlation, not equality: brain 0.25.0 sets the self-distances to NaN (sorted last) and
then drops the first column as if it were the sample itself, so it weighs the 2nd-4th nearest neighbours where we
weigh the 1st-3rd with the same 0.6/0.3/0.1. Ends with
``RESULT quality_speed uniqueness_ratio=<ours/brain at 10k> uniqueness_peak_mb=<ours at 10k> ...``.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

CHILD = "--child" in sys.argv
if CHILD:  # the parent's private mongod is inherited through FIFTYONE_DATABASE_URI
    REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path[:0] = [REPO, os.path.join(REPO, "tests")]
else:
    import _setup  # starts the private mongod before fiftyone is imported

import numpy as np

import fiftyone as fo

DIM, CLUSTERS, SEED = 128, 50, 0
METHODS = ("pca", "umap", "tsne")


def main():
    parser = _setup.parser(__doc__, "skip t-SNE at 50k")
    parser.add_argument("--large", type=int, default=200_000, help="samples of ours-only uniqueness run")
    args = parser.parse_args()
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="numba-"))
    sizes = {10_000: build(10_000), 50_000: build(50_000), args.large: build(args.large)}

    ours, brain = child("ours", sizes[10_000]), child("brain", sizes[10_000])
    agreement = _agreement(fo.load_dataset(sizes[10_000]))
    large = child("ours", sizes[args.large])
    maps = {}
    for n in (10_000, 50_000):
        for method in METHODS:
            if method == "tsne" and n == 50_000 and args.quick:
                continue
            maps[(method, n)] = child(f"map_{method}", sizes[n])

    ratio = ours["seconds"] / brain["seconds"]
    print(f"{'job':34} {'seconds':>9} {'peak MiB':>9} {'added MiB':>9}")
    rows = [("uniqueness ours 10k", ours), ("uniqueness brain 10k", brain), (f"uniqueness ours {args.large}", large)]
    rows += [(f"{method} {n}", job) for (method, n), job in maps.items()]
    for name, job in rows:
        print(f"{name:34} {job['seconds']:9.2f} {job['peak_mb']:9.0f} {job['peak_mb'] - job['base_mb']:9.0f}")
    if args.quick:
        print("t-SNE at 50k skipped (--quick)")
    print(f"ours / brain time at 10k: {ratio:.3f}; correlation of the scores with brain's: {agreement:.3f}")
    extra = " ".join(f"{method}_{n // 1000}k_s={job['seconds']:.2f}" for (method, n), job in maps.items())
    print(
        f"RESULT quality_speed uniqueness_ratio={ratio:.3f} uniqueness_peak_mb={ours['peak_mb']:.0f} "
        f"uniqueness_added_mb={ours['peak_mb'] - ours['base_mb']:.0f} brain_corr={agreement:.3f} "
        f"uniqueness_10k_s={ours['seconds']:.2f} "
        f"brain_10k_s={brain['seconds']:.2f} brain_peak_mb={brain['peak_mb']:.0f} "
        f"uniqueness_{args.large // 1000}k_s={large['seconds']:.2f} "
        f"uniqueness_{args.large // 1000}k_peak_mb={large['peak_mb']:.0f} {extra}"
    )


def vectors(n):
    """``n`` clustered vectors: 50 random centres, each sample a centre plus noise (fixed seed)."""
    rng = np.random.default_rng(SEED)
    centres = rng.normal(size=(CLUSTERS, DIM)) * 2
    return (centres[rng.integers(CLUSTERS, size=n)] + rng.normal(size=(n, DIM))).astype(np.float32)


def build(n):
    """The dataset of ``n`` vectors in ``emb`` (built once per session); returns its name."""
    name = f"bench-quality-{n}"
    if fo.dataset_exists(name):
        fo.delete_dataset(name)
    started = time.perf_counter()
    dataset = fo.Dataset(name)
    dataset.add_samples([fo.Sample(filepath=f"/bench/{i}.png") for i in range(n)], progress=False)
    dataset.add_sample_field("emb", fo.VectorField)
    dataset.set_values("emb", list(vectors(n)), progress=False)
    print(f"built {n} samples in {time.perf_counter() - started:.1f} s", flush=True)
    return name


def child(job, dataset_name):
    """Runs ``job`` on the dataset in a child process; returns its seconds, peak and base RSS (MiB)."""
    command = [sys.executable, os.path.abspath(__file__), "--child", job, dataset_name]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result = json.loads(next(line for line in output.splitlines() if line.startswith("{")))
    print(f"{job} on {dataset_name}: {result['seconds']:.2f} s, peak {result['peak_mb']:.0f} MiB", flush=True)
    return result


def run_child(job, dataset_name):
    dataset = fo.load_dataset(dataset_name)
    len(dataset)
    base = _status_mb("VmRSS")
    started = time.perf_counter()
    _jobs(dataset)[job]()
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "peak_mb": _status_mb("VmHWM"), "base_mb": base}))


def _jobs(dataset):
    import fiftyone.brain as fob

    from core.quality import uniqueness

    jobs = {
        "ours": lambda: uniqueness.compute_uniqueness(dataset, "emb", output_field="uniqueness_ours", progress=False),
        "brain": lambda: fob.compute_uniqueness(dataset, embeddings="emb", progress=False),
    }
    for method in METHODS:
        jobs[f"map_{method}"] = lambda m=method: fob.compute_visualization(
            dataset, embeddings="emb", method=m, brain_key=f"map_{m}", progress=False
        )
    return jobs


def _agreement(dataset):
    dataset.reload()  # the children added the fields
    ours, brain = (np.array(dataset.values(f)) for f in ("uniqueness_ours", "uniqueness"))
    return float(np.corrcoef(ours, brain)[0, 1])


def _status_mb(key):
    """A memory line of ``/proc/self/status`` (``VmRSS`` now, ``VmHWM`` peak), in MiB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) / 1024 for line in status if line.startswith(f"{key}:"))


if __name__ == "__main__":
    if CHILD:
        run_child(*sys.argv[sys.argv.index("--child") + 1 :])
    else:
        main()
