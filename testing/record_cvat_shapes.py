"""Records FiftyOne's CVAT round trips for the shapes beyond boxes and tags against a real CVAT server.

    python -m testing.record_cvat_shapes OUT_DIR [SCENARIO ...]

reads LABELLOOP_CVAT_URL / LABELLOOP_CVAT_USERNAME / LABELLOOP_CVAT_PASSWORD and writes one folder per scenario
(``fo_polygons``, ``fo_instances``, ``fo_segmentation``, ``fo_keypoints``, ``ll_skeletons``, ``fo_video``) in the
format of tests/data/cvat-contract/: phases ``annotate`` (FiftyOne ``annotate()``), ``annotator``
(testing/cvat_annotator.py, PATCHes of job annotations as CVAT's UI sends them) and ``load``
(``load_annotations(cleanup=True)``), plus a README.md and the driver's ``_summary.json``. Media are made locally
(small PNGs, an MPEG-4 video by OpenCV). Whatever a scenario leaves on the server (tasks, projects) is deleted
afterwards.
"""

import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from testing.cvat_annotator import Annotator
from testing.cvat_recorder import Recorder

SIZE = (64, 48)  # width, height of every image and video frame
VIDEO_FRAMES = 5


@dataclass
class Scenario:
    """What FiftyOne sends (``build`` fills a dataset, ``annotate`` the keyword arguments) and what the annotator
    then does (``edit(annotator, task_id)`` returns what it did, in words)."""

    about: str
    build: Callable
    annotate: dict
    edit: Callable
    connect: Callable | None = None
    """``connect(dataset, credentials)``: extra ``annotate()`` keyword arguments (another backend and connection)."""


# ----- media ------------------------------------------------------------------------------------------------------


def image(path: Path, seed: int) -> str:
    """A small PNG with a few coloured shapes."""
    rng = np.random.default_rng(seed)
    picture = Image.new("RGB", SIZE, tuple(int(c) for c in rng.integers(0, 80, 3)))
    draw = ImageDraw.Draw(picture)
    draw.polygon([(8, 40), (20, 10), (32, 40)], fill=(200, 60, 60))
    draw.rectangle([40, 8, 56, 20], fill=(60, 200, 60))
    picture.save(path)
    return str(path)


def video(path: Path, frames: int = VIDEO_FRAMES) -> str:
    """A tiny MPEG-4 video: a white square moving right over ``frames`` frames."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 5, SIZE)
    for i in range(frames):
        frame = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
        frame[16:32, 8 + 6 * i : 24 + 6 * i] = 255
        writer.write(frame)
    writer.release()
    return str(path)


def _dataset(name, root, count, fields):
    """``count`` image samples with ``fields(i)`` as their labels."""
    import fiftyone as fo

    dataset = fo.Dataset(name, overwrite=True)
    paths = [image(root / f"{name}{i}.png", i) for i in range(count)]
    dataset.add_samples([fo.Sample(filepath=p, **fields(i)) for i, p in enumerate(paths)])
    return dataset


# ----- scenarios --------------------------------------------------------------------------------------------------


def build_polygons(root):
    import fiftyone as fo

    roof = fo.Polyline(label="roof", points=[[(0.125, 0.83), (0.31, 0.21), (0.5, 0.83)]], closed=True, filled=True)
    square = [(0.6, 0.1), (0.9, 0.1), (0.9, 0.45), (0.6, 0.45)]
    field = fo.Polyline(label="field", points=[square], closed=True, filled=True)
    road = fo.Polyline(label="road", points=[[(0.05, 0.95), (0.5, 0.9), (0.95, 0.95)]], closed=False, filled=False)
    labels = [[roof, field, road], [field.copy()], []]
    return _dataset("polygons", root, 3, lambda i: {"regions": fo.Polylines(polylines=labels[i])})


def edit_polygons(annotator, task_id):
    shapes = annotator.annotations(task_id)["shapes"]
    polygon = next(s for s in shapes if s["type"] == "polygon" and s["frame"] == 0)
    annotator.move_shape(task_id, polygon, 4, 2)
    annotator.delete_shape(task_id, next(s for s in shapes if s["frame"] == 1))
    annotator.add_shape(task_id, 2, "roof", "polygon", [10.0, 40.0, 20.0, 12.0, 30.0, 40.0])
    return "moved a polygon on frame 0 by (4, 2) px; deleted the polygon on frame 1; drew a roof polygon on frame 2"


def _mask(height, width, kind):
    if kind == "box":
        return np.ones((height, width), bool)
    return np.tri(height, width, k=width - height, dtype=bool)  # a triangle: two runs a row


def build_instances(root):
    import fiftyone as fo

    def detections(i):
        box = fo.Detection(label="block", bounding_box=[40 / 64, 8 / 48, 16 / 64, 12 / 48], mask=_mask(12, 16, "box"))
        tri = fo.Detection(label="roof", bounding_box=[8 / 64, 10 / 48, 12 / 64, 8 / 48], mask=_mask(8, 12, "tri"))
        return {"objects": fo.Detections(detections=[[box, tri], [box.copy()], []][i])}

    return _dataset("instances", root, 3, detections)


def edit_instances(annotator, task_id):
    shapes = annotator.annotations(task_id)["shapes"]
    annotator.relabel_shape(task_id, next(s for s in shapes if s["frame"] == 0), "roof")
    annotator.delete_shape(task_id, next(s for s in shapes if s["frame"] == 1))
    annotator.add_shape(task_id, 2, "block", "mask", [0, 30, 20, 30, 25, 34])  # RLE, then the box
    return "relabelled a mask on frame 0 to roof; deleted the mask on frame 1; drew a 6x5 block mask on frame 2"


def build_segmentation(root):
    import fiftyone as fo

    def segmentation(i):
        mask = np.zeros((SIZE[1], SIZE[0]), np.uint8)
        mask[:24] = 1  # sky
        mask[24:] = 2  # ground
        mask[6 : 12 + i, 40:48] = 3  # sun, a hole in the sky
        return {"scene": fo.Segmentation(mask=mask)}

    return _dataset("segmentation", root, 2, segmentation)


def edit_segmentation(annotator, task_id):
    shapes = annotator.annotations(task_id)["shapes"]
    labels = {label["id"]: name for name, label in annotator.labels(task_id).items()}
    annotator.delete_shape(task_id, next(s for s in shapes if s["frame"] == 0 and labels[s["label_id"]] == "sun"))
    annotator.add_shape(task_id, 1, "sun", "mask", [0, 16, 4, 30, 7, 33])  # RLE, then the box
    return "deleted the sun mask on frame 0; drew a 4x4 sun mask on the ground of frame 1"


def build_keypoints(root):
    import fiftyone as fo

    person = fo.Keypoint(label="person", points=[(0.2, 0.2), (0.3, 0.4), (0.25, 0.6)])
    cat = fo.Keypoint(label="cat", points=[(0.7, 0.5), (0.8, 0.55), (0.75, 0.7), (0.85, 0.75)])
    labels = [[person, cat], [person.copy()], []]
    return _dataset("keypoints", root, 3, lambda i: {"pose": fo.Keypoints(keypoints=labels[i])})


def edit_keypoints(annotator, task_id):
    shapes = annotator.annotations(task_id)["shapes"]
    annotator.move_shape(task_id, next(s for s in shapes if s["frame"] == 0), 3, 3)
    annotator.delete_shape(task_id, next(s for s in shapes if s["frame"] == 1))
    annotator.add_shape(task_id, 2, "cat", "points", [10.0, 10.0, 20.0, 12.0])
    return "moved a points shape on frame 0 by (3, 3) px; deleted the one on frame 1; drew 2 cat points on frame 2"


def build_skeletons(root):
    import fiftyone as fo

    dataset = build_keypoints(root)
    dataset.skeletons = {"pose": fo.KeypointSkeleton(labels=["head", "hand", "foot"], edges=[[0, 1, 2]])}
    sample = dataset.first()
    sample.pose.keypoints[1].points = sample.pose.keypoints[1].points[:3]  # a cat of three nodes, like the person
    sample.pose.keypoints[1].points[1] = (float("nan"), float("nan"))  # not visible
    sample.save()
    return dataset


def connect_skeletons(dataset, credentials):
    """LabelLoop's send connection, which makes skeleton labels and shapes (FiftyOne 1.22.1 sends points only)."""
    from core.annotation.backend import ConnectedCVATBackendConfig
    from core.annotation.connection import CVATSettings
    from core.annotation.send import SendConnection
    from core.annotation.skeletons import skeleton_of

    connection = SendConnection(CVATSettings(**credentials))
    connection.skeleton = skeleton_of(dataset, "pose")
    return {"backend": ConnectedCVATBackendConfig, "connection": connection}


def edit_skeletons(annotator, task_id):
    shapes = annotator.annotations(task_id)["shapes"]
    first = [s for s in shapes if s["frame"] == 0]
    hidden = next(s for s in first if any(e["outside"] for e in s["elements"]))
    annotator.place_node(task_id, hidden, "hand", (40.0, 30.0))
    annotator.move_shape(task_id, next(s for s in first if s is not hidden), 3, 3)
    annotator.delete_shape(task_id, next(s for s in shapes if s["frame"] == 1))
    annotator.add_skeleton(task_id, 2, "cat", [(10.0, 10.0), None, (20.0, 30.0)])
    return (
        "placed the hidden hand of a skeleton on frame 0; moved the other skeleton by (3, 3) px; deleted the one on "
        "frame 1; drew a cat skeleton on frame 2 with its hand outside"
    )


def build_video(root):
    import fiftyone as fo

    dataset = fo.Dataset("video", overwrite=True)
    sample = fo.Sample(filepath=video(root / "clip.mp4"))
    sample.metadata = fo.VideoMetadata(
        frame_width=SIZE[0], frame_height=SIZE[1], total_frame_count=VIDEO_FRAMES, frame_rate=5.0, duration=1.0
    )
    for number in range(1, VIDEO_FRAMES + 1):
        x = (8 + 6 * (number - 1)) / SIZE[0]
        objects = [fo.Detection(label="square", bounding_box=[x, 16 / 48, 16 / 64, 16 / 48], index=1)]
        if number == 2:
            objects.append(fo.Detection(label="spot", bounding_box=[0.75, 0.7, 0.1, 0.1]))
        sample.frames[number] = fo.Frame(objects=fo.Detections(detections=objects))
    dataset.add_sample(sample)
    return dataset


def edit_video(annotator, task_id):
    found = annotator.annotations(task_id)
    annotator.move_track(task_id, found["tracks"][0], 0, 4)
    annotator.add_box(task_id, 3, "spot", [40.0, 4.0, 50.0, 12.0])
    seen = f"saw {len(found['tracks'])} track(s) and {len(found['shapes'])} shape(s)"
    return seen + "; moved every keyframe of the first track down 4 px; drew a spot box on frame 3"


SCENARIOS = {
    "fo_polygons": Scenario(
        "a Polylines field with closed filled polygons as CVAT polygon shapes (label_type polygons: FiftyOne "
        "leaves the open polyline of the same field out)",
        build_polygons,
        {"label_field": "regions", "label_type": "polygons", "classes": ["roof", "field"]},
        edit_polygons,
    ),
    "fo_instances": Scenario(
        "a Detections field with instance masks as CVAT mask shapes (RLE)",
        build_instances,
        {"label_field": "objects", "label_type": "instances", "classes": ["block", "roof"]},
        edit_instances,
    ),
    "fo_segmentation": Scenario(
        "a semantic Segmentation mask (sky/ground/sun) as one CVAT mask shape per class region",
        build_segmentation,
        {"label_field": "scene", "label_type": "segmentation", "mask_targets": {1: "sky", 2: "ground", 3: "sun"}},
        edit_segmentation,
    ),
    "fo_keypoints": Scenario(
        "a Keypoints field as CVAT points shapes",
        build_keypoints,
        {"label_field": "pose", "label_type": "keypoints", "classes": ["person", "cat"]},
        edit_keypoints,
    ),
    "ll_skeletons": Scenario(
        "a Keypoints field whose dataset defines a skeleton, as CVAT skeleton labels and shapes made by LabelLoop's "
        "send connection (annotate() with ConnectedCVATBackendConfig; a NaN point goes as an element marked outside)",
        build_skeletons,
        {"label_field": "pose", "label_type": "keypoints", "classes": ["person", "cat"]},
        edit_skeletons,
        connect_skeletons,
    ),
    "fo_video": Scenario(
        f"a {VIDEO_FRAMES}-frame {SIZE[0]}x{SIZE[1]} MPEG-4 video with frame-level detections: one track (index 1) "
        "on every frame, one detection without index on frame 2",
        build_video,
        {"label_field": "frames.objects", "label_type": "detections", "classes": ["square", "spot"]},
        edit_video,
    ),
}


# ----- running ----------------------------------------------------------------------------------------------------


def summarise(dataset, field: str) -> dict:
    """``{file name: [label, ...]}`` of ``field`` (for frames, ``{file name: {frame: [...]}}``), for the summary."""
    out = {}
    for sample in dataset:
        name = os.path.basename(sample.filepath)
        if field.startswith("frames."):
            frames = {n: _describe(f[field[7:]]) for n, f in sample.frames.items()}
            out[name] = {n: labels for n, labels in frames.items() if labels}
        else:
            out[name] = _describe(sample[field])
    return out


def _describe(label):
    if label is None:
        return []
    if hasattr(label, "mask") and not hasattr(label, "detections"):  # a Segmentation
        values = Counter(np.asarray(label.get_mask()).ravel().tolist())
        return [{"mask_pixels": {str(k): v for k, v in sorted(values.items())}}]
    items = getattr(label, label._LABEL_LIST_FIELD)
    return [_item(item) for item in items]


def _item(item):
    out = {"id": item.id, "label": item.label}
    for name in ("bounding_box", "points", "closed", "filled", "index"):
        value = getattr(item, name, None)
        if value is not None:
            out[name] = np.round(np.asarray(value, float), 3).tolist() if name in ("bounding_box", "points") else value
    if getattr(item, "mask", None) is not None:
        out["mask_pixels"] = int(np.asarray(item.mask).sum())
    return out


def record(name: str, out_dir: Path, credentials: dict, work: Path) -> dict:
    """Runs scenario ``name`` under the recorder into ``out_dir / name``; returns the driver's summary."""
    import fiftyone as fo

    scenario, folder = SCENARIOS[name], out_dir / name
    shutil.rmtree(folder, ignore_errors=True)
    dataset = scenario.build(work)
    field = scenario.annotate["label_field"]
    summary = {
        "scenario": name,
        "about": scenario.about,
        "fiftyone": fo.__version__,
        "before": summarise(dataset, field),
    }
    with Recorder(folder) as recorder:
        recorder.phase("annotate")
        backend = scenario.connect(dataset, credentials) if scenario.connect else {"backend": "cvat"}
        results = dataset.annotate(name, launch_editor=False, **backend, **scenario.annotate, **credentials)
        task_id = results.task_ids[0]
        recorder.phase("annotator")
        annotator = Annotator(credentials["url"], credentials["username"], credentials["password"])
        summary["annotator"] = f"task {task_id}: " + scenario.edit(annotator, task_id)
        recorder.phase("load")
        dataset.load_annotations(name, cleanup=True, **credentials)
    summary |= {"after": summarise(dataset, field), "exchanges": recorder.seq}
    (folder / "_summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (folder / "README.md").write_text(readme(folder, scenario, summary))
    dataset.delete()
    return summary


# ----- the folder's README ----------------------------------------------------------------------------------------


def _exchanges(folder):
    return [json.loads(p.read_text()) for p in sorted(folder.glob("[0-9]*.json"))]


def _request_line(exchange):
    request = exchange["request"]
    query = "&".join(f"{k}={v}" for k, v in request["query"])
    return f"`{request['method']} {request['path']}{'?' + query if query else ''}`"


def _objects(body):
    """``"2 shapes (polygon, polyline), 1 track"``: what an annotations body holds."""
    if not body or body["kind"] != "json" or not {"tags", "shapes", "tracks"} & set(body["json"] or {}):
        return ""
    found = []
    for kind in ("tags", "shapes", "tracks"):
        items = [i for i in body["json"].get(kind) or [] if isinstance(i, dict)]
        if items:
            types = Counter(i.get("type") or f"{len(i.get('shapes', []))} keyframes" for i in items)
            found.append(f"{len(items)} {kind} ({', '.join(f'{n}x {t}' for t, n in types.items())})")
    return "; ".join(found) or "nothing"


def _key_steps(exchanges):
    """One line for each exchange that changes or reads annotations, creates or deletes a task."""
    lines = []
    for e in exchanges:
        request, response = e["request"], e["response"]
        if "annotations" in request["path"] or request["method"] in ("POST", "DELETE"):
            sent, answered = _objects(request["body"]), _objects(response["body"])
            what = f"sent {sent}; " if sent else ""
            lines.append(
                f"* {e['seq']:03d} {e['phase']}: {_request_line(e)} {what}→ {response['status']}"
                + (f", answered {answered}" if answered else "")
            )
    return lines


def _flat(labels):
    """``[(frame or None, label)]`` of a summarised sample (frames for a video)."""
    if isinstance(labels, dict):
        return [(int(frame), item) for frame, items in labels.items() for item in items]
    return [(None, item) for item in labels]


def _results(before, after):
    """One line a sample: which labels FiftyOne kept unchanged, changed, lost and gained by the load."""
    lines = []
    for name in before:
        old, new = _flat(before[name]), _flat(after.get(name, []))
        if not any("id" in item for _, item in old + new):
            lines.append(f"* {name}: {[i for _, i in old]} → {[i for _, i in new]}")
            continue
        olds, news = {i["id"]: (f, i) for f, i in old}, {i["id"]: (f, i) for f, i in new}
        changed = [f"{i['label']} {k[-4:]}" for k, (f, i) in news.items() if k in olds and olds[k] != (f, i)]
        gone = [f"{i['label']} {k[-4:]}" for k, (f, i) in olds.items() if k not in news]
        drawn = [f"{i['label']}" + (f" on frame {f}" if f else "") for k, (f, i) in news.items() if k not in olds]
        kept = len(olds) - len(changed) - len(gone)
        lines.append(f"* {name}: {kept} unchanged, changed {changed}, removed {gone}, new {drawn}")
    return lines


def _backend(scenario):
    if scenario.connect is None:
        return '"cvat"'
    return "ConnectedCVATBackendConfig, connection=SendConnection(settings) (its .skeleton set)"


def readme(folder: Path, scenario: Scenario, summary: dict) -> str:
    """The folder's README: what was done, what the server answered at the key steps, an index."""
    exchanges = _exchanges(folder)
    options = ", ".join(f"{k}={v!r}" for k, v in scenario.annotate.items())
    index = [f"| {e['seq']:03d} | {e['phase']} | {_request_line(e)} | {e['response']['status']} |" for e in exchanges]
    return "\n".join(
        [
            f"# {folder.name} — {scenario.about}",
            "",
            "Driver: `python -m testing.record_cvat_shapes OUT_DIR " + folder.name + "` (testing/record_cvat_shapes.py,"
            " recorder testing/cvat_recorder.py). Media made locally; `_summary.json` has the labels before and after.",
            "```python",
            f'dataset.annotate("{folder.name}", backend={_backend(scenario)}, {options}, url=..., username="admin",'
            " password=..., launch_editor=False)",
            "```",
            "Phases: `annotate` → `annotator` (testing/cvat_annotator.py: `PATCH /api/jobs/{id}/annotations/?action=`,"
            f' as CVAT\'s UI) → `load` (`load_annotations("{folder.name}", cleanup=True)`).',
            "",
            f"Annotator: {summary['annotator']}.",
            "",
            "## What the server answered",
            *_key_steps(exchanges),
            "",
            "## Result in FiftyOne (label ids' last 4 digits; values in `_summary.json`)",
            *_results(summary["before"], summary["after"]),
            "",
            "## Index",
            "",
            "| # | phase | request | status |",
            "|---|---|---|---|",
            *index,
            "",
        ]
    )


# ----- main -------------------------------------------------------------------------------------------------------


def _credentials():
    names = ("LABELLOOP_CVAT_URL", "LABELLOOP_CVAT_USERNAME", "LABELLOOP_CVAT_PASSWORD")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        sys.exit(f"set {', '.join(missing)}")
    url, username, password = (os.environ[n] for n in names)
    return {"url": url.rstrip("/"), "username": username, "password": password}


def _private_database():
    """A private mongod for FiftyOne unless FIFTYONE_DATABASE_URI names one (before fiftyone is imported)."""
    if not os.environ.get("FIFTYONE_DATABASE_URI"):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
        from harness import mongo

        mongo.start_for_session()
    os.environ.setdefault("FIFTYONE_DO_NOT_TRACK", "true")


def main(argv: list[str] | None = None) -> None:
    """Records the named scenarios (all by default) into OUT_DIR, then deletes what they left on the server."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        sys.exit(__doc__)
    out_dir, names = Path(argv[0]), argv[1:] or list(SCENARIOS)
    credentials = _credentials()
    _private_database()
    from testing.cvat_real import RealCVAT

    server = RealCVAT()  # remembers the newest task/project: deletes only what comes after
    try:
        with tempfile.TemporaryDirectory() as work:
            for name in names:
                summary = record(name, out_dir, credentials, Path(work))
                print(f"{name}: {summary['exchanges']} exchanges; {summary['annotator']}")
    finally:
        left = {"tasks": list(server.tasks), "projects": list(server.projects)}
        server.cleanup()
        print(f"deleted what was left on the server: {left}")


if __name__ == "__main__":
    main()
