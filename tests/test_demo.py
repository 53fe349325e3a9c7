"""`make demo`'s program end to end, on the test session's private database."""

import os
import subprocess
import sys

import fiftyone as fo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_demo_builds_data_trains_models_and_runs_every_operator(tmp_path):
    command = [sys.executable, "-m", "demo", "--root", str(tmp_path), "--digits", "400", "--shapes", "20"]
    try:
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        out = done.stdout
        assert "labelloop-digits (400 digit PNGs)" in out and "labelloop-shapes (20 shapes images" in out
        assert "get_labelloop_info on labelloop-digits: 400 samples" in out and "Open the App on it: make app" in out
        assert "prelabel baseline: 400 samples labelled" in out and "prelabel candidate: 400 samples labelled" in out
        assert "compute_embeddings: 400 vectors" in out
        assert "send_to_cvat: 10 shapes" in out and "load_from_cvat: 1 edited, 1 drawn" in out
        assert "compare_models on labelloop-digits: fixed " in out and "compare_models on labelloop-shapes" in out
        assert "SAM masks from the human boxes of 10 shapes" in out and "instance masks sent as CVAT masks" in out
        assert "load_from_cvat: 1 masks edited, 1 deleted, 1 drawn" in out and "compare_models on the masks" in out
        digits = fo.load_dataset("labelloop-digits")
        models = digits.info["labelloop_demo_models"]
        assert models["candidate"]["test_accuracy"] > models["baseline"]["test_accuracy"]
        assert digits.first().candidate.model_version != digits.first().baseline.model_version
        assert digits.first().candidate.logits.shape == (10,) and digits.count("embeddings") == 400
        assert digits.sum("compare_fixed") > digits.sum("compare_broken")
        assert os.path.isfile(os.path.join(models["candidate"]["path"], "config.json"))
        reviewed = fo.load_dataset("labelloop-shapes").match_tags("masks_review")
        sam = reviewed.count("sam_masks.detections")
        assert sam == reviewed.count("masks.detections.mask") > 0
        assert reviewed.count("masks.detections.accepted_run") == sam - 1  # one deleted, one drawn in CVAT
    finally:
        for name in ("labelloop-digits", "labelloop-shapes"):
            if fo.dataset_exists(name):
                fo.delete_dataset(name)
