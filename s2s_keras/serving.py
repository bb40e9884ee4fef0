"""A REST server that speaks TF Serving's API, for exports made by `s2s_keras.export`.

Built on Starlette (routing, requests) and Uvicorn (the ASGI server), so
existing TF Serving REST clients work unchanged:

- `GET  /v1/models/NAME` and `/v1/models/NAME/versions/N`: version status.
- `POST /v1/models/NAME:predict` and `/v1/models/NAME/versions/N:predict`:
  row format `{"instances": ["text", {"inputs": "text"}, {"b64": "..."}]}` ->
  `{"predictions": [{"translations": "...", "scores": -1.2}, ...]}`; columnar
  format `{"inputs": ["text", ...]}` -> `{"outputs": {"translations": [...],
  "scores": [...]}}` (as TF Serving answers columnar requests).

Documented results for awkward requests: an empty instance list gets an empty
answer; an empty string translates to "" with score 0; invalid UTF-8 sent as
`{"b64": ...}` is replaced (U+FFFD). Errors are JSON `{"error": "..."}`:
400 for malformed JSON, non-string instances, too many instances or an
over-long input; 413 for a body over the size limit; 404 for an unknown
model or version. Requests run in a thread pool: concurrent requests are safe.
"""

import base64
import binascii
import json
import os

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from s2s_keras import export

DEFAULT_MAX_BODY_BYTES = 1 << 20  # 1 MiB
DEFAULT_MAX_BATCH = 64
DEFAULT_MAX_INPUT_CHARS = 1000


class RequestError(Exception):
    """A client error: becomes a JSON `{"error": message}` with `status`."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _error(message, status):
    return JSONResponse({"error": message}, status_code=status)


def _instance_text(instance, index):
    """One instance -> text: a string, `{"b64": ...}`, or `{"inputs": string | {"b64": ...}}`."""
    if isinstance(instance, dict) and set(instance) == {"inputs"}:
        instance = instance["inputs"]
    if isinstance(instance, str):
        return instance
    if isinstance(instance, dict) and set(instance) == {"b64"} and isinstance(instance["b64"], str):
        try:
            return base64.b64decode(instance["b64"], validate=True).decode("utf-8", errors="replace")
        except (binascii.Error, ValueError):
            raise RequestError(f"Instance {index}: invalid base64.") from None
    raise RequestError(f"Instance {index} must be a string (or {{\"b64\": ...}}). Received: {json.dumps(instance)[:80]}")


class ModelServer:
    """Holds the loaded versions of one exported model and answers requests.

    Args:
        model_dir: the export folder (`saved_models/NAME`, holding `1/`, `2/`, ...).
        name: the model name in URLs (default: the folder's name).
        max_body_bytes: larger bodies get 413.
        max_batch: more instances get 400.
        max_input_chars: longer inputs get 400.
        warm_up: translate a few sentences with the latest version before
            serving, so that an XLA-compiled export's first requests are fast.
    """

    def __init__(self, model_dir, name=None, max_body_bytes=DEFAULT_MAX_BODY_BYTES,
                 max_batch=DEFAULT_MAX_BATCH, max_input_chars=DEFAULT_MAX_INPUT_CHARS, warm_up=True):
        found = export.versions(model_dir)
        if not found:
            raise ValueError(f"{model_dir!r} holds no numeric version folder to serve.")
        self.name = name or os.path.basename(os.path.normpath(model_dir))
        self.versions = {v: export.load(os.path.join(model_dir, str(v))) for v in found}
        self.latest = found[-1]
        if warm_up:
            self.versions[self.latest].warm_up()
        self.max_body_bytes = max_body_bytes
        self.max_batch = max_batch
        self.max_input_chars = max_input_chars

    def _servable(self, request):
        name = request.path_params["name"]
        version = request.path_params.get("version")
        if name != self.name:
            raise RequestError(f"Servable not found for request: Latest({name})", 404)
        if version is None:
            return self.latest
        if not version.isdigit() or int(version) not in self.versions:
            raise RequestError(f"Servable not found for request: Specific({name}, {version})", 404)
        return int(version)

    async def status(self, request):
        try:
            version = self._servable(request)
        except RequestError as error:
            return _error(str(error), error.status)
        shown = self.versions if "version" not in request.path_params else [version]
        return JSONResponse({"model_version_status": [
            {"version": str(v), "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
            for v in sorted(shown, reverse=True)
        ]})

    async def _read_json(self, request):
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            raise RequestError(f"Request body over {self.max_body_bytes} bytes.", 413)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body_bytes:
                raise RequestError(f"Request body over {self.max_body_bytes} bytes.", 413)
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise RequestError(f"Malformed JSON: {error}") from None

    def _texts(self, payload):
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
        texts = [_instance_text(item, i) for i, item in enumerate(items)]
        for i, text in enumerate(texts):
            if len(text) > self.max_input_chars:
                raise RequestError(f"Instance {i} is over {self.max_input_chars} characters ({len(text)}).")
        return texts, columnar

    async def predict(self, request):
        try:
            version = self._servable(request)
            texts, columnar = self._texts(await self._read_json(request))
        except RequestError as error:
            return _error(str(error), error.status)
        if texts:
            translations, scores = await run_in_threadpool(self.versions[version].predict, texts)
        else:
            translations, scores = [], []
        if columnar:
            return JSONResponse({"outputs": {"translations": translations, "scores": scores}})
        return JSONResponse({"predictions": [{"translations": t, "scores": s} for t, s in zip(translations, scores)]})


def create_app(model_dir, **options):
    """A Starlette app that speaks TF Serving's REST API for the export at `model_dir`.

    Args:
        model_dir: the export folder (`saved_models/NAME`, holding `1/`, `2/`, ...).
        **options: `ModelServer` arguments (`name`, `max_body_bytes`,
            `max_batch`, `max_input_chars`, `warm_up`).

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


def serve(model_dir, host="127.0.0.1", port=8501, log_level="info", **options):
    """Runs the REST server until interrupted.

    Args:
        model_dir: the export folder.
        host: the address to bind (127.0.0.1, this machine only, unless told otherwise).
        port: the port (8501, TF Serving's REST port).
        log_level: uvicorn's log level.
        **options: `ModelServer` arguments.

    Example:
    >>> serve("saved_models/dates", port=8501)  # doctest: +SKIP
    """
    import uvicorn

    uvicorn.run(create_app(model_dir, **options), host=host, port=port, log_level=log_level)
