"""A deployed model behind an Open Inference Protocol endpoint: a real MLServer on 127.0.0.1 serving the tiny models
(exported to ONNX here), pre-labelling digits and shapes from the SDK and the App form; endpoint faults (down
before and during a run, unknown model, wrong output shape, 401, 5xx, timeout) stop with a message that says what
to do, and what was written stays valid and resumable."""

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from test_forms import form

import fiftyone as fo
from fiftyone.operators.executor import ExecutionError

from core.exceptions import ModelError
from core.models import endpoint
from core.models import source as models
from core.prelabel import run
from core.store import runs
from harness import model_servers
from harness import operators as ops
from testing import data
from testing.inference_server import MLServer, free_port

DIGITS = model_servers.DIGITS
onnx_models = pytest.fixture(scope="module")(model_servers.onnx_models)
mlserver = pytest.fixture(scope="module")(model_servers.mlserver)


def _spec(onnx_models, task="classification"):
    with open(onnx_models[task].removesuffix(".onnx") + ".json") as f:
        return json.load(f)


def _endpoint(server_url, onnx_models, **options):
    spec = options.pop("spec", None) or _spec(onnx_models)
    return dict(model_source="endpoint", endpoint_url=server_url, spec=spec, **options)


def test_endpoint_labels_digits_exactly_like_the_model_in_process(digits, onnx_models, mlserver, prelabel_op):
    result = prelabel_op(digits, "digits", **_endpoint(mlserver.url, onnx_models), batch_size=32)
    assert result["task"] == "classification" and result["written"] == len(digits) == result["labels"]
    labels = digits.values("predictions")
    assert labels[0].model_version.startswith(f"endpoint:{mlserver.url}/v2/models/digits@")
    [record] = runs.list_suite_runs(digits)
    assert record["params"]["source"]["url"] == mlserver.url and record["params"]["source"]["verify_tls"] is True
    prelabel_op(digits, onnx_models["classification"], model_source="onnx", output_field="local")
    assert digits.values("predictions.label") == digits.values("local.label")


def test_endpoint_detector_labels_shapes_from_the_app_form(shapes, onnx_models, mlserver):
    params = {
        **_endpoint(mlserver.url, onnx_models, spec=json.dumps(_spec(onnx_models, "detection"))),
        "model": "shapes",
    }
    properties = form("prelabel", shapes, params)
    assert {"endpoint_url", "verify_tls", "endpoint_timeout", "endpoint_retries", "spec"} <= set(properties)
    assert properties["verify_tls"].default is True and not [p for p in properties.values() if p.invalid]
    result = ops.run("prelabel", shapes, {**params, "threshold": 0.2}).result
    dets = [d for label in shapes.values("predictions") for d in label.detections]
    assert result["task"] == "detection" and len(dets) == result["labels"] > 0
    assert all(d.label in data.SHAPES and d.confidence >= 0.2 for d in dets)


@pytest.mark.parametrize(
    "model, url, spec_change, message",
    [
        ("digits", "down", None, r"cannot be reached: check that the server is running"),
        ("nope", None, None, r"does not serve model 'nope' \(HTTP 404"),
        ("digits", None, {"class_names": ["a", "b"]}, r"has shape \[1, 10\], but the spec .* 2 class names"),
        ("digits", None, {"input_size": [48, 48]}, r"failed \(HTTP 500.*\(after 2 attempts\)|rejected the request"),
        ("digits", "ftp://x", None, r"is not an http\(s\) URL"),
    ],
)
def test_endpoint_problems_are_refused_before_anything_is_written(
    digits, onnx_models, mlserver, prelabel_op, model, url, spec_change, message
):
    url = {None: mlserver.url, "down": f"http://127.0.0.1:{free_port()}"}.get(url, url)
    spec = {**_spec(onnx_models), **(spec_change or {})}
    options = _endpoint(url, onnx_models, spec=spec, endpoint_retries=1)
    with pytest.raises(ExecutionError, match=message):
        prelabel_op(digits, model, **options)
    assert not digits.has_field("predictions") and not runs.list_suite_runs(digits)


def test_endpoint_down_mid_run_keeps_what_was_written_and_a_rerun_resumes(digits, onnx_models, tmp_path, monkeypatch):
    server = MLServer(tmp_path / "server", {"digits": onnx_models["classification"]}).start()
    source = models.parse_source(
        "endpoint", "digits", options={"url": server.url, "spec": _spec(onnx_models), "retries": 1}
    )
    request = run.PrelabelRequest(source=source, batch_size=16)
    calls, infer = [], endpoint.EndpointClient.infer

    def stop_after_two_batches(self, batch, input_name):
        calls.append(len(batch))
        if len(calls) == 4:  # the spec check's blank image, then two batches of 16 went through
            server.stop()
        return infer(self, batch, input_name)

    monkeypatch.setattr(endpoint.EndpointClient, "infer", stop_after_two_batches)
    with pytest.raises(
        endpoint.EndpointError, match=r"cannot be reached.*\(after 2 attempts\)\. What was written .*resume"
    ):
        run.prelabel(digits, request)
    assert digits.count("predictions") == 32
    assert all(
        isinstance(label, fo.Classification) and label.model_version for label in digits.values("predictions") if label
    )
    [failed] = runs.list_suite_runs(digits)
    assert failed["status"] == "failed"
    with MLServer(tmp_path / "again", {"digits": onnx_models["classification"]}, port=server.port):
        result = run.prelabel(digits, request)
    assert result["skipped_existing"] == 32 and result["written"] == len(digits) - 32
    assert digits.count("predictions") == len(digits)


def test_the_endpoint_settings_retry_count_and_backoff_are_validated():
    assert endpoint.EndpointSettings("http://127.0.0.1:1", "m", timeout=0).problems()
    with pytest.raises(ModelError, match="No model given"):
        models.parse_source("endpoint", " ")


class _Faulty(BaseHTTPRequestHandler):
    """An endpoint that answers with the statuses in ``server.statuses`` in turn (a hang when it is 0), then 200."""

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self._answer()

    def _answer(self):
        self.server.seen.append(self.headers.get("Authorization"))
        status = self.server.statuses.pop(0) if self.server.statuses else 200
        if status == 0:
            self.server.release.wait(10)  # a hung server: answers only when the test ends
            return
        body = json.dumps({"error": "no"} if status >= 400 else {"name": "m", "inputs": [{"name": "x"}], "outputs": []})
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):
        pass


@pytest.fixture(params=[False], ids=["http"])
def faulty(request):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Faulty)
    if request.param:  # https with a throw-away self-signed certificate
        from testing.cvat_double import _self_signed_certificate

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*_self_signed_certificate())
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.statuses, server.seen, server.release = [], [], threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def _client(server, **settings):
    scheme = "https" if isinstance(server.socket, ssl.SSLSocket) else "http"
    url = f"{scheme}://127.0.0.1:{server.server_address[1]}"
    return endpoint.EndpointClient(endpoint.EndpointSettings(url, "m", backoff=0.01, **settings), token="s3cret")


def test_5xx_is_retried_with_backoff_and_then_succeeds(faulty):
    faulty.statuses = [503, 502]
    assert _client(faulty, retries=2).metadata()["name"] == "m"
    assert faulty.seen == ["Bearer s3cret"] * 3


def test_401_is_not_retried_and_says_which_secret_to_set_without_showing_it(faulty):
    faulty.statuses = [401]
    with pytest.raises(
        endpoint.EndpointError,
        match=r"refused the credentials \(HTTP 401: no\): set the "
        r"LABELLOOP_ENDPOINT_TOKEN plugin secret",
    ) as error:
        _client(faulty, retries=3).metadata()
    assert len(faulty.seen) == 1 and "s3cret" not in str(error.value)


@pytest.mark.parametrize("faulty", [True], ids=["https"], indirect=True)
def test_tls_is_verified_unless_turned_off_explicitly(faulty):
    with pytest.raises(endpoint.EndpointError, match=r"TLS certificate could not be verified.*verify_tls"):
        _client(faulty).metadata()
    assert faulty.seen == []  # nothing was sent, the token included
    assert _client(faulty, verify_tls=False).metadata()["name"] == "m"


def test_a_timeout_says_what_to_change(faulty):
    faulty.statuses = [0, 0]
    with pytest.raises(endpoint.EndpointError, match=r"did not answer within 0.2 s: .* \(after 2 attempts\)"):
        _client(faulty, retries=1, timeout=0.2).metadata()


def test_the_token_comes_from_the_plugin_secret_and_is_never_recorded(digits, onnx_models, mlserver, monkeypatch):
    monkeypatch.setenv(endpoint.TOKEN_SECRET, "t0ken-value")
    params = _endpoint(mlserver.url, onnx_models, spec=json.dumps(_spec(onnx_models)))
    ops.run("prelabel", digits, {**params, "model": "digits"})
    [record] = runs.list_suite_runs(digits)
    assert "t0ken-value" not in json.dumps(record, default=str) and digits.count("predictions") == len(digits)
