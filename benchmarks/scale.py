"""Scale: the jobs of ``benchmarks/scale_jobs/`` (see its docstring), each in its own child process, against one
private mongod that this driver starts (so the jobs share the data they build, and each job's peak memory is its
own).

Jobs: ``neighbours`` (uniqueness and near duplicates), ``prelabel_workers`` (2 workers vs 1), ``compare``
(compare_models on detections), ``mistakenness`` (compute_mistakenness on detections) and ``paint`` (the
regression panel's first paint). The last three share one synthetic detections dataset (1,000,000 samples x ~10
objects x 3 fields; --quick: 20,000), built once by this driver in a child process of its own (row ``build``)
before the first of them. A job whose module is missing is skipped with a note. Prints a table (job, size,
figures, goal, met) and ends with ``RESULT scale <job>_<figure>=<value> ...`` covering every job run.
"""

import json
import os
import subprocess
import sys
import tempfile

import _setup

JOBS = ("neighbours", "prelabel_workers", "compare", "mistakenness", "paint")
ON_SHARED_DATA = ("compare", "mistakenness", "paint")
BUILD = "build"
HERE = os.path.dirname(os.path.abspath(__file__))
SHARED_MONGO = "LABELLOOP_SCALE_MONGO_URI"  # read by scale_jobs/_child.py
SAMPLES = "LABELLOOP_SCALE_SAMPLES"  # read by scale_jobs/_detections.py (OVERRIDE)
CACHE_GB = 2  # mongod's cache: the million-sample dataset need not fit in it


def main():
    parser = _setup.parser(__doc__, "the small version of every job (20,000 detection samples), in CI time")
    parser.add_argument("--jobs", help=f"comma-separated jobs to run (default all: {','.join(JOBS)})")
    parser.add_argument("--samples", type=int, help="samples of the shared detections dataset (overrides --quick)")
    args = parser.parse_args()
    jobs = _chosen(args.jobs)
    env = {**os.environ, SHARED_MONGO: _setup.MONGO.uri, **({SAMPLES: str(args.samples)} if args.samples else {})}
    _limit_cache(_setup.MONGO.uri)
    rows = []
    if any(job in ON_SHARED_DATA for job in jobs):
        rows.append((BUILD, _run_child(BUILD, args.quick, env)))
    rows += [(job, _run_child(job, args.quick, env)) for job in jobs]
    _print(rows)


def _chosen(names):
    jobs = [name.strip() for name in names.split(",")] if names else list(JOBS)
    unknown = [name for name in jobs if name not in JOBS]
    if unknown:
        raise SystemExit(f"Unknown job(s) {', '.join(unknown)}: choose among {', '.join(JOBS)}.")
    return jobs


def _limit_cache(uri):
    import pymongo

    with pymongo.MongoClient(uri) as client:
        config = f"cache_size={CACHE_GB}G"
        client.admin.command({"setParameter": 1, "wiredTigerEngineRuntimeConfig": config})


def _run_child(job, quick, env):
    """The figures of ``job`` run in a child process (``None`` when its module is missing)."""
    if job != BUILD and not os.path.exists(os.path.join(HERE, "scale_jobs", f"{job}.py")):
        print(f"skipped {job}: benchmarks/scale_jobs/{job}.py does not exist yet", flush=True)
        return None
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        command = [sys.executable, os.path.join(HERE, "scale_jobs", "_child.py"), job, out.name]
        print(f"running {job} ...", flush=True)
        finished = subprocess.run(command + (["--quick"] if quick else []), env=env, check=False)
        if finished.returncode:
            return {"error": f"exit status {finished.returncode}"}
        with open(out.name) as result:
            return json.load(result)


def _print(rows):
    print(f"\n{'job':<18} {'size':<34} {'goal':<34} {'met':<4} figures")
    result = []
    for job, figures in rows:
        if figures is None:
            print(f"{job:<18} (skipped: module missing)")
            result.append(f"{job}=skipped")
            continue
        size, goal, met = (figures.pop(key, "") for key in ("size", "goal", "met"))
        shown = "yes" if met is True else "no" if met is False else ""
        text = " ".join(f"{k}={_value(v)}" for k, v in figures.items())
        print(f"{job:<18} {size:<34} {goal:<34} {shown:<4} {text}")
        result += [f"{job}_{k}={_value(v)}" for k, v in figures.items()]
        result += [f"{job}_met={shown}"] if shown else []
    print("RESULT scale " + " ".join(result))


def _value(value):
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
    return str(value).replace(" ", "_")


if __name__ == "__main__":
    main()
