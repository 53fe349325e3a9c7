"""The masks step of the demo: SAM masks from the shapes' boxes, accepted as draft instance masks, corrected in CVAT
(edited there as masks), loaded back and accepted; and the two simulated detectors' masks compared.

The SAM here is the suite's tiny random-initialised one (``testing.tiny_models.sam``; no model downloads), so its
masks are blobs inside each box: the loop is what the step shows. Give ``prelabel`` a real SAM directory (or
SAM 2) for real masks."""

import os

import fiftyone.operators as foo

from testing import tiny_models
from testing.cvat_annotator import Annotator

PLUGIN = "@labelloop/mlops"
COUNT = 10  # shapes whose boxes get masks
TAG = "masks_review"
MASKS = "masks"  # the instance-mask ground truth people correct
DRAWN = ([0, 6 * 5], [20, 20, 25, 24])  # a person's new 6x5 mask: CVAT's RLE (0 unset, 30 set), its pixel box


def masks_from_boxes(shapes, models_dir):
    """SAM masks from the human boxes of ``COUNT`` shapes (tagged ``TAG``) into ``sam_masks``, accepted into the
    draft ground truth ``MASKS``; from the two simulated detectors' boxes into ``baseline_masks`` and
    ``candidate_masks``. Returns the view of those shapes."""
    sam = tiny_models.sam(os.path.join(models_dir, "sam"))
    view = shapes.limit(COUNT)
    view.tag_samples(TAG)
    view = shapes.match_tags(TAG)
    made = _operator("prelabel")(view, sam, prompt_field="ground_truth", output_field="sam_masks")
    print(f"  prelabel (masks from boxes): {made['labels']} SAM masks from the human boxes of {COUNT} shapes")
    for detector in ("baseline", "candidate"):
        _operator("prelabel")(view, sam, prompt_field=detector, output_field=f"{detector}_masks")
    print("  prelabel (masks from boxes): SAM masks from the baseline's and candidate's boxes, for the comparison")
    accepted = _operator("accept_prelabels")(view, "sam_masks", gt_field=MASKS, threshold=0.0)
    print(f"  accept_prelabels: {accepted['promoted']} SAM masks into '{MASKS}' as the draft ground truth to correct")
    return view


def send(view):
    """Sends the draft masks to CVAT, edited there as masks; returns the review's key and its task."""
    sent = _operator("send_to_cvat")(view, gt_field=MASKS, instance_shapes="masks", segment_size=5)
    print(
        f"  send_to_cvat: {sent['samples']} shapes, {sent['gt_labels']} instance masks sent as CVAT masks, "
        f"{sent['jobs']} jobs"
    )
    return sent["run_key"], sent["task_ids"][0]


def correct(url, username, password, task_id):
    """A person fixes the masks: relabels one, deletes one, draws one, completes the jobs."""
    person = Annotator(url, username, password)
    shapes = person.annotations(task_id)["shapes"]
    names = {label["id"]: name for name, label in person.labels(task_id).items()}
    person.relabel_shape(task_id, shapes[0], "square" if names[shapes[0]["label_id"]] != "square" else "circle")
    person.delete_shape(task_id, shapes[-1])
    rle, box = DRAWN
    person.add_shape(task_id, 0, "circle", "mask", [*rle, *box])
    for job in person.jobs(task_id):
        person.set_job(job["id"], stage="acceptance", state="completed")


def load(view, key):
    """Loads the corrections back and accepts them (the draft masks are kept until then)."""
    loaded = _operator("load_from_cvat")(view, review=key, cleanup=True)
    print(f"  load_from_cvat: {loaded['edited']} masks edited, {loaded['deleted']} deleted, {loaded['drawn']} drawn")
    _operator("finish_cvat_review")(view, review=key, action="accept")
    print(f"  finish_cvat_review: corrected masks accepted into '{MASKS}'")


def compare(view):
    """Compares the masks SAM made from the two simulated detectors' boxes against the corrected masks."""
    result = _operator("compare_models")(view, "baseline_masks", "candidate_masks", gt_field=MASKS, key="masks")
    print(f"  compare_models on the masks: {result['regressed_samples']} of {len(view)} shapes regressed")


def _operator(name):
    return foo.get_operator(f"{PLUGIN}/{name}")
