"""Records the HTTP exchanges of CVAT clients into a folder, in the format of ``tests/data/cvat-contract/`` (its
README): one ``NNN_<phase>_<METHOD>_<path-slug>.json`` a request, ``{"seq", "phase", "request", "response"}``.

Hooks ``requests.Session.send`` (FiftyOne's CVAT backend, the annotator) and ``urllib3.PoolManager.urlopen``
(cvat-sdk); ``requests`` itself reaches urllib3 through connection pools, never ``PoolManager.urlopen``, so nothing
is recorded twice. Secrets are written as ``"<redacted>"``: fields and query parameters named like secrets, Cookie
and X-CSRFToken, the secret of ``Authorization`` (its scheme is kept), the names only of the cookies set; and every
secret value seen (passwords sent, login keys and cookie values received) wherever else it would appear.

    with Recorder(folder) as recorder:
        recorder.phase("annotate")
        dataset.annotate(...)
"""

import hashlib
import io
import json
import re
import time
from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import requests
import urllib3

REDACTED = "<redacted>"
MAX_ITEMS, MAX_CHARS = 25, 400
SECRET_NAME = re.compile(
    r"^(key|sign|signature|secret|.*password.*|.*token.*|.*secret_?key.*|sessionid|csrf.*|api_?key)$", re.I
)
REQUEST_HEADERS = ("Content-Type", "Accept", "X-Organization", "Referer", "Upload-*", "Tus-Resumable")
SECRET_HEADERS = ("Cookie", "X-CSRFToken", "Authorization")
RESPONSE_HEADERS = ("Content-Type", "Location", "Content-Disposition", "Upload-*", "Tus-Resumable")


# ----- trimming and redaction ---------------------------------------------------------------------------------------


def trim(value: object) -> object:
    """``value`` with lists over 25 items and strings over 400 characters cut, a ``<... N more ... trimmed>`` marker
    in place of the rest."""
    if isinstance(value, str) and len(value) > MAX_CHARS:
        return value[:MAX_CHARS] + f"<... {len(value) - MAX_CHARS} more characters trimmed>"
    if isinstance(value, list):
        kept = [trim(v) for v in value[:MAX_ITEMS]]
        return kept + ([f"<... {len(value) - MAX_ITEMS} more items trimmed>"] if len(value) > MAX_ITEMS else [])
    if isinstance(value, dict):
        return {k: trim(v) for k, v in value.items()}
    return value


def redact(value: object) -> object:
    """``value`` (decoded JSON) with the values of keys named like secrets replaced by ``"<redacted>"``."""
    if isinstance(value, list):
        return [redact(v) for v in value]
    if isinstance(value, dict):
        return {k: REDACTED if _is_secret(k, v) else redact(v) for k, v in value.items()}
    return value


def _is_secret(name, value):
    return bool(SECRET_NAME.match(str(name))) and value not in (None, "")


def _scrub(value, secrets):
    """``value`` with every occurrence of a known secret string replaced."""
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    return value


# ----- bodies -------------------------------------------------------------------------------------------------------


def _binary(data):
    return {"kind": "binary", "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def body_record(data: bytes | str | None, content_type: str | None) -> dict | None:
    """A body as written: ``json``, ``multipart`` (files as name/size/sha256), ``text``, ``binary`` or None."""
    if data is None or len(data) == 0:
        return None
    if not isinstance(data, bytes | bytearray | str):  # a stream: sent as it was read, not seen here
        return {"kind": "binary", "size": None, "sha256": None}
    data = data.encode() if isinstance(data, str) else bytes(data)
    content_type = (content_type or "").lower()
    if content_type.startswith("multipart/"):
        return {"kind": "multipart", "parts": _parts(data, content_type)}
    if "json" in content_type:
        try:
            return {"kind": "json", "json": json.loads(data)}
        except ValueError:
            pass
    textual = content_type.startswith("text/") or any(t in content_type for t in ("json", "xml", "urlencoded"))
    try:
        return {"kind": "text", "text": data.decode()} if textual or not content_type else _binary(data)
    except UnicodeDecodeError:
        return _binary(data)


def _parts(data, content_type):
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + data)
    parts = []
    for part in message.iter_parts():
        name, filename = part.get_param("name", header="content-disposition"), part.get_filename()
        content = part.get_payload(decode=True) or b""
        if filename is None:
            parts.append({"name": name, "value": content.decode(errors="replace")})
            continue
        local = "/" in filename or "\\" in filename  # cvat-sdk sends local paths: not the server's business
        parts.append(
            {"name": name, "filename": "<local path>" if local else filename, "content_type": part.get("Content-Type")}
            | {k: v for k, v in _binary(content).items() if k != "kind"}
        )
    return parts


# ----- headers ------------------------------------------------------------------------------------------------------


def _kept(headers, names):
    """``{Name: value}`` of the headers in ``names`` (``Upload-*`` a prefix), in that order."""
    out = {}
    for wanted in names:
        for name, value in headers.items():
            if wanted.endswith("*") and name.lower().startswith(wanted[:-1].lower()) or name.lower() == wanted.lower():
                out[wanted if not wanted.endswith("*") else "-".join(w.capitalize() for w in name.split("-"))] = value
    return out


def request_headers(headers: Mapping) -> dict:
    """The request headers kept, secrets redacted (``Authorization`` keeps its scheme)."""
    out = _kept(headers, REQUEST_HEADERS)
    for name, value in _kept(headers, SECRET_HEADERS).items():
        out[name] = f"{value.split()[0]} {REDACTED}" if name == "Authorization" and " " in value else REDACTED
    return out


def response_headers(headers: Mapping, status: int, cookies: list[str]) -> dict:
    """The response headers kept; ``Set-Cookie`` as the names of the cookies set."""
    out = _kept(headers, RESPONSE_HEADERS + ("WWW-Authenticate",) + (("Allow",) if status == 405 else ()))
    names = sorted({cookie.split("=", 1)[0].strip() for cookie in cookies})
    if names:
        out["Set-Cookie"] = f"<redacted: {','.join(names)}>"
    return out


def _cookie_values(cookies):
    return [c.split("=", 1)[1].split(";", 1)[0] for c in cookies if "=" in c]


# ----- the recorder -------------------------------------------------------------------------------------------------


class Recorder:
    """Records every exchange of ``requests`` and cvat-sdk while active (a context manager) into ``folder``."""

    def __init__(self, folder: str | Path, phase: str = "setup"):
        self.folder, self._phase, self.seq = Path(folder), phase, 0
        self.secrets: set[str] = set()
        self.written: list[Path] = []
        self._originals = {}

    def phase(self, name: str) -> "Recorder":
        """Names the phase of the exchanges that follow."""
        self._phase = name
        return self

    def __enter__(self) -> "Recorder":
        self.folder.mkdir(parents=True, exist_ok=True)
        self._originals = {"send": requests.Session.send, "urlopen": urllib3.PoolManager.urlopen}
        requests.Session.send = self._wrap_send(self._originals["send"])
        urllib3.PoolManager.urlopen = self._wrap_urlopen(self._originals["urlopen"])
        return self

    def __exit__(self, *exc) -> None:
        requests.Session.send = self._originals["send"]
        urllib3.PoolManager.urlopen = self._originals["urlopen"]

    def _wrap_send(self, send):
        recorder = self

        def recording_send(session, request, **kwargs):
            started = time.monotonic()
            response = send(session, request, **kwargs)
            cookies = response.raw.headers.getlist("Set-Cookie") if response.raw is not None else []
            answer = (response.status_code, response.headers, cookies, response.content)
            recorder.record(request.method, request.url, request.headers, request.body, answer, started)
            return response

        return recording_send

    def _wrap_urlopen(self, urlopen):
        recorder = self

        def recording_urlopen(manager, method, url, redirect=True, **kwargs):
            started = time.monotonic()
            response = urlopen(manager, method, url, redirect=redirect, **kwargs)
            preloaded = kwargs.get("preload_content", True)
            data = response.data if preloaded else response.read()
            cookies = response.headers.getlist("Set-Cookie")
            answer = (response.status, response.headers, cookies, data)
            recorder.record(method, url, kwargs.get("headers") or {}, kwargs.get("body"), answer, started)
            return response if preloaded else _replayable(response, data)

        return recording_urlopen

    def record(
        self, method: str, url: str, headers: Mapping, body: bytes | str | None, answer: tuple, started: float
    ) -> Path:
        """Writes one exchange; ``answer`` is ``(status, headers, Set-Cookie values, content)``."""
        status, answer_headers, cookies, content = answer
        elapsed_ms = round((time.monotonic() - started) * 1000)
        request_body = body_record(body, headers.get("Content-Type"))
        response_body = body_record(content, answer_headers.get("Content-Type"))
        self._learn_secrets(request_body, response_body, headers, cookies)
        self.seq += 1
        split = urlsplit(url)
        query = [[k, REDACTED if _is_secret(k, v) else v] for k, v in parse_qsl(split.query, keep_blank_values=True)]
        exchange = {
            "seq": self.seq,
            "phase": self._phase,
            "request": {
                "method": method,
                "path": split.path,
                "query": query,
                "headers": request_headers(headers),
                "body": self._clean(request_body),
            },
            "response": {
                "status": status,
                "headers": response_headers(answer_headers, status, cookies),
                "body": self._clean(response_body),
                "elapsed_ms": elapsed_ms,
            },
        }
        return self._write(_scrub(exchange, self._secrets_longest_first()))

    def _clean(self, body):
        if body and body["kind"] == "json":
            return {"kind": "json", "json": trim(redact(body["json"]))}
        if body and body["kind"] == "text":
            return {"kind": "text", "text": trim(body["text"])}
        return body

    def _learn_secrets(self, request_body, response_body, headers, cookies):
        for body in (request_body, response_body):
            if body and body["kind"] == "json":
                self.secrets.update(_secret_values(body["json"]))
        self.secrets.update(_cookie_values(cookies))
        for name, value in _kept(headers, SECRET_HEADERS).items():
            self.secrets.add(value.split()[-1] if name == "Authorization" else value)
            if name == "Cookie":
                self.secrets.update(v.split("=", 1)[-1] for v in value.split("; "))

    def _secrets_longest_first(self):
        return sorted((s for s in self.secrets if len(s) >= 6), key=len, reverse=True)

    def _write(self, exchange):
        slug = re.sub(r"[^A-Za-z0-9]+", "_", exchange["request"]["path"]).strip("_")
        name = f"{exchange['seq']:03d}_{exchange['phase']}_{exchange['request']['method']}_{slug}.json"
        path = self.folder / name
        path.write_text(json.dumps(exchange, indent=1, ensure_ascii=False) + "\n")
        self.written.append(path)
        return path


def _secret_values(value):
    """The string values of keys named like secrets, anywhere in decoded JSON."""
    if isinstance(value, list):
        return [s for v in value for s in _secret_values(v)]
    if isinstance(value, dict):
        found = [str(v) for k, v in value.items() if _is_secret(k, v) and isinstance(v, str)]
        return found + [s for v in value.values() for s in _secret_values(v)]
    return []


def _replayable(response, data):
    """A not-preloaded urllib3 response whose body the recorder read, readable again by its caller."""
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-encoding"}
    return urllib3.HTTPResponse(
        body=io.BytesIO(data), headers=headers, status=response.status, reason=response.reason, preload_content=False
    )
