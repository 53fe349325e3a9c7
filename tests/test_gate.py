"""The CI gate command: exit codes, reports, thresholds overall and per class."""

import json
import os
import subprocess
import sys

import pytest

from testing import synthetic

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def synthetic_300():
    dataset = synthetic.build("gate-synthetic", 300, seed=2)
    dataset.persistent = True
    yield dataset
    dataset.delete()


def gate(*args):
    command = [sys.executable, "-m", "core.gate", *args]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_passes_within_limits_and_writes_reports(synthetic_300, tmp_path):
    done = gate(
        "--dataset",
        synthetic_300.name,
        "--baseline",
        "baseline",
        "--candidate",
        "candidate",
        "--max-ratio",
        "0.9",
        "--overall-only",
        "--json",
        str(tmp_path / "r.json"),
        "--markdown",
        str(tmp_path / "r.md"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("PASSED: ")
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["passed"] and data["summary"]["samples"] == 300 and len(data["top"]) == 20
    assert data["top"][0]["id"] in (tmp_path / "r.md").read_text()


def test_fails_when_too_much_broke_overall_or_per_class(synthetic_300):
    done = gate(
        "--dataset", synthetic_300.name, "--baseline", "baseline", "--candidate", "candidate", "--max-broken", "5"
    )
    assert done.returncode == 1 and done.stdout.startswith("FAILED: ")
    assert "overall: " in done.stdout and "class 'car': " in done.stdout
    reversed_models = gate(
        "--dataset",
        synthetic_300.name,
        "--baseline",
        "candidate",
        "--candidate",
        "baseline",
        "--max-ratio",
        "1.0",
        "--overall-only",
        "--key",
        "reverse",
    )
    assert reversed_models.returncode == 1 and "broken/fixed" in reversed_models.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--dataset", "no-such-dataset", "--baseline", "a", "--candidate", "b"], "No dataset 'no-such-dataset'"),
        (["--baseline", "baseline", "--candidate", "nope"], "No Detections or Classification field 'nope'"),
    ],
)
def test_bad_input_exits_2_with_a_message(synthetic_300, args, expected):
    if "--dataset" not in args:
        args = ["--dataset", synthetic_300.name, *args]
    done = gate(*args)
    assert done.returncode == 2 and expected in done.stderr
