"""Sending images to CVAT: our ``send_to_cvat`` vs FiftyOne's ``annotate()`` directly, same images, same server.

The server is the CVAT test double on loopback, so the times are the client side: reading the dataset, building
the label schema and shapes, encoding the multipart upload, our extra checks (the assignee lookup, the review field).
With ``--real`` it is the real CVAT named by LABELLOOP_CVAT_URL/USERNAME/PASSWORD (``../shared/cvat-server/up.sh``),
whose task creation and background workers count too; what the runs created there is deleted afterwards.
500 digit PNGs with their ground-truth classifications (--quick: 200), the median of --repeat alternating runs; ours
also once pre-populated from a predictions field. Then as many 128x128 shapes images whose 1-4 boxes carry instance
masks, sent as CVAT masks the same way (ours: ``send_to_cvat``; anchor: ``annotate(label_type="instances")``). Ends
with ``RESULT cvat_send ratio=<ours/annotate> ours_s=.. annotate_s=.. prefilled_s=.. images=.. server=double|real
masks_ratio=.. masks_ours_s=.. masks_annotate_s=.. masks=<instance masks sent>``.
"""

import contextlib
import statistics
import tempfile

import _setup  # a private mongod, before fiftyone is imported
import numpy as np

import fiftyone as fo

from core.annotation import send as cvat_send
from core.annotation.connection import CVATSettings
from core.store import fields
from testing import cvat_real, data
from testing.cvat_double import CVATDouble


def main():
    parser = _setup.parser(__doc__, "200 images instead of 500")
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each; the median counts")
    parser.add_argument("--real", action="store_true", help="the real CVAT of LABELLOOP_CVAT_URL/USERNAME/PASSWORD")
    args = parser.parse_args()
    images = 200 if args.quick else 500
    dataset = data.build_digits("bench-cvat-send", tempfile.mkdtemp(prefix="labelloop-bench-"), limit=images)
    dataset.compute_metadata()
    with _server(args.real) as server:
        settings = CVATSettings(server.url, server.owner.username, server.owner.password)
        ours, theirs = [], []
        for i in range(args.repeat):
            ours.append(
                _setup.timed(lambda: cvat_send.send(dataset, cvat_send.SendRequest("ground_truth"), settings))[0]
            )
            theirs.append(_setup.timed(lambda i=i: _annotate(dataset, f"anchor_{i}", settings))[0])
        dataset.set_values("predictions", [fo.Classification(label="1", confidence=0.9)] * len(dataset))
        dataset.limit(len(dataset) // 2).set_values("ground_truth", [None] * (len(dataset) // 2))
        request = cvat_send.SendRequest("ground_truth", pred_field="predictions")
        prefilled, _ = _setup.timed(lambda: cvat_send.send(dataset, request, settings))
        uploaded = len(server.tasks)
        masks = _masks_case(_masked(images), settings, args.repeat)
    ours_s, anchor_s = statistics.median(ours), statistics.median(theirs)
    kind = "real" if args.real else "double"
    print(f"{images} digit PNGs, {uploaded} tasks uploaded to the CVAT {kind}")
    print(f"send_to_cvat:          {ours_s:6.2f} s  ({images / ours_s:6.1f} images/s)")
    print(f"annotate():            {anchor_s:6.2f} s  ({images / anchor_s:6.1f} images/s)")
    print(f"send_to_cvat prefilled {prefilled:6.2f} s  (half the samples pre-populated from predictions)")
    masks_ours, masks_anchor, count = masks
    print(f"{images} shapes PNGs with {count} instance masks, as CVAT masks")
    print(f"send_to_cvat:          {masks_ours:6.2f} s  ({images / masks_ours:6.1f} images/s)")
    print(f"annotate(instances):   {masks_anchor:6.2f} s  ({images / masks_anchor:6.1f} images/s)")
    print(
        f"RESULT cvat_send ratio={ours_s / anchor_s:.2f} ours_s={ours_s:.2f} annotate_s={anchor_s:.2f} "
        f"prefilled_s={prefilled:.2f} images={images} server={kind} masks_ratio={masks_ours / masks_anchor:.2f} "
        f"masks_ours_s={masks_ours:.2f} masks_annotate_s={masks_anchor:.2f} masks={count}"
    )


def _masked(images):
    """``images`` shapes images whose boxes each carry an instance mask (the box with its top-left quarter cut)."""
    dataset = data.build_shapes("bench-cvat-masks", tempfile.mkdtemp(prefix="labelloop-bench-"), count=images)
    dataset.compute_metadata()
    values = dataset.values("ground_truth")
    for value in values:
        for detection in value.detections:
            width, height = (max(1, round(v * 128)) for v in detection.bounding_box[2:])
            mask = np.ones((height, width), bool)
            mask[: height // 2, : width // 2] = False
            detection.mask = mask
    dataset.set_values("ground_truth", values)
    return dataset


def _masks_case(dataset, settings, repeat):
    """The median seconds of ours and of ``annotate()`` sending ``dataset``'s instance masks, and the mask count."""
    ours, theirs = [], []
    request = cvat_send.SendRequest("ground_truth")
    for i in range(repeat):
        ours.append(_setup.timed(lambda: cvat_send.send(dataset, request, settings))[0])
        theirs.append(_setup.timed(lambda i=i: _annotate(dataset, f"masks_{i}", settings, "instances"))[0])
    return statistics.median(ours), statistics.median(theirs), dataset.count("ground_truth.detections.mask")


@contextlib.contextmanager
def _server(real):
    """The CVAT double, or the real server (what the runs create there is deleted afterwards)."""
    if not real:
        with CVATDouble() as double:
            yield double
        return
    if not cvat_real.configured():
        raise SystemExit("--real: set LABELLOOP_CVAT_URL, LABELLOOP_CVAT_USERNAME and LABELLOOP_CVAT_PASSWORD")
    server = cvat_real.RealCVAT()
    try:
        yield server
    finally:
        server.cleanup()


def _annotate(dataset, key, settings, kind="classification"):
    dataset.annotate(
        key,
        label_field="ground_truth",
        label_type=kind,
        classes=sorted(
            dataset.distinct(fields.label_path("ground_truth", fields.label_type(dataset, "ground_truth")) + ".label")
        ),
        attributes=False,
        backend="cvat",
        url=settings.url,
        username=settings.username,
        password=settings.password,
    )


if __name__ == "__main__":
    main()
