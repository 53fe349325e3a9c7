"""An exported ONNX model run with onnxruntime, with its declared pre/post-processing spec (see ``tensor``)."""

import os

import numpy as np

from ..exceptions import ModelError
from .tensor import TensorPredictor, TensorSpec

PROVIDERS = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}


def check_file(path: str) -> None:
    """Raises a ModelError when ``path`` is not an ONNX model file."""
    if not os.path.isfile(path):
        raise ModelError(f"No such ONNX file: '{path}': give the path of the .onnx file the export wrote.")
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:1] != b"\x08":  # an ONNX ModelProto starts with field 1 (ir_version), a varint
        raise ModelError(
            f"'{path}' is not an ONNX model (not a protobuf ModelProto): export it with torch.onnx.export."
        )


def session(path: str, device: str = "cpu", threads: int | None = None):
    """An onnxruntime session of ``path``, or a ModelError saying why it cannot be loaded."""
    import onnxruntime as ort

    check_file(path)
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(path, options, providers=PROVIDERS.get(device, PROVIDERS["cpu"]))
    except Exception as error:  # onnxruntime raises its own exception types for truncated or invalid files
        raise ModelError(
            f"onnxruntime cannot load '{path}' (truncated or invalid?): export it again. ({error})"
        ) from error


def onnx_predictor(path: str, spec: TensorSpec, device: str = "cpu", **options) -> TensorPredictor:
    """A predictor running the ONNX model ``path`` as ``spec`` declares; its input and outputs are checked against
    the spec on one blank image before it is returned. ``options``: ``TensorPredictor``'s threshold, top_k,
    store_logits."""
    model = session(path, device)
    input_name = _input_name(model, spec, path)
    output_names = [output.name for output in model.get_outputs()]

    def infer(batch: np.ndarray) -> dict[str, np.ndarray]:
        return dict(zip(output_names, model.run(output_names, {input_name: batch}), strict=True))

    predictor = TensorPredictor(spec, infer, name=f"ONNX model '{os.path.basename(path)}'", **options)
    try:
        predictor.check()
    except ModelError:
        raise
    except Exception as error:  # onnxruntime's shape and type errors
        raise ModelError(
            f"ONNX model '{path}' rejects a [1, 3, {spec.input_size[0]}, {spec.input_size[1]}] float32 input: "
            f"fix the spec's input_size. ({error})"
        ) from error
    return predictor


def _input_name(model, spec, path):
    inputs = [i.name for i in model.get_inputs()]
    if spec.input_name:
        if spec.input_name not in inputs:
            raise ModelError(
                f"ONNX model '{path}' has no input '{spec.input_name}': its inputs are {', '.join(inputs)}."
            )
        return spec.input_name
    if len(inputs) != 1:
        raise ModelError(
            f"ONNX model '{path}' has inputs {', '.join(inputs)}: name the image one as the spec's input_name."
        )
    return inputs[0]
