"""Serving latency and throughput: in-process and over the REST server.

For `gru_attention` and `transformer_small` exports (random weights, word-level
vocabularies of 8,000, beam 4, outputs capped at `--max-length` tokens, which
random weights always reach: a worst case), it reports

- in-process: p50 / p99 latency of one sentence, and sentences/s at batch 32;
- over REST (Uvicorn on 127.0.0.1): p50 / p99 of one sentence, batch-32 throughput;
- a load run: `--clients` concurrent clients for `--seconds` seconds, requests/s and errors.

    .venv/bin/python bench/serve.py [--models gru_attention transformer_small] [--seconds 60]
    .venv/bin/python bench/serve.py --export saved_models/dates --sentences "3 mars 2021"
    .venv/bin/python bench/serve.py --runs runs/quality-transformer_small --jit-compile

`--runs` measures trained `bench/quality.py` runs instead, on the first 64 Spanish
sources of the Tatoeba test set: searches stop at the end token, as they do in use.

The target: single-sentence p50 <= 15 ms in-process for transformer_small at beam 4.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import tempfile
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import s2s_keras as s2s  # noqa: E402
from s2s_keras import export  # noqa: E402
from s2s_keras.decoding import BeamSearch  # noqa: E402
from s2s_keras.translator import Translator  # noqa: E402

WORDS = [f"w{i}" for i in range(7996)]
SIZES = {"gru_attention": dict(embedding_dim=256, units=512), "transformer_small": {}}
TEST_TSV = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tatoeba-spa-eng", "test.tsv")


def word_tokenizers():
    """WordPiece tokenizers learned on a synthetic 8,000-word text: one id per word."""
    text = [" ".join(WORDS[i : i + 20]) for i in range(0, len(WORDS), 20)]
    return s2s.data.build_tokenizers(list(zip(text, text)), kind="wordpiece", vocab_size=8000)


def sentence(rng, length=20):
    return " ".join(rng.choice(WORDS, size=length))


def percentiles(samples):
    samples = sorted(samples)
    return 1000 * statistics.median(samples), 1000 * samples[min(len(samples) - 1, int(0.99 * len(samples)))]


def time_calls(fn, inputs, repeats):
    fn(inputs[0])
    durations = []
    for i in range(repeats):
        started = time.perf_counter()
        fn(inputs[i % len(inputs)])
        durations.append(time.perf_counter() - started)
    return durations


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(path, port):
    import uvicorn

    from s2s_keras.serving import create_app

    server = uvicorn.Server(uvicorn.Config(create_app(path, max_batch=64), host="127.0.0.1", port=port,
                                           log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread


def post(connection, name, texts):
    connection.request("POST", f"/v1/models/{name}:predict", json.dumps({"instances": texts}),
                       {"Content-Type": "application/json"})
    response = connection.getresponse()
    body = response.read()
    if response.status != 200:
        raise RuntimeError(f"HTTP {response.status}: {body[:200]}")
    return json.loads(body)


def load_run(port, name, texts, clients, seconds):
    counts, errors = [0] * clients, [0] * clients
    stop = time.time() + seconds

    def client(k):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k
        while time.time() < stop:
            try:
                post(connection, name, [texts[i % len(texts)]])
                counts[k] += 1
            except Exception:
                errors[k] += 1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            i += clients
        connection.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    started = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.time() - started), sum(errors)


def tatoeba_sources(count=64):
    """The first `count` distinct Spanish sources of the Tatoeba test set."""
    sources = []
    with open(TEST_TSV, encoding="utf-8") as f:
        for line in f:
            spanish = line.rstrip("\n").split("\t")[1]
            if spanish not in sources:
                sources.append(spanish)
            if len(sources) == count:
                break
    return sources


def bench_export(path, name, texts, args):
    served = export.load(path, warm_up=args.jit_compile)  # XLA: compile the source-length buckets first
    single = time_calls(lambda t: served([t]), texts, args.repeats)
    p50, p99 = percentiles(single)
    batch = [texts[i % len(texts)] for i in range(32)]
    batch_times = time_calls(lambda _: served(batch), [None], max(args.repeats // 10, 3))
    print(f"  in-process: one sentence p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
          f"batch 32: {32 / statistics.median(batch_times):.1f} sentences/s")

    port = free_port()
    server, thread = start_server(os.path.dirname(path), port)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    rest_single = time_calls(lambda t: post(connection, name, [t]), texts, args.repeats)
    rest_batch = time_calls(lambda _: post(connection, name, batch), [None], max(args.repeats // 10, 3))
    connection.close()
    p50, p99 = percentiles(rest_single)
    print(f"  REST:       one sentence p50 {p50:.1f} ms, p99 {p99:.1f} ms; "
          f"batch 32: {32 / statistics.median(rest_batch):.1f} sentences/s")
    rate, errors = load_run(port, name, texts, args.clients, args.seconds)
    print(f"  load: {args.clients} clients x {args.seconds:.0f} s: {rate:.1f} requests/s, {errors} errors")
    server.should_exit = True
    thread.join(timeout=30)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(SIZES))
    parser.add_argument("--export", help="benchmark this exported model folder instead")
    parser.add_argument("--sentences", nargs="+", help="sentences for --export")
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--runs", nargs="+", help="trained bench/quality.py run folders to export and measure")
    parser.add_argument("--max-length", type=int, default=None,
                        help="output cap in tokens (default: 20 with random weights, 80 for --runs)")
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--jit-compile", action="store_true", help="compile the search with XLA")
    parser.add_argument("--early-stopping", action="store_true",
                        help="beam search stops once the best hypothesis has ended (BeamSearch(early_stopping=True))")
    parser.add_argument("--float32", action="store_true",
                        help="serve mixed-precision runs in float32 (`training.float32_copy`)")
    args = parser.parse_args()
    args.max_length = args.max_length or (80 if args.runs else 20)
    early = ", early stopping" if args.early_stopping else ""
    if args.runs:
        print(f"{os.cpu_count()} CPU cores; beam {args.beam_size} (α 0.6{early}), at most {args.max_length} tokens; "
              "trained runs, Tatoeba test sources")
        bench_runs(args)
        return
    print(f"{os.cpu_count()} CPU cores; beam {args.beam_size}, outputs of {args.max_length} tokens{early}")
    rng = np.random.default_rng(0)
    if args.export:
        name = os.path.basename(os.path.normpath(args.export))
        path = os.path.join(args.export, str(export.versions(args.export)[-1]))
        print(f"\n{args.export}")
        bench_export(path, name, args.sentences or ["3 mars 2021"], args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        source, target = word_tokenizers()
        texts = [sentence(rng) for _ in range(64)]
        for name in args.models:
            if name not in s2s.list_models():
                print(f"\n{name}: not registered, skipped")
                continue
            model = s2s.build_model(name, source_vocab_size=source.vocab_size, target_vocab_size=target.vocab_size,
                                    **SIZES.get(name, {}))
            translator = Translator(model, source, target, jit_compile=args.jit_compile,
                                    search=BeamSearch(beam_size=args.beam_size, max_length=args.max_length,
                                                      early_stopping=args.early_stopping))
            path = export.save(translator, os.path.join(tmp, name))
            print(f"\n{name} ({model.count_params() / 1e6:.1f} M parameters), export {path}")
            bench_export(path, name, texts, args)


def bench_runs(args):
    from s2s_keras.training import float32_copy
    from s2s_keras.training.run_folder import load_run as load_trained_run

    texts = tatoeba_sources()
    with tempfile.TemporaryDirectory() as tmp:
        for folder in args.runs:
            model, source, target = load_trained_run(folder)
            policy = model.get_layer("decoder").dtype_policy.name
            if args.float32 and policy != "float32":
                model, policy = float32_copy(model), f"float32 copy of a {policy} model"
            translator = Translator(model, source, target, jit_compile=args.jit_compile,
                                    fastest_precision=False,  # the policy printed below
                                    search=BeamSearch(beam_size=args.beam_size, length_penalty=0.6,
                                                      max_length=args.max_length,
                                                      early_stopping=args.early_stopping))
            lengths = target.tokenize(translator(texts)).row_lengths().numpy()  # output tokens per sentence
            name = os.path.basename(os.path.normpath(folder))
            path = export.save(translator, os.path.join(tmp, name))
            with open(os.path.join(folder, "run.json")) as f:
                model_name = json.load(f)["model"]
            print(f"\n{folder} ({model_name}, {model.count_params() / 1e6:.1f} M parameters, {policy}): "
                  f"outputs of {lengths.mean():.1f} tokens on average, at most {lengths.max()}")
            print(f"  e.g. {texts[0]!r} -> {translator([texts[0]])[0]!r}")
            bench_export(path, name, texts, args)


if __name__ == "__main__":
    main()
