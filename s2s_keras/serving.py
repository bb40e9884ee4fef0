"""A REST server that speaks TF Serving's API, for exports made by `s2s_keras.export`.

Built on Starlette (routing, requests) and Uvicorn (the ASGI server), so
existing TF Serving REST clients work unchanged:

- `GET  /v1/models/NAME` and `/v1/models/NAME/versions/N`: version status.
- `POST /v1/models/NAME:predict` and `/v1/models/NAME/versions/N:predict`:
  row format `{"instances": ["text", {"inputs": "text"}, {"b64": "..."}]}` ->
  `{"predictions": [{"translations": "...", "scores": -1.2}, ...]}`; columnar
  format `{"inputs": ["text", ...]}` -> `{"outputs": {"translations": [...],
  "scores": [...]}}` (as TF Serving answers columnar requests).

A speech export (`Transcriber`) takes WAV files in TF Serving's binary form,
`{"instances": [{"b64": "<WAV, base64>"}, ...]}` (or `{"audio": {"b64": ...}}`),
and answers `{"predictions": [{"transcripts": "...", "scores": -0.4}, ...]}`;
a file that is not a WAV, or has another sample rate, gets 400.

Documented results for awkward requests: an empty instance list gets an empty
answer; an empty string translates to "" with score 0; invalid UTF-8 sent as
`{"b64": ...}` and lone UTF-16 surrogates (`"\\ud800"`) are replaced (U+FFFD).
Every error is JSON `{"error": "..."}` (TF Serving's shape), logged as one
line: 400 for malformed JSON (also nested too deeply, or numbers too long),
non-string instances, too many instances or an over-long input; 404 for an
unknown model or version; 405 for a wrong method; 413 for a body over the
size limit; 503 with `Retry-After` when `max_concurrent` requests are
translating and `max_queued` more are waiting; 500, for a bug only, without
a traceback to the client. A request whose headers and body do not arrive
within `read_timeout` seconds has its connection closed (`http_deadline.py`).
"""

import base64
import binascii
import errno
import functools
import json
import logging
import os
import re
import socket

import anyio
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect
from starlette.responses import JSONResponse
from starlette.routing import Route

from s2s_keras import export
from s2s_keras.checks import check_positive_int
from s2s_keras.http_deadline import DEFAULT_READ_TIMEOUT, deadline_protocol
from s2s_keras.quiet_import import TOKENIZER_NOISE, dropped_stderr_lines

DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB
DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_INPUT_CHARS = 1000
DEFAULT_MAX_CONCURRENT = 2  # requests translating at once (each uses every core)
DEFAULT_MAX_QUEUED = 32  # requests waiting for a turn; more get 503
RETRY_AFTER_SECONDS = 1
LONE_SURROGATE = re.compile("[\ud800-\udfff]")

log = logging.getLogger("uvicorn.error")  # uvicorn's own log, so the lines appear where its lines do


class RequestError(Exception):
    """A client error: becomes a JSON `{"error": message}` with `status` (and `headers`)."""

    def __init__(self, message, status=400, headers=None):
        super().__init__(message)
        self.status = status
        self.headers = headers


def _error(message, status, headers=None):
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _answers_in_json(handler):
    """Every outcome of `handler` is a JSON response and at most one log line, never a traceback."""
    @functools.wraps(handler)
    async def answer(self, request):
        where = f"{request.method} {request.url.path}"
        try:
            return await handler(self, request)
        except RequestError as error:
            log.info("%s -> %d: %s", where, error.status, str(error)[:200])
            return _error(str(error), error.status, error.headers)
        except ClientDisconnect:
            log.info("%s: the client disconnected before its request arrived.", where)
            return _error("The client disconnected.", 400)
        except Exception as error:  # a bug: the client gets JSON, the log one line
            log.error("%s -> 500: %s: %s", where, type(error).__name__, str(error).splitlines()[0][:200]
                      if str(error) else "")
            return _error(f"Internal error ({type(error).__name__}).", 500)
    return answer


def _instance_text(instance, index):
    """One instance -> text: a string, `{"b64": ...}`, or `{"inputs": string | {"b64": ...}}`."""
    if isinstance(instance, dict) and set(instance) == {"inputs"}:
        instance = instance["inputs"]
    if isinstance(instance, str):
        return LONE_SURROGATE.sub("\ufffd", instance)  # JSON's "\\ud800" is no character; UTF-8 has none
    if isinstance(instance, dict) and set(instance) == {"b64"} and isinstance(instance["b64"], str):
        try:
            return base64.b64decode(instance["b64"], validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            raise RequestError(f"Instance {index}: invalid base64.") from None
    shown = json.dumps(instance)[:80] if isinstance(instance, (int, float, bool, type(None))) else type(instance).__name__
    raise RequestError(f"Instance {index} must be a string (or {{\"b64\": ...}}). Received: {shown}")


class ModelServer:
    """Holds the loaded versions of one exported model and answers requests.

    Args:
        model_dir: the export folder (`saved_models/NAME`, holding `1/`, `2/`, ...).
            A version that cannot be loaded is skipped with a warning.
        name: the model name in URLs (default: the folder's name).
        max_body_bytes: larger bodies get 413.
        max_batch: more instances get 400.
        max_input_chars: longer inputs get 400.
        max_concurrent: requests translated at once.
        max_queued: requests waiting for a turn; beyond them, 503 at once.
        warm_up: translate a few sentences with the latest version before
            serving, so that an XLA-compiled export's first requests are fast.
    """

    def __init__(self, model_dir, name=None, max_body_bytes=DEFAULT_MAX_BODY_BYTES,
                 max_batch=DEFAULT_MAX_BATCH, max_input_chars=DEFAULT_MAX_INPUT_CHARS,
                 max_concurrent=DEFAULT_MAX_CONCURRENT, max_queued=DEFAULT_MAX_QUEUED, warm_up=True):
        for key, value in dict(max_body_bytes=max_body_bytes, max_batch=max_batch, max_input_chars=max_input_chars,
                               max_concurrent=max_concurrent).items():
            check_positive_int(key, value)
        if not isinstance(max_queued, int) or max_queued < 0:
            raise ValueError(f"`max_queued` must be an integer >= 0. Received: max_queued={max_queued!r}")
        self.name = name or os.path.basename(os.path.normpath(model_dir))
        self.versions = {served.version: served for served in export.load_versions(model_dir)}
        self.latest = max(self.versions)
        if warm_up:
            with dropped_stderr_lines(TOKENIZER_NOISE):
                self.versions[self.latest].warm_up()
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch
        self.max_input_chars = max_input_chars
        self.max_concurrent, self.max_queued = max_concurrent, max_queued
        self._limiter = None  # made in the server's event loop, on the first request
        self._admitted = 0  # requests between admission and answer (one event loop: no lock needed)

    def _servable(self, request):
        name = request.path_params["name"]
        version = request.path_params.get("version")
        if name != self.name:
            raise RequestError(f"Servable not found for request: Latest({name})", 404)
        if version is None:
            return self.latest
        if not export.is_version_name(version) or int(version) not in self.versions:
            raise RequestError(f"Servable not found for request: Specific({name}, {version})", 404)
        return int(version)

    @_answers_in_json
    async def status(self, request):
        if request.path_params["name"].endswith(":predict"):
            raise RequestError(f"Method {request.method} not allowed on {request.url.path}; use POST.", 405)
        version = self._servable(request)
        shown = self.versions if "version" not in request.path_params else [version]
        return JSONResponse({"model_version_status": [
            {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for v in sorted(shown, reverse=True)
        ]})

    async def _read_json(self, request):
        length = request.headers.get("content-length")
        if length is not None and length.isascii() and length.isdigit() and int(length) > self.max_body_bytes:
            raise RequestError(f"Request body over {self.max_body_bytes} bytes.", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body_bytes:
                raise RequestError(f"Request body over {self.max_body_bytes} bytes.", 413)
        try:
            return json.loads(body)
        except RecursionError:
            raise RequestError("Malformed JSON: nested too deeply.") from None
        except (UnicodeDecodeError, ValueError) as error:  # JSONDecodeError; integers over 4,300 digits
            raise RequestError(f"Malformed JSON: {error}") from None

    def _audio(self, payload):
        """Speech exports: WAV files as TF Serving's binary values, `{"b64": ...}` (or `{"audio": {"b64": ...}}`)."""
        items, columnar = self._items(payload)
        contents = []
        for index, item in enumerate(items):
            if isinstance(item, dict) and set(item) == {"audio"}:
                item = item["audio"]
            if not (isinstance(item, dict) and set(item) == {"b64"} and isinstance(item["b64"], str)):
                raise RequestError(f'Instance {index} must be a WAV file as {{"b64": "..."}} (a speech model).')
            try:
                contents.append(base64.b64decode(item["b64"], validate=True))
            except (binascii.Error, ValueError):
                raise RequestError(f"Instance {index}: invalid base64.") from None
        return contents, columnar

    def _items(self, payload):
        if not isinstance(payload, dict) or ("instances" in payload) == ("inputs" in payload):
            raise RequestError('The body must be a JSON object with exactly one of "instances" or "inputs".')
        columnar = "inputs" in payload
        items = payload["inputs"] if columnar else payload["instances"]
        if isinstance(items, dict) and columnar and set(items) == {"inputs"}:
            items = items["inputs"]  # {"inputs": {"inputs": [...]}}: named columnar input
        if isinstance(items, str) and columnar:
            items = [items]
        if not isinstance(items, list):
            raise RequestError('"instances"/"inputs" must be a list.')
        if len(items) > self.max_batch:
            raise RequestError(f"Too many instances: {len(items)} > {self.max_batch}.")
        return items, columnar

    def _texts(self, payload):
        items, columnar = self._items(payload)
        texts = [_instance_text(item, i) for i, item in enumerate(items)]
        for i, text in enumerate(texts):
            if len(text) > self.max_input_chars:
                raise RequestError(f"Instance {i} is over {self.max_input_chars} characters ({len(text)}).")
        return texts, columnar

    @_answers_in_json
    async def predict(self, request):
        version = self._servable(request)
        if self._admitted >= self.max_concurrent + self.max_queued:
            raise RequestError(f"The server is busy ({self._admitted} requests in progress); retry shortly.", 503,
                               headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
        self._admitted += 1
        served = self.versions[version]
        speech = getattr(served, "kind", "text") == "speech"
        try:
            payload = await self._read_json(request)
            inputs, columnar = self._audio(payload) if speech else self._texts(payload)
            if self._limiter is None:
                self._limiter = anyio.CapacityLimiter(self.max_concurrent)
            try:
                outputs, scores = ([], []) if not inputs else await anyio.to_thread.run_sync(
                    served.predict, inputs, limiter=self._limiter)
            except ValueError as error:  # audio that is not a WAV, or at another sample rate
                if not speech:
                    raise
                raise RequestError(str(error)) from None
        finally:
            self._admitted -= 1
        key = "transcripts" if speech else "translations"
        if columnar:
            return JSONResponse({"outputs": {key: outputs, "scores": scores}})
        return JSONResponse({"predictions": [{key: t, "scores": s} for t, s in zip(outputs, scores)]})


def create_app(model_dir, **options):
    """A Starlette app that speaks TF Serving's REST API for the export at `model_dir`.

    Args:
        model_dir: the export folder (`saved_models/NAME`, holding `1/`, `2/`, ...).
        **options: `ModelServer` arguments (`name`, `max_body_bytes`,
            `max_batch`, `max_input_chars`, `max_concurrent`, `max_queued`, `warm_up`).

    Returns:
        A Starlette application (ASGI) for uvicorn or `starlette.testclient`.
    """
    server = ModelServer(model_dir, **options)

    async def not_found(request, exc):
        return _error(f"Not found: {request.url.path}", 404)

    async def method_not_allowed(request, exc):
        return _error(f"Method {request.method} not allowed on {request.url.path}", 405)

    routes = [
        Route("/v1/models/{name}", server.status, methods=["GET"]),
        Route("/v1/models/{name}/versions/{version}", server.status, methods=["GET"]),
        Route("/v1/models/{name}:predict", server.predict, methods=["POST"]),
        Route("/v1/models/{name}/versions/{version}:predict", server.predict, methods=["POST"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: method_not_allowed})
    app.state.server = server
    return app


def serve(model_dir, host="127.0.0.1", port=8501, log_level="info", read_timeout=DEFAULT_READ_TIMEOUT, **options):
    """Runs the REST server until interrupted.

    Args:
        model_dir: the export folder.
        host: the address to bind (127.0.0.1, this machine only, unless told otherwise).
        port: the port (8501, TF Serving's REST port), 1 to 65535.
        log_level: uvicorn's log level.
        read_timeout: seconds a request's headers and body may take to arrive.
        **options: `ModelServer` arguments.

    Raises:
        ValueError: for a port out of range; OSError when the address cannot be bound (in use, not allowed).

    Example:
    >>> serve("saved_models/dates", port=8501)  # doctest: +SKIP
    """
    import uvicorn

    if not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"`port` must be 1 to 65535. Received: port={port!r}")
    protocol = deadline_protocol(read_timeout)
    listening = _bind(host, port)  # first: a busy port is one clear error at once, not uvicorn's exit(3) later
    try:
        app = create_app(model_dir, **options)
        config = uvicorn.Config(app, host=host, port=port, log_level=log_level, http=protocol)
        uvicorn.Server(config).run(sockets=[listening])
    finally:
        listening.close()


def _bind(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
    except OSError as error:
        listening.close()
        reason = "is in use" if error.errno == errno.EADDRINUSE else f"cannot be bound ({error.strerror})"
        raise OSError(f"{host}:{port} {reason}; choose another --port.") from None
    listening.listen(2048)
    listening.set_inheritable(True)
    return listening
