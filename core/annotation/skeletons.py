"""Keypoints with a skeleton go to CVAT as skeletons: one CVAT skeleton label per class, its nodes as sublabels.

FiftyOne 1.22.1 reads CVAT skeleton shapes back into Keypoints (nodes in the label's SVG order, a node marked
``outside`` as NaN) but sends keypoints only as plain points and creates no skeleton label. So where the dataset
defines a skeleton for the field (``dataset.skeletons[field]`` or ``dataset.default_skeleton``), the send's
connection makes each class a skeleton label (``type: skeleton``, the nodes as ``points`` sublabels, the edges in
the label's SVG, as CVAT's label editor does) and each keypoint a skeleton shape with one element per node; a NaN
point is an element marked ``outside`` (hidden in CVAT, which a person can show and place). The index of every
point survives the round trip.
"""

import math

import fiftyone as fo

RADIUS = 0.75  # the node circles' radius in CVAT's skeleton SVG (its editor's default)


def skeleton_of(samples: fo.core.collections.SampleCollection, field: str) -> fo.KeypointSkeleton | None:
    """The skeleton the dataset defines for Keypoints ``field`` (its own, else the default), or None."""
    dataset = samples._root_dataset
    return dataset.skeletons.get(field) or dataset.default_skeleton


def node_names(skeleton: fo.KeypointSkeleton) -> list[str]:
    """The skeleton's node names (its ``labels``, else "1", "2", ... by the edges' highest index)."""
    if skeleton.labels:
        return list(skeleton.labels)
    count = 1 + max((index for edge in skeleton.edges for index in edge), default=0)
    return [str(i + 1) for i in range(count)]


def label_spec(label: dict, skeleton: fo.KeypointSkeleton) -> dict:
    """The CVAT label ``label`` (name, attributes) as a skeleton label of ``skeleton``'s nodes and edges."""
    names = node_names(skeleton)
    places = [_place(i, len(names)) for i in range(len(names))]
    edges = [
        f'<line x1="{places[a][0]}" y1="{places[a][1]}" x2="{places[b][0]}" y2="{places[b][1]}" '
        f'data-type="edge" data-node-from="{a + 1}" data-node-to="{b + 1}"></line>'
        for path in skeleton.edges
        for a, b in zip(path, path[1:], strict=False)
    ]
    nodes = [
        f'<circle r="{RADIUS}" cx="{x}" cy="{y}" data-type="element node" data-element-id="{i + 1}" '
        f'data-node-id="{i + 1}" data-label-name="{name}"></circle>'
        for i, (name, (x, y)) in enumerate(zip(names, places, strict=True))
    ]
    sublabels = [{"name": name, "type": "points", "attributes": []} for name in names]
    return {**label, "type": "skeleton", "sublabels": sublabels, "svg": "".join(edges + nodes)}


def _place(index, count):
    """Where node ``index`` of ``count`` sits in the label's drawing (on a circle; only the editor shows it)."""
    angle = 2 * math.pi * index / max(count, 1)
    return round(50 + 40 * math.cos(angle), 2), round(50 + 40 * math.sin(angle), 2)


def sublabel_ids(labels: list[dict]) -> dict[str, dict[str, int]]:
    """{skeleton label name: {node name: sublabel id}} of a task's labels as CVAT lists them."""
    return {
        label["name"]: {sub["name"]: sub["id"] for sub in label.get("sublabels") or []}
        for label in labels
        if label.get("type") == "skeleton"
    }


def as_skeleton(shape: dict, names: list[str], hidden: list[bool]) -> dict:
    """FiftyOne's points ``shape`` (one point per node) as a skeleton shape: one element per node, named by node
    (``with_sublabel_ids`` gives them CVAT's ids once the task exists); the ``hidden`` ones (NaN) ``outside``."""
    pairs = list(zip(shape["points"][::2], shape["points"][1::2], strict=True))
    elements = [
        {
            "type": "points",
            "label_id": name,
            "frame": shape["frame"],
            "points": [x, y],
            "outside": outside,
            "occluded": False,
            "z_order": 0,
            "group": shape["group"],
            "source": "manual",
            "attributes": [],
        }
        for name, (x, y), outside in zip(names, pairs, hidden, strict=True)
    ]
    return {**shape, "type": "skeleton", "points": [], "elements": elements}


def with_sublabel_ids(shapes: list[dict], ids: dict[str, dict[str, int]]) -> None:
    """Gives the elements of skeleton ``shapes`` (their ``label_id`` still the class name) their sublabels' ids,
    in place."""
    for shape in shapes:
        nodes = ids.get(shape["label_id"], {})
        for element in shape.get("elements") or []:
            element["label_id"] = nodes.get(element["label_id"], element["label_id"])


def points_problem(keypoint: fo.Keypoint, skeleton: fo.KeypointSkeleton | None) -> str | None:
    """Why ``keypoint`` cannot be a skeleton of ``skeleton`` (None when it can, or without a skeleton)."""
    if skeleton is None:
        return None
    count = len(node_names(skeleton))
    if len(keypoint.points or []) != count:
        return (
            f"'{keypoint.label}' ({keypoint.id}) has {len(keypoint.points or [])} points, the field's skeleton "
            f"{count} nodes: give it one point per node (NaN for one not visible)"
        )
    return None
