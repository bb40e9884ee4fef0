"""The REST server, started on a free loopback port in a thread and stopped after."""

import base64
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
import uvicorn

import s2s_keras as s2s
from s2s_keras import export
from s2s_keras.decoding import GreedySearch
from s2s_keras.serving import create_app
from s2s_keras.translator import Translator


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    source = s2s.data.CharTokenizer.from_texts(["0123456789 marsleavilMäz."])
    target = s2s.data.CharTokenizer.from_texts(["0123456789-"])
    model = s2s.build_model("gru_attention", source_vocab_size=source.vocab_size,
                            target_vocab_size=target.vocab_size, units=16, embedding_dim=8)
    translator = Translator(model, source, target, search=GreedySearch(max_length=12))
    base = tmp_path_factory.mktemp("exports") / "dates"
    export.save(translator, str(base))
    export.save(translator, str(base))
    port = free_port()
    config = uvicorn.Config(create_app(str(base), max_body_bytes=4000, max_batch=8, max_input_chars=50),
                            host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.time() + 60
    while not uv.started:
        assert time.time() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", translator
    uv.should_exit = True
    thread.join(timeout=30)
    assert not thread.is_alive()


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
        ({"instances": ["x" * 45] * 8 + ["y" * 4000]}, None, 413, "over 4000 bytes"),
        ({"instances": [{"b64": "***"}]}, None, 400, "invalid base64"),
    ],
)
def test_bad_requests_get_clear_json_errors(server, body, raw, status, message):
    url, _ = server
    got_status, got = call(f"{url}/v1/models/dates:predict", body, raw)
    assert got_status == status and message in got["error"]


def test_wrong_method_and_path(server):
    url, _ = server
    status, body = call(f"{url}/v1/models/dates:predict", method="GET")
    assert status == 404 and "error" in body  # as TF Serving: no servable named "dates:predict"
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
