"""An MLServer runtime serving an ONNX file with onnxruntime (imported by MLServer in its own venv, see
``testing.mlserver``): a real Open Inference Protocol server for the endpoint tests and the benchmark."""

import onnxruntime as ort
from mlserver import MLModel
from mlserver.codecs import NumpyCodec
from mlserver.types import InferenceRequest, InferenceResponse


class OnnxModel(MLModel):
    """Runs the ONNX file named by the model settings' ``parameters.uri``."""

    async def load(self) -> bool:
        self.session = ort.InferenceSession(self.settings.parameters.uri, providers=["CPUExecutionProvider"])
        self.output_names = [output.name for output in self.session.get_outputs()]
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        inputs = {tensor.name: NumpyCodec.decode_input(tensor) for tensor in payload.inputs}
        arrays = self.session.run(self.output_names, inputs)
        outputs = [NumpyCodec.encode_output(name, array) for name, array in zip(self.output_names, arrays, strict=True)]
        return InferenceResponse(model_name=self.name, outputs=outputs)
