"""A simulated CVAT annotator: a person in CVAT's UI, working through the server's REST API over HTTP.

Like the recorded annotators it logs in (``POST /api/auth/login``, then session cookie + ``X-CSRFToken``) and edits
inside the job that holds the frame (``PATCH /api/jobs/{id}/annotations/?action=create|update|delete``), sending
whole objects as the UI does. Errors raise ``requests.HTTPError`` (``.response`` has CVAT's answer).
"""

import requests


class Annotator:
    """``username`` logged in to the CVAT server at ``url``."""

    def __init__(self, url, username, password, verify=True):
        """``verify``: True, a CA bundle's path or False (passed with every request: a session's own ``verify`` loses
        to ``REQUESTS_CA_BUNDLE``)."""
        self._api, self._verify = f"{url}/api", verify
        self._http = requests.Session()
        # the UI's page is the Referer: over https Django refuses a session's writes without one
        self._http.headers.update({"Accept": "application/vnd.cvat+json", "Referer": f"{url}/"})
        self.key = self.call("POST", "/auth/login", json={"username": username, "password": password})["key"]
        self._http.headers["X-CSRFToken"] = self._http.cookies["csrftoken"]

    def call(self, method, path, **kwargs):
        """Any API call, e.g. ``call("GET", "/tasks/3")``; returns the JSON answer."""
        response = self._http.request(method, self._api + path, verify=self._verify, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def _pages(self, path):
        url, results = self._api + path, []
        while url:
            page = self._http.get(url, verify=self._verify)
            page.raise_for_status()
            results += page.json()["results"]
            url = page.json()["next"]
        return results

    # ----- looking -----------------------------------------------------------------------------------------------

    def tasks(self):
        return self._pages("/tasks")

    def task(self, task_id):
        return self.call("GET", f"/tasks/{task_id}")

    def jobs(self, task_id):
        return self._pages(f"/jobs?task_id={task_id}")

    def labels(self, task_id):
        """``{name: label}`` of the task's labels, read through a job as CVAT's UI does (a job's assignee may not
        read the task: real CVAT answers 403 to ``/labels?task_id=`` for them)."""
        job_id = self.jobs(task_id)[0]["id"]
        return {label["name"]: label for label in self._pages(f"/labels?job_id={job_id}")}

    def labels_by_id(self, task_id):
        """``{id: label}`` of the task's labels (see ``labels``)."""
        return {label["id"]: label for label in self.labels(task_id).values()}

    def frames(self, task_id):
        """The frame names (the uploaded files' names) of the task's jobs this person sees, in frame order."""
        names = {}
        for job in self.jobs(task_id):
            meta = self.call("GET", f"/jobs/{job['id']}/data/meta")
            names |= {meta["start_frame"] + i: frame["name"] for i, frame in enumerate(meta["frames"])}
        return [names[frame] for frame in sorted(names)]

    def annotations(self, task_id):
        """What the annotator sees in the task's jobs: ``{"tags": [...], "shapes": [...], "tracks": [...]}``."""
        seen = {"tags": [], "shapes": [], "tracks": []}
        for job in self.jobs(task_id):
            found = self.call("GET", f"/jobs/{job['id']}/annotations/")
            for kind, objects in seen.items():
                objects += found[kind]
        return seen

    def find(self, task_id, kind, value):
        """The shape/tag (``kind`` "shapes"/"tags") with an attribute of the given value, e.g. FiftyOne's label id."""
        found = self.annotations(task_id)[kind]
        return next(obj for obj in found if any(a["value"] == value for a in obj["attributes"]))

    # ----- editing -----------------------------------------------------------------------------------------------

    def _job_of(self, task_id, frame):
        return next(j["id"] for j in self.jobs(task_id) if j["start_frame"] <= frame <= j["stop_frame"])

    def _edit(self, task_id, action, kind, obj):
        job_id = self._job_of(task_id, obj["frame"])
        answer = self.call("PATCH", f"/jobs/{job_id}/annotations/?action={action}", json={kind: [obj]})
        return answer[kind][0]

    def _defaults(self, task_id, name):
        label = self.labels(task_id)[name]
        return label["id"], [{"spec_id": a["id"], "value": a["default_value"]} for a in label["attributes"]]

    def move_shape(self, task_id, shape, dx, dy):
        """Drags ``shape`` (a shape dict as listed; a skeleton with all its elements) by ``(dx, dy)`` pixels."""
        if shape["type"] == "skeleton":
            elements = [e | {"points": _shifted(e["points"], dx, dy)} for e in shape["elements"]]
            return self._edit(task_id, "update", "shapes", shape | {"elements": elements})
        moved = {k: v for k, v in shape.items() if k != "elements"} | {"points": _shifted(shape["points"], dx, dy)}
        return self._edit(task_id, "update", "shapes", moved)

    def place_node(self, task_id, shape, node, point):
        """Puts node ``node`` (its name) of skeleton ``shape`` at pixel ``point``, shown (no longer ``outside``)."""
        sublabels = {sub["id"]: sub["name"] for sub in self.labels_by_id(task_id)[shape["label_id"]]["sublabels"]}
        elements = [
            e | {"points": list(point), "outside": False} if sublabels[e["label_id"]] == node else e
            for e in shape["elements"]
        ]
        return self._edit(task_id, "update", "shapes", shape | {"elements": elements})

    def add_skeleton(self, task_id, frame, label, points):
        """Draws a skeleton of class ``label`` with one pixel point per node, in the label's sublabel order (None:
        that node ``outside``)."""
        label_id, attributes = self._defaults(task_id, label)
        nodes = self.labels(task_id)[label]["sublabels"]
        elements = [
            {
                "type": "points",
                "label_id": node["id"],
                "frame": frame,
                "points": list(point) if point is not None else [0.0, 0.0],
                "outside": point is None,
                "attributes": [],
            }
            for node, point in zip(nodes, points, strict=True)
        ]
        shape = {"type": "skeleton", "label_id": label_id, "frame": frame, "points": [], "attributes": attributes}
        return self._edit(task_id, "create", "shapes", shape | {"elements": elements})

    def delete_shape(self, task_id, shape):
        keep = ("type", "label_id", "frame", "id", "points")
        return self._edit(task_id, "delete", "shapes", {k: shape[k] for k in keep})

    def add_box(self, task_id, frame, label, box):
        """Draws a rectangle ``box`` = ``[x1, y1, x2, y2]`` (pixels) of class ``label`` on frame ``frame``."""
        return self.add_shape(task_id, frame, label, "rectangle", box)

    def add_shape(self, task_id, frame, label, shape_type, points):
        """Draws a shape of ``shape_type`` ("rectangle", "polygon", "polyline", "points", or "mask": CVAT's RLE
        followed by the box ``x1, y1, x2, y2``) with the flat pixel ``points`` of class ``label`` on frame ``frame``."""
        label_id, attributes = self._defaults(task_id, label)
        shape = {"type": shape_type, "label_id": label_id, "frame": frame, "points": points, "attributes": attributes}
        return self._edit(task_id, "create", "shapes", shape)

    def move_track(self, task_id, track, dx, dy):
        """Drags every keyframe of ``track`` (a track dict as listed) by ``(dx, dy)`` pixels."""
        shapes = [shape | {"points": _shifted(shape["points"], dx, dy)} for shape in track["shapes"]]
        return self._edit(task_id, "update", "tracks", track | {"shapes": shapes})

    def relabel_tag(self, task_id, tag, label):
        """Changes a tag's class as the UI does: the new label's attributes are reset to their defaults."""
        label_id, attributes = self._defaults(task_id, label)
        changed = tag | {"label_id": label_id, "attributes": attributes}
        return self._edit(task_id, "update", "tags", changed)

    def relabel_shape(self, task_id, shape, label):
        """Changes a shape's class as the UI does: the new label's attributes are reset to their defaults."""
        label_id, attributes = self._defaults(task_id, label)
        changed = {k: v for k, v in shape.items() if k != "elements"} | {"label_id": label_id, "attributes": attributes}
        return self._edit(task_id, "update", "shapes", changed)

    def delete_tag(self, task_id, tag):
        return self._edit(task_id, "delete", "tags", {k: tag[k] for k in ("label_id", "frame", "id")})

    def set_job(self, job_id, **fields):
        """PATCHes a job, e.g. ``state="completed"``, ``stage="validation"``."""
        return self.call("PATCH", f"/jobs/{job_id}", json=fields)


def _shifted(points, dx, dy):
    """Flat ``[x, y, x, y, ...]`` pixel points moved by ``(dx, dy)``."""
    return [p + (dy if i % 2 else dx) for i, p in enumerate(points)]
