"""The CI gate command: exit codes, reports, thresholds overall and per class."""

import json
import os
import subprocess
import sys
import uuid

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


def test_reports_on_its_own_comparison_when_another_finishes_meanwhile(synthetic_300, tmp_path, monkeypatch):
    from core.regression import compare as regression
    from core.regression import gate as gate_module

    compare = regression.compare

    def and_a_colleagues_comparison(samples, request, **options):
        own = compare(samples, request, **options)
        colleague = regression.CompareRequest("ground_truth", "candidate", "baseline", key="colleague")
        compare(samples, colleague, progress=False)  # newer, and it fails the limit below
        return own

    monkeypatch.setattr(regression, "compare", and_a_colleagues_comparison)
    args = ["--dataset", synthetic_300.name, "--baseline", "baseline", "--candidate", "candidate", "--key", "own"]
    code = gate_module.main([*args, "--max-ratio", "0.9", "--overall-only", "--json", str(tmp_path / "r.json")])
    data = json.loads((tmp_path / "r.json").read_text())
    assert (code, data["comparison"]["key"], data["comparison"]["candidate_field"]) == (0, "own", "candidate")


MISSING_DIR = "{tmp}/missing/r.json"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--dataset", "no-such-dataset", "--baseline", "a", "--candidate", "b"], "No dataset 'no-such-dataset'"),
        (["--baseline", "baseline", "--candidate", "nope"], "No Detections or Classification field 'nope'"),
        (["--max-ratio", "nan"], "--max-ratio must be a finite number of 0 or more, not nan"),
        (["--max-ratio", "inf"], "--max-ratio must be a finite number of 0 or more, not inf"),
        (["--max-ratio", "-0.5"], "--max-ratio must be a finite number of 0 or more, not -0.5"),
        (["--max-broken", "-1"], "--max-broken must be 0 or more, not -1"),
        (["--iou", "1.5"], "IoU threshold 1.5 must be between 0 and 1"),
        (["--iou", "nan"], "IoU threshold nan must be between 0 and 1"),
        (["--json", MISSING_DIR], f"--json: cannot write '{MISSING_DIR}': no directory"),
        (["--markdown", "{tmp}"], "--markdown: cannot write '{tmp}': it is a directory"),
        (["--max-broken", "-1", "--max-ratio", "nan", "--dataset", "no-such-dataset"], "-1.\nerror: --max-ratio"),
    ],
)
def test_bad_input_exits_2_with_a_message_before_anything_is_written(synthetic_300, tmp_path, args, expected):
    key = f"refused_{uuid.uuid4().hex[:8]}"
    defaults = {"--dataset": synthetic_300.name, "--baseline": "baseline", "--candidate": "candidate", "--key": key}
    defaults["--json"] = str(tmp_path / "r.json")
    args = [arg.format(tmp=tmp_path) for arg in args]
    done = gate(*args, *(item for name, value in defaults.items() if name not in args for item in (name, value)))
    assert done.returncode == 2 and expected.format(tmp=tmp_path) in done.stderr, done.stderr
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    synthetic_300.reload()
    assert not synthetic_300.has_field(f"{key}_score") and not (tmp_path / "r.json").exists()


def test_wrong_to_wrong_counts_only_when_asked_and_samples_without_ground_truth_never(dataset, tmp_path):
    from test_regression import classification_cases

    classification_cases(dataset).persistent = True
    args = ["--dataset", dataset.name, "--baseline", "baseline", "--candidate", "candidate", "--max-broken", "1"]
    passed = gate(*args, "--json", str(tmp_path / "r.json"))
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert passed.stdout.startswith("PASSED: 1 broken, 1 fixed on 6 samples (1 wrong_to_wrong, 3 no_ground_truth)")
    overall = json.loads((tmp_path / "r.json").read_text())["summary"]["overall"]
    assert overall == {"fixed": 1, "broken": 1, "wrong_to_wrong": 1, "no_ground_truth": 3}
    failed = gate(*args, "--count-wrong-to-wrong", "--key", "strict")
    assert failed.returncode == 1 and "overall: 2 broken > 1 allowed" in failed.stdout, failed.stdout
