"""Sending images to CVAT: our ``send_to_cvat`` vs FiftyOne's ``annotate()`` directly, same images, same server.

The server is the CVAT test double on loopback, so the times are the client side: reading the dataset, building
the label schema and shapes, encoding the multipart upload, our extra checks (the assignee lookup, the review field).
With ``--real`` it is the real CVAT named by LABELLOOP_CVAT_URL/USERNAME/PASSWORD (``../shared/cvat-server/up.sh``),
whose task creation and background workers count too; what the runs created there is deleted afterwards.
500 digit PNGs with their ground-truth classifications (--quick: 200), the median of --repeat alternating runs; ours
also once pre-populated from a predictions field. Ends with
``RESULT cvat_send ratio=<ours/annotate> ours_s=.. annotate_s=.. prefilled_s=.. images=.. server=double|real``.
"""

import contextlib
import statistics
import tempfile

import _setup  # a private mongod, before fiftyone is imported

import fiftyone as fo

from core.annotation import send as cvat_send
from core.annotation.connection import CVATSettings
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
    ours_s, anchor_s = statistics.median(ours), statistics.median(theirs)
    kind = "real" if args.real else "double"
    print(f"{images} digit PNGs, {uploaded} tasks uploaded to the CVAT {kind}")
    print(f"send_to_cvat:          {ours_s:6.2f} s  ({images / ours_s:6.1f} images/s)")
    print(f"annotate():            {anchor_s:6.2f} s  ({images / anchor_s:6.1f} images/s)")
    print(f"send_to_cvat prefilled {prefilled:6.2f} s  (half the samples pre-populated from predictions)")
    print(
        f"RESULT cvat_send ratio={ours_s / anchor_s:.2f} ours_s={ours_s:.2f} annotate_s={anchor_s:.2f} "
        f"prefilled_s={prefilled:.2f} images={images} server={kind}"
    )


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


def _annotate(dataset, key, settings):
    dataset.annotate(
        key,
        label_field="ground_truth",
        label_type="classification",
        classes=sorted(dataset.distinct("ground_truth.label")),
        attributes=False,
        backend="cvat",
        url=settings.url,
        username=settings.username,
        password=settings.password,
    )


if __name__ == "__main__":
    main()
