"""A deployed model behind an Open Inference Protocol endpoint (KServe v2 REST: Triton, KServe, Seldon MLServer).

Batches go as one ``POST {url}/v2/models/{model}/infer`` each (JSON tensors), through one keep-alive session with
TLS verified unless turned off explicitly; connection errors, timeouts, 429 and 5xx answers are retried with
exponential backoff, other errors stop at once. The token (a plugin secret) is sent as a bearer header and is never
recorded or put into a message.
"""

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import numpy as np

from ..exceptions import ModelError
from .tensor import ROLES, TensorPredictor, TensorSpec

TOKEN_SECRET = "LABELLOOP_ENDPOINT_TOKEN"
"""The plugin secret (environment variable) holding the endpoint's bearer token, if it needs one."""
RETRIED_STATUS = {429, 500, 502, 503, 504}
DECIMALS = 4
"""Input values are sent rounded to this many decimals (a pixel step is 1/255 / std, 40 times coarser at std 1):
JSON half as long, so faster to write and for the server to parse."""
DATATYPES = {"FP32": np.float32, "FP64": np.float64, "FP16": np.float16, "INT64": np.int64, "INT32": np.int32,
             "INT16": np.int16, "INT8": np.int8, "UINT8": np.uint8, "BOOL": np.bool_}  # fmt: skip


class EndpointError(ModelError):
    """The endpoint failed or refused a request; the message says what to do."""


@dataclass(frozen=True)
class EndpointSettings:
    """Where the model is served and how to call it (``timeout`` in seconds per request; ``retries`` after the
    first attempt, waiting ``backoff`` * 2**attempt seconds between them)."""

    url: str
    model: str
    version: str | None = None
    verify_tls: bool = True
    timeout: float = 30.0
    retries: int = 3
    backoff: float = 0.5

    @property
    def model_url(self) -> str:
        """The model's base URL in the protocol."""
        path = f"/v2/models/{quote(self.model, safe='')}"
        return self.url.rstrip("/") + path + (f"/versions/{quote(self.version, safe='')}" if self.version else "")

    def problems(self) -> list[str]:
        """What is wrong with these settings, without calling the endpoint."""
        parts = urlsplit(self.url or "")
        problems = []
        if parts.scheme not in ("http", "https") or not parts.netloc:
            problems.append(f"Endpoint URL '{self.url}' is not an http(s) URL such as https://host:8000.")
        if not (self.model or "").strip():
            problems.append("No model name: give the name the endpoint serves the model under.")
        if self.timeout <= 0 or self.retries < 0:
            problems.append("The endpoint timeout must be above 0 s and the retries at least 0.")
        return problems


class EndpointClient:
    """Calls one model of an Open Inference Protocol endpoint."""

    def __init__(self, settings: EndpointSettings, token: str | None = None) -> None:
        import requests

        self.settings, self.requests = settings, requests
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/json"
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.after_failure = ""
        """What a failure message adds (set once labels may have been written)."""

    def metadata(self, attempts: int | None = None) -> dict:
        """The model's metadata (name, platform, inputs, outputs), which also checks that it is served."""
        return self._call("GET", self.settings.model_url, None, attempts)

    def infer(self, batch: np.ndarray, input_name: str) -> dict[str, np.ndarray]:
        """The outputs, by name, of the model for a float32 batch."""
        values = np.round(batch.astype(np.float64), DECIMALS).ravel().tolist()  # float64: short reprs
        tensor = {"name": input_name, "shape": list(batch.shape), "datatype": "FP32", "data": values}
        answer = self._call("POST", self.settings.model_url + "/infer", json.dumps({"inputs": [tensor]}))
        return {output["name"]: self._array(output) for output in answer.get("outputs", [])}

    def _array(self, output):
        dtype = DATATYPES.get(output.get("datatype"), np.float32)
        data, shape = np.asarray(output.get("data", []), dtype=dtype), output.get("shape", [])
        if data.size != int(np.prod(shape)):
            raise EndpointError(
                f"{self.where} sent output '{output.get('name')}' with {data.size} values for shape {shape}: "
                f"the server is not speaking the Open Inference Protocol correctly.{self.after_failure}"
            )
        return data.reshape(shape)

    def _call(self, method, url, body, attempts=None):
        attempts = attempts or self.settings.retries + 1
        for attempt in range(attempts):
            failure = self._attempt(method, url, body)
            if isinstance(failure, dict):
                return failure
            retry, message = failure
            if not retry or attempt == attempts - 1:
                tries = f" (after {attempts} attempts)" if retry and attempts > 1 else ""
                raise EndpointError(f"{message}{tries}.{self.after_failure}")
            time.sleep(self.settings.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _attempt(self, method, url, body):
        """The JSON answer, or (whether to retry, what went wrong)."""
        errors = self.requests.exceptions
        where = self.where
        try:
            # verify per request: a session's verify=False loses to REQUESTS_CA_BUNDLE in the environment
            response = self.session.request(
                method, url, data=body, timeout=self.settings.timeout, verify=self.settings.verify_tls
            )
        except errors.SSLError:
            return False, (
                f"{where}: its TLS certificate could not be verified. Give the server a certificate this machine "
                "trusts (or point REQUESTS_CA_BUNDLE at its CA), or turn verification off explicitly (verify_tls)"
            )
        except errors.Timeout:
            return True, (
                f"{where} did not answer within {self.settings.timeout:g} s: raise the endpoint timeout or lower "
                "the batch size"
            )
        except errors.ConnectionError:
            return True, f"{where} cannot be reached: check that the server is running and the URL (scheme, port)"
        if response.status_code >= 400:
            return response.status_code in RETRIED_STATUS, self._refusal(response)
        try:
            return response.json()
        except ValueError:
            return False, f"{where} answered with something that is not JSON: is this an inference server's URL?"

    def _refusal(self, response):
        status, where, detail = response.status_code, self.where, _server_error(response)
        if status in (401, 403):
            return (
                f"{where} refused the credentials (HTTP {status}{detail}): set the {TOKEN_SECRET} plugin secret "
                "(environment variable) to a token the server accepts"
            )
        if status == 404:
            return (
                f"{where} does not serve model '{self.settings.model}' (HTTP 404{detail}): check the model name "
                "(and version) the server lists"
            )
        if status < 500 and status != 429:
            return (
                f"{where} rejected the request (HTTP {status}{detail}): the spec's input (name, input_size) must "
                "match what the model takes"
            )
        return f"{where} failed (HTTP {status}{detail})"

    @property
    def where(self) -> str:
        """The endpoint and model, as messages name them."""
        return f"Inference endpoint {self.settings.url} (model '{self.settings.model}')"


def _server_error(response):
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        error = None
    return f": {str(error)[:200]}" if error else ""


def endpoint_predictor(client: EndpointClient, spec: TensorSpec, **options) -> TensorPredictor:
    """A predictor calling ``client``'s model as ``spec`` declares: the model's metadata and one blank image's
    outputs are checked against the spec first (EndpointError / ModelError when they do not fit).
    ``options``: ``TensorPredictor``'s threshold, top_k, store_logits."""
    input_name = check_metadata(client.metadata(), spec, client.settings.model)
    predictor = TensorPredictor(spec, lambda batch: client.infer(batch, input_name), name=client.where, **options)
    predictor.check()
    client.after_failure = " What was written so far is kept: run again to resume."
    return predictor


def check_metadata(metadata: Mapping, spec: TensorSpec, model: str) -> str:
    """The name of the model's image input, after checking the metadata's inputs and outputs against ``spec``."""
    inputs = [i.get("name") for i in metadata.get("inputs") or []]
    outputs = {o.get("name") for o in metadata.get("outputs") or []}
    if spec.input_name and inputs and spec.input_name not in inputs:
        raise ModelError(f"Model '{model}' has no input '{spec.input_name}': its inputs are {', '.join(inputs)}.")
    if not spec.input_name and len(inputs) != 1:
        listed = ", ".join(inputs) if inputs else "none in its metadata"
        raise ModelError(f"Model '{model}' has inputs {listed}: name the image input as the spec's input_name.")
    expected = [spec.output(role) for role in ROLES[spec.task]]
    single = len(outputs) == 1 == len(expected)  # the only output is taken whatever its name
    missing = [name for name in expected if name not in outputs] if outputs and not single else []
    if missing:
        raise ModelError(
            f"Model '{model}' has no output {', '.join(missing)} (its outputs: {', '.join(sorted(outputs))}): map "
            "the spec's outputs onto them."
        )
    return spec.input_name or inputs[0]
