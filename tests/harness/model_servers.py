"""What the bring-your-own-model tests share: the tiny models exported to ONNX, and a real MLServer serving them.
A test file makes its fixtures of them: ``onnx_models = pytest.fixture(scope="module")(model_servers.onnx_models)``."""

from testing import data

DIGITS = [str(i) for i in range(10)]


def onnx_models(tmp_path_factory):
    """The tiny classifier and detector exported to ONNX (each with its spec beside it), and their torch originals."""
    from testing import tiny_models as tm

    root = tmp_path_factory.mktemp("onnx")
    classifier = tm.image_classifier(root / "classifier", DIGITS)
    detector = tm.object_detector(root / "detector", list(data.SHAPES))
    return {
        "classification": tm.onnx_export(classifier, root / "digits.onnx", "classification"),
        "detection": tm.onnx_export(detector, root / "shapes.onnx", "detection"),
        "torch_classifier": classifier,
        "torch_detector": detector,
    }


def mlserver(onnx_models, tmp_path_factory):
    """A real MLServer on 127.0.0.1 serving the ONNX digits classifier as ``digits`` and the detector as
    ``shapes``; stopped when the fixture ends."""
    from testing.inference_server import MLServer

    served = {"digits": onnx_models["classification"], "shapes": onnx_models["detection"]}
    with MLServer(tmp_path_factory.mktemp("mlserver"), served) as server:
        yield server
