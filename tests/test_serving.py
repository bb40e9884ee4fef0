"""The REST server, started on a free loopback port in a thread and stopped after."""

import base64
import contextlib
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn
from hypothesis import given, settings
from hypothesis import strategies as st

import s2s_keras as s2s
from s2s_keras import export
from s2s_keras.decoding import GreedySearch
from s2s_keras.http_deadline import DEFAULT_READ_TIMEOUT, deadline_protocol
from s2s_keras.serving import create_app

READ_TIMEOUT = 1.5  # seconds: the test server's deadline for a request to arrive
from s2s_keras.translator import Translator


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(app, read_timeout=DEFAULT_READ_TIMEOUT):
    """Serves `app` with uvicorn on a free loopback port in a thread; yields its URL."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", http=deadline_protocol(read_timeout))
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not uv.started:
        assert time.time() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        uv.should_exit = True
        thread.join(timeout=30)
        assert not thread.is_alive()


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    source = s2s.data.CharTokenizer.from_texts(["0123456789 marsleavilMäz."])
    target = s2s.data.CharTokenizer.from_texts(["0123456789-"])
    model = s2s.build_model("gru_attention", source_vocab_size=source.vocab_size,
                            target_vocab_size=target.vocab_size, units=16, embedding_dim=8)
    translator = Translator(model, source, target, search=GreedySearch(max_length=12))
    base = tmp_path_factory.mktemp("exports") / "dates"
    export.save(translator, str(base))
    export.save(translator, str(base))
    return str(base), translator


@pytest.fixture(scope="module")
def server(exported):
    base, translator = exported
    app = create_app(base, max_body_bytes=8000, max_batch=8, max_input_chars=50)
    with running(app, read_timeout=READ_TIMEOUT) as url:
        yield url, translator


def call(url, body=None, raw=None, method=None):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method or ("POST" if data is not None else "GET"),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_status_lists_the_versions(server):
    url, _ = server
    status, body = call(f"{url}/v1/models/dates")
    assert status == 200
    assert [v["version"] for v in body["model_version_status"]] == ["2", "1"]
    assert all(v["state"] == "AVAILABLE" for v in body["model_version_status"])
    assert call(f"{url}/v1/models/dates/versions/1")[1]["model_version_status"][0]["version"] == "1"
    assert call(f"{url}/v1/models/other")[0] == 404
    assert call(f"{url}/v1/models/dates/versions/9")[0] == 404


def test_row_and_columnar_predictions_match_the_translator(server):
    url, translator = server
    texts = ["3 mars 2021", "", "le 4 avril"]
    expected, scores = translator(texts, return_scores=True)
    status, body = call(f"{url}/v1/models/dates:predict", {"instances": texts})
    assert status == 200
    assert [p["translations"] for p in body["predictions"]] == expected
    assert body["predictions"][1] == {"translations": "", "scores": 0.0}
    status, body = call(f"{url}/v1/models/dates/versions/1:predict", {"inputs": texts})
    assert status == 200 and body["outputs"]["translations"] == expected
    named = [{"inputs": t} for t in texts]
    assert [p["translations"] for p in call(f"{url}/v1/models/dates:predict", {"instances": named})[1]["predictions"]] == expected
    encoded = {"instances": [{"b64": base64.b64encode(b"3 m\xffrs").decode()}]}
    assert call(f"{url}/v1/models/dates:predict", encoded)[0] == 200
    assert call(f"{url}/v1/models/dates:predict", {"instances": []}) == (200, {"predictions": []})


@pytest.mark.parametrize(
    "body, raw, status, message",
    [
        (None, b"{not json", 400, "Malformed JSON"),
        ({"instances": [1, 2]}, None, 400, "must be a string"),
        ({"instances": "text"}, None, 400, "must be a list"),
        ({"instances": ["a"], "inputs": ["b"]}, None, 400, "exactly one"),
        ({"instances": ["x"] * 9}, None, 400, "Too many instances"),
        ({"instances": ["x" * 51]}, None, 400, "over 50 characters"),
        ({"instances": ["x" * 45] * 8 + ["y" * 8000]}, None, 413, "over 8000 bytes"),
        ({"instances": [{"b64": "***"}]}, None, 400, "invalid base64"),
        (None, b"[" * 2000 + b"]" * 2000, 400, "nested too deeply"),  # deeper than Python's recursion allows
        (None, b'{"instances": [' + b"7" * 5000 + b"]}", 400, "Malformed JSON"),
        ({"instances": [[[["deep"]]]]}, None, 400, "must be a string"),
    ],
)
def test_bad_requests_get_clear_json_errors(server, body, raw, status, message):
    url, _ = server
    got_status, got = call(f"{url}/v1/models/dates:predict", body, raw)
    assert got_status == status and message in got["error"]


def test_wrong_method_and_path(server):
    url, _ = server
    status, body = call(f"{url}/v1/models/dates:predict", method="GET")
    assert status == 405 and "use POST" in body["error"]
    for path in ("/v1/models/dates/versions/%C2%B2:predict", "/v1/models/dates/versions/%C2%B2"):
        status, body = call(url + path, {"instances": ["x"]} if path.endswith("predict") else None)
        assert status == 404 and "Servable not found" in body["error"]  # "²" is a digit to Python, not a version
    status, body = call(f"{url}/v1/models/dates", {"instances": ["x"]})
    assert status == 405 and "not allowed" in body["error"]
    assert call(f"{url}/v2/whatever")[0] == 404


def test_concurrent_requests_are_safe(server):
    url, translator = server
    texts = [f"{d} mars 20{d:02d}" for d in range(1, 17)]
    expected = translator(texts)

    def one(i):
        return call(f"{url}/v1/models/dates:predict", {"instances": [texts[i % 16]]})

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(one, range(48)))
    assert all(status == 200 for status, _ in results)
    assert [body["predictions"][0]["translations"] for _, body in results] == [expected[i % 16] for i in range(48)]


def test_a_lone_surrogate_is_replaced_not_an_error(server):
    url, translator = server
    status, body = call(f"{url}/v1/models/dates:predict", raw=b'{"instances": ["3 m\\ud800rs", "\\udfff"]}')
    assert status == 200
    assert [p["translations"] for p in body["predictions"]] == translator(["3 m\ufffdrs", "\ufffd"])


class Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture
def server_log():
    handler = Lines()
    logger = logging.getLogger("uvicorn.error")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)  # rejected requests are logged at INFO
    yield handler.lines
    logger.setLevel(level)
    logger.removeHandler(handler)


def raw_connection(url):
    host, port = url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=10)


def closed_by_server(connection, within):
    """Whether the server closes `connection` within `within` seconds (reads until EOF)."""
    connection.settimeout(within)
    try:
        while connection.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        pass
    return True


def test_a_request_that_arrives_too_slowly_is_cut_off(server, server_log):
    url, translator = server
    slow_headers = raw_connection(url)
    slow_headers.sendall(b"POST /v1/models/dates:predict HTTP/1.1\r\nHost: x\r\n")
    slow_body = raw_connection(url)
    slow_body.sendall(b"POST /v1/models/dates:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    started = time.time()
    time.sleep(READ_TIMEOUT / 3)
    slow_headers.sendall(b"X-Slow: 1\r\n")  # still sending, but too slowly: the deadline holds
    assert closed_by_server(slow_headers, within=READ_TIMEOUT + 3)
    assert closed_by_server(slow_body, within=READ_TIMEOUT + 3)
    assert time.time() - started < READ_TIMEOUT + 3
    assert sum("did not arrive within" in line for line in server_log) == 2
    assert call(f"{url}/v1/models/dates:predict", {"instances": ["3 mars"]})[1]["predictions"][0]["translations"] \
        == translator(["3 mars"])[0]


def test_a_client_that_disconnects_mid_body_is_one_log_line(server, server_log):
    url, _ = server
    connection = raw_connection(url)
    connection.sendall(b"POST /v1/models/dates:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"in")
    time.sleep(0.2)
    connection.close()
    time.sleep(0.5)
    assert [line for line in server_log if "disconnected" in line], server_log
    assert not [line for line in server_log if "Traceback" in line]
    assert call(f"{url}/v1/models/dates")[0] == 200


def test_beyond_the_queue_the_server_answers_503_at_once(exported):
    base, translator = exported
    app = create_app(base, max_concurrent=1, max_queued=1, warm_up=False)
    served = app.state.server.versions[app.state.server.latest]
    translate = served.predict
    served.predict = lambda texts: (time.sleep(1.0), translate(texts))[1]  # a slow model
    with running(app) as url, ThreadPoolExecutor(max_workers=5) as pool:
        def one(_):
            request = urllib.request.Request(f"{url}/v1/models/dates:predict", data=b'{"instances": ["3 mars"]}',
                                             method="POST")
            started = time.time()
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    return response.status, None, time.time() - started
            except urllib.error.HTTPError as error:
                return error.code, error.headers.get("Retry-After"), time.time() - started

        results = list(pool.map(one, range(5)))
    statuses = sorted(status for status, _, _ in results)
    assert statuses == [200, 200, 503, 503, 503], results  # one translating, one waiting, three turned away
    assert all(retry == "1" and seconds < 0.9 for status, retry, seconds in results if status == 503), results


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
INSTANCES = st.lists(JSON_VALUES | st.text(max_size=60) | st.builds(lambda b: {"b64": b}, st.text(max_size=12)),
                     max_size=10)
BODIES = st.one_of(
    st.binary(max_size=300),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"instances": INSTANCES}).map(lambda v: json.dumps(v).encode()),
    st.fixed_dictionaries({"inputs": INSTANCES | st.text(max_size=60)}).map(lambda v: json.dumps(v).encode()),
    st.text(max_size=40).map(lambda t: ('{"instances": ["' + t + '"]}').encode("utf-8", "surrogatepass")),
)
PATHS = st.one_of(
    st.sampled_from(["/v1/models/dates:predict", "/v1/models/dates", "/v1/models/dates/versions/1:predict",
                     "/v1/models/dates/versions/2", "/v1/models/dates/versions/0:predict",
                     "/v1/models/dates/versions/%C2%B2:predict", "/v1/models/dates/versions/-1",
                     "/v1/models/dates/versions/99999999999999999999999:predict", "/v1/models/%00:predict"]),
    st.text(max_size=12).map(lambda t: "/v1/models/" + urllib.parse.quote(t, safe="") + ":predict"),
)


def test_generated_requests_get_json_never_a_server_error_and_the_server_answers_after(server):
    url, translator = server
    generated = []

    @settings(max_examples=200, deadline=None, database=None)
    @given(method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT", "DELETE"]), path=PATHS, body=BODIES)
    def one_request(method, path, body):
        generated.append(1)
        request = urllib.request.Request(url + path, data=body if method in ("POST", "PUT") else None, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, text = error.code, error.read()
        answer = json.loads(text)
        assert status < 500, (status, answer)  # 503 only under load, which this test does not make
        assert status == 200 or "error" in answer

    one_request()
    status, body = call(f"{url}/v1/models/dates:predict", {"instances": ["3 mars"]})
    assert status == 200 and body["predictions"][0]["translations"] == translator(["3 mars"])[0]
    print(f"{len(generated)} generated requests")


def test_serve_with_a_bad_or_busy_port_is_a_one_line_error(exported, capsys):
    from s2s_keras import cli

    base, _ = exported
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["serve", base, "--port", "99999"])
    assert exit_info.value.code == 2 and "from 1 to 65535" in capsys.readouterr().err
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        assert cli.main(["serve", base, "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err == f"s2s-keras: error: 127.0.0.1:{port} is in use; choose another --port.\n"
