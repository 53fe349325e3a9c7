"""What reliability cases share: tiny local models and small base datasets built once (each case gets fresh
copies), the calls as the SDK makes them, fault injection into the loaded plugin, and the "other users" whose
concurrent edits must survive."""

import importlib
import itertools
import os
import uuid
from contextlib import contextmanager
from unittest import mock

import fiftyone as fo
import fiftyone.operators as foo

from harness import operators as ops
from testing import data

DIGITS = [str(i) for i in range(10)]
BATCH = 8  # the batch size of the pre-labelling cases: several batches on the base datasets


class Model:
    """A placeholder for the local directory of a tiny model (``Resources.models[task]``) in a call's arguments."""

    def __init__(self, task):
        self.task = task


CLASSIFIER, DETECTOR, EMBEDDER = Model("classification"), Model("detection"), Model("embedding")


class Resources:
    """Models (local directories by task) and base datasets: ``digits`` (48 PNGs, human ``ground_truth``
    classifications, the tiny classifier's ``predictions`` with logits, ``embeddings``) and ``shapes`` (16 PNGs,
    human ``ground_truth`` boxes, simulated ``baseline`` and ``candidate`` detections)."""

    def __init__(self, root, models=None):
        self.root = str(root)
        self.models = models or build_models(os.path.join(self.root, "models"))
        self.journal = Journal()
        self._created = []
        self._bases = {"digits": self._base_digits(), "shapes": self._base_shapes()}

    def copy(self, base):
        """A fresh copy of base dataset ``base`` for one case (deleted by ``cleanup``)."""
        return self.track(self._bases[base].clone(self.unique_name(base)))

    def new_dataset(self):
        """An empty dataset for one case."""
        return self.track(fo.Dataset(self.unique_name("empty")))

    def private_digits(self, count=24):
        """Digits whose image files belong to this case alone (so it may damage them)."""
        name = self.unique_name("digits-files")
        return self.track(data.build_digits(name, os.path.join(self.root, name), limit=count))

    def track(self, dataset):
        self._created.append(dataset.name)
        return dataset

    def cleanup(self):
        """Deletes the datasets of the last case and forgets its journal."""
        for name in self._created:
            if fo.dataset_exists(name):
                fo.delete_dataset(name)
        self._created.clear()
        self.journal.clear()

    def close(self):
        self.cleanup()
        for dataset in self._bases.values():
            dataset.delete()

    def path(self, value):
        """``value`` with a ``Model`` placeholder replaced by the model's directory."""
        return self.models[value.task] if isinstance(value, Model) else value

    @staticmethod
    def unique_name(what):
        return f"reliability-{what}-{uuid.uuid4().hex[:8]}"

    def _base_digits(self):
        dataset = data.build_digits(self.unique_name("digits"), os.path.join(self.root, "digits"), limit=48)
        operator("prelabel")(dataset, self.models["classification"], store_logits=True, batch_size=16)
        operator("compute_embeddings")(dataset, self.models["embedding"])
        return dataset

    def _base_shapes(self):
        dataset = data.build_shapes(self.unique_name("shapes"), os.path.join(self.root, "shapes"), count=16)
        data.add_simulated_predictions(dataset)
        return dataset


def build_models(root):
    """The tiny models the cases use, by task (fixed seeds, no network)."""
    from testing import tiny_models as tm

    return {
        "classification": tm.image_classifier(os.path.join(root, "classifier"), DIGITS),
        "detection": tm.object_detector(os.path.join(root, "detector"), list(data.SHAPES)),
        "embedding": tm.image_embedder(os.path.join(root, "embedder")),
    }


# --- setups: res -> the collection a case targets


def digits(res):
    return res.copy("digits")


def shapes(res):
    return res.copy("shapes")


def empty_view(setup):
    """The setup's dataset, viewed through an empty view."""
    return lambda res: setup(res).limit(0)


def derive(setup, change):
    """The setup's collection after ``change(collection, res)``."""

    def build(res):
        target = setup(res)
        change(target, res)
        return target

    return build


# --- calls as the SDK makes them


def operator(name):
    """The suite's operator ``name``, callable as from the SDK."""
    return foo.get_operator(ops.uri(name))


def sdk(name, *args, **kwargs):
    """A call of operator ``name`` on the target with these arguments (``Model`` placeholders become paths)."""

    def call(target, res):
        values = {key: res.path(value) for key, value in kwargs.items()}
        return operator(name)(target, *(res.path(a) for a in args), **values)

    return call


def plugin_module(name, part="core"):
    """The loaded plugin's own module ``core.<name>`` (e.g. ``store.lease``): the plugin runs its own copy of
    ``core``, not ours."""
    package = type(operator("prelabel")).__module__.rsplit(".operators.", 1)[0]
    return importlib.import_module(f"{package}.{part}.{name}" if name else f"{package}.{part}")


# --- faults


class InjectedFault(RuntimeError):
    """The failure a fault case injects."""


@contextmanager
def fail_on_call(owner, attribute, call_number, message):
    """Patches ``owner.attribute`` (a function or method) to raise ``InjectedFault(message)`` on call
    ``call_number`` and after; the calls before run the original."""
    with on_call(owner, attribute, call_number, lambda: _raise(message), repeat=True):
        yield


@contextmanager
def on_call(owner, attribute, call_number, action, repeat=False):
    """Patches ``owner.attribute`` to run ``action()`` before call ``call_number`` (and later ones when
    ``repeat``), then the original."""
    original = getattr(owner, attribute)
    counter = itertools.count(1)

    def patched(*args, **kwargs):
        number = next(counter)
        if number == call_number or (repeat and number > call_number):
            action()
        return original(*args, **kwargs)

    with mock.patch.object(owner, attribute, patched):
        yield


def _raise(message):
    raise InjectedFault(message)


# --- other users


class Journal:
    """Edits that "other users" make during a call, like a person in the App: the labels they add must survive,
    the labels they remove are not the operator's loss."""

    def __init__(self):
        self.added, self.removed = [], set()

    def clear(self):
        self.added, self.removed = [], set()

    def add_detection(self, dataset, sample_id, field="ground_truth"):
        """Adds a human box to ``field`` of a sample and saves the sample."""
        sample = dataset[sample_id]
        label = fo.Detection(label="circle", bounding_box=[0.4, 0.4, 0.1, 0.1], added_by="reviewer")
        detections = sample[field] or fo.Detections()
        detections.detections.append(label)
        sample[field] = detections
        sample.save()
        self.added.append((field, label.id, label.to_dict()))

    def remove_detection(self, dataset, sample_id, field="ground_truth", index=0):
        """Deletes a box of ``field`` of a sample and saves the sample."""
        sample = dataset[sample_id]
        self.removed.add(sample[field].detections.pop(index).id)
        sample.save()
