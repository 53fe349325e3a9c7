"""Session harness: a private mongod and an isolated FiftyOne config, set up before fiftyone is imported."""

import os
import sys
import tempfile
import threading
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [REPO, os.path.join(REPO, "tests")]

from harness import mongo  # noqa: E402  (must precede any fiftyone import)

_SCRATCH = tempfile.mkdtemp(prefix="labelloop-tests-")
os.environ.update(
    {
        "FIFTYONE_PLUGINS_DIR": REPO,
        "FIFTYONE_DO_NOT_TRACK": "true",
        "FIFTYONE_ALLOW_LEGACY_ORCHESTRATORS": "true",
        "FIFTYONE_DATASET_ZOO_DIR": os.path.join(_SCRATCH, "dataset-zoo"),
        "FIFTYONE_MODEL_ZOO_DIR": os.path.join(_SCRATCH, "model-zoo"),
        "FIFTYONE_DEFAULT_DATASET_DIR": os.path.join(_SCRATCH, "datasets"),
        "HF_HOME": os.path.join(_SCRATCH, "hf"),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "NUMBA_CACHE_DIR": os.path.join(_SCRATCH, "numba"),
    }
)
MONGO = mongo.start_for_session()

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import fiftyone as fo  # noqa: E402

from testing import data  # noqa: E402


@pytest.fixture(scope="session")
def mongo_uri():
    """The URI of the session's private mongod."""
    return MONGO.uri


@pytest.fixture
def dataset():
    """An empty dataset of its own for one test, deleted afterwards."""
    ds = fo.Dataset(f"test-{uuid.uuid4().hex[:10]}")
    yield ds
    if fo.dataset_exists(ds.name):
        ds.delete()


@pytest.fixture(autouse=True)
def no_lease_outlives_its_test():
    """Fails a test, at teardown, that leaves a lease heartbeat running (a run started with fields and never
    finished, or a lease never released): it would renew its lease for the rest of the session. Releases the
    leftovers first, so that the tests after it start clean."""
    yield
    left = _lease_heartbeats()
    if not left:
        return
    copies = [m for name, m in list(sys.modules.items()) if f".{name}".endswith(".core.store.runs")]
    for module in copies:  # ours and the plugin's own copy, which its operators use
        for key in list(getattr(module, "_leases", {})):
            module._leases.pop(key).release()
    for thread in _lease_heartbeats():  # a bare lease.acquire: its heartbeat's target is the Lease's bound method
        thread._target.__self__.release()
    pytest.fail(
        f"The test left lease heartbeats running: {', '.join(t.name for t in left)}. Finish the runs it "
        "starts (runs.finish_run or runs.recorded) and release the leases it takes."
    )


def _lease_heartbeats():
    return [thread for thread in threading.enumerate() if thread.name.startswith("lease-") and thread.is_alive()]


@pytest.fixture
def embedded(dataset):
    """``dataset`` with EMBEDDED samples and random 8-d vectors in "emb"."""
    dataset.add_samples([fo.Sample(filepath=f"/img/{i}.png") for i in range(EMBEDDED)])
    dataset.add_sample_field("emb", fo.VectorField)
    dataset.set_values("emb", list(np.random.default_rng(0).normal(size=(EMBEDDED, 8))))
    return dataset


EMBEDDED = 20


@pytest.fixture(scope="session")
def digits_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("digits"))


@pytest.fixture
def digits(digits_dir):
    """120 real digit images (PNG) with ground-truth classifications, in a dataset of its own."""
    ds = data.build_digits(f"digits-{uuid.uuid4().hex[:10]}", digits_dir, limit=120)
    yield ds
    ds.delete()


@pytest.fixture
def shapes(tmp_path):
    """40 synthetic shapes images with ground-truth boxes, in a dataset of its own."""
    ds = data.build_shapes(f"shapes-{uuid.uuid4().hex[:10]}", str(tmp_path / "shapes"), count=40)
    yield ds
    ds.delete()


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Local directories of tiny random-initialised transformers models, by task."""
    from testing import tiny_models as tm

    root = tmp_path_factory.mktemp("models")
    return {
        "classification": tm.image_classifier(root / "classifier", [str(i) for i in range(10)]),
        "detection": tm.object_detector(root / "detector", list(data.SHAPES)),
        "zero_shot": tm.zero_shot_model(root / "clip"),
        "embedding": tm.image_embedder(root / "embedder"),
        "segmentation": tm.semantic_segmenter(root / "segmenter", ["background", "shape"]),
        "zero_shot_detection": tm.zero_shot_detector(root / "owlvit"),
    }


@pytest.fixture
def prelabel_op():
    """The prelabel operator, called as the SDK calls it."""
    import fiftyone.operators as foo

    return foo.get_operator("@labelloop/mlops/prelabel")


from harness.cvat_fixtures import cvat_double, cvat_double_env, cvat_env, cvat_server, cvat_tls_server  # noqa: E402, F401
