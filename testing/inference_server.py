"""A real Seldon MLServer on 127.0.0.1 serving ONNX files (``mlserver_runtime.OnnxModel``), started from its own
venv (``.venv-mlserver``, made by ``make mlserver``: MLServer's pins conflict with FiftyOne's)."""

import json
import os
import signal
import socket
import subprocess
import time

import requests

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MLSERVER = os.path.join(REPO, ".venv-mlserver", "bin", "mlserver")
DATATYPES = {"tensor(float)": "FP32", "tensor(int64)": "INT64", "tensor(int32)": "INT32"}


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MLServer:
    """``mlserver start`` on a folder serving ``models`` ({name: ONNX file}); ``url`` is its REST endpoint."""

    def __init__(self, folder: str, models: dict[str, str], port: int | None = None) -> None:
        if not os.access(MLSERVER, os.X_OK):
            raise RuntimeError(f"MLServer is not installed: run `make mlserver` (it creates {MLSERVER}).")
        self.folder, self.port = str(folder), port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None
        settings = {
            "host": "127.0.0.1",
            "http_port": self.port,
            "grpc_port": free_port(),
            "metrics_endpoint": None,
            "parallel_workers": 0,
            "debug": False,
        }
        _write_json(os.path.join(self.folder, "settings.json"), settings)
        for name, path in models.items():
            _write_json(os.path.join(self.folder, name, "model-settings.json"), _model_settings(name, path))

    def start(self, timeout: float = 120) -> "MLServer":
        """Starts the server and returns when it says it is ready (RuntimeError with its log if it does not)."""
        env = {**os.environ, "PYTHONPATH": os.path.join(REPO, "testing")}
        self.log = open(os.path.join(self.folder, "mlserver.log"), "ab")
        self.process = subprocess.Popen(
            [MLSERVER, "start", self.folder], env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if self._ready():
                return self
            time.sleep(0.1)  # polling the server's readiness, not waiting for luck
        self.stop()
        with open(self.log.name, errors="replace") as f:
            raise RuntimeError(f"MLServer did not become ready:\n{f.read()[-3000:]}")

    def _ready(self):
        try:
            return requests.get(f"{self.url}/v2/health/ready", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        """Stops the server (its whole process group) and waits until it has exited."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process is not None:
            self.log.close()
        self.process = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def _model_settings(name, path):
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])

    def tensors(items):
        return [dict(name=t.name, datatype=DATATYPES.get(t.type, "FP32"), shape=_shape(t.shape)) for t in items]

    return {
        "name": name,
        "implementation": "mlserver_runtime.OnnxModel",
        "parameters": {"uri": os.path.abspath(path)},
        "inputs": tensors(session.get_inputs()),
        "outputs": tensors(session.get_outputs()),
    }


def _shape(dims):
    return [d if isinstance(d, int) else -1 for d in dims]


def _write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(value, f)
