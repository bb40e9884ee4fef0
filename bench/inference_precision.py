"""Inference in every precision: BLEU, throughput and latency of trained runs in float32, bfloat16 and int8.

For each run folder (trained by `s2s-keras train` or `bench/quality.py`) and each precision of
`models.INFERENCE_PRECISIONS` (float32; mixed_bfloat16: bfloat16 arithmetic; bfloat16: bfloat16 weights, for
models without recurrent cells; int8: int8 weights in every Dense and Embedding layer), in one process: BLEU
and chrF on the distinct Tatoeba test sources (beam search, α 0.6), sentences/s translating them in batches of
`--batch-size`, and p50 / p99 latency of single sentences (the first `--latency-sentences` sources, one call
each), plus the size of the precision's export.

    .venv/bin/python bench/inference_precision.py --runs runs/spa-eng [--columns 1,0] [--beam-size 4]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import s2s_keras as s2s  # noqa: E402
from s2s_keras import export  # noqa: E402
from s2s_keras.decoding import BeamSearch  # noqa: E402
from s2s_keras.evaluation import evaluate, group_references, translate_all  # noqa: E402
from s2s_keras.models import INFERENCE_PRECISIONS, inference_copy  # noqa: E402
from s2s_keras.training.run_folder import load_run  # noqa: E402
from s2s_keras.translator import Translator  # noqa: E402

TEST_TSV = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tatoeba-spa-eng", "test.tsv")


def test_set(columns):
    with open(TEST_TSV, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f]
    return group_references([(row[columns[0]], row[columns[1]]) for row in rows])


def folder_megabytes(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, files in os.walk(path) for f in files) / 1e6


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True, help="trained run folders")
    parser.add_argument("--columns", default="0,1",
                        help="test.tsv source,target columns (0,1: English -> Spanish; 1,0: Spanish -> English)")
    parser.add_argument("--precisions", nargs="+", default=list(INFERENCE_PRECISIONS), choices=INFERENCE_PRECISIONS)
    parser.add_argument("--beam-size", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--latency-sentences", type=int, default=100)
    parser.add_argument("--limit", type=int, default=None, help="score only the first N distinct sources")
    args = parser.parse_args()
    sources, references = test_set(tuple(int(c) for c in args.columns.split(",")))
    if args.limit:
        sources, references = sources[: args.limit], references[: args.limit]
    print(f"{os.cpu_count()} CPU cores; beam {args.beam_size} (α 0.6), {len(sources)} distinct test sources")
    print("| run | precision | BLEU | chrF | sentences/s (batch {}) | p50 ms | p99 ms | export MB |".format(
        args.batch_size))
    print("|---|---|---|---|---|---|---|---|")
    for folder in args.runs:
        model, source_tokenizer, target_tokenizer = load_run(folder)
        for precision in args.precisions:
            try:
                copy = inference_copy(model, precision)
            except ValueError as error:  # bfloat16 weights for a model with recurrent cells
                print(f"| {os.path.basename(os.path.normpath(folder))} | {precision} | not offered: {error} |")
                continue
            translator = Translator(copy, source_tokenizer, target_tokenizer, fastest_precision=False,  # as given
                                    search=BeamSearch(beam_size=args.beam_size, length_penalty=0.6, max_length=100))
            translate_all(translator, sources[: args.batch_size], args.batch_size)  # `evaluate`'s graph, untimed
            translator(sources[:1])  # and the latency rows'
            result = evaluate(translator, sources, references, batch_size=args.batch_size)
            latencies = []
            for sentence in sources[: args.latency_sentences]:
                started = time.perf_counter()
                translator([sentence])
                latencies.append(time.perf_counter() - started)
            latencies.sort()
            p50 = 1000 * statistics.median(latencies)
            p99 = 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
            with tempfile.TemporaryDirectory() as tmp:
                size = folder_megabytes(export.save(translator, tmp))
            print(f"| {os.path.basename(os.path.normpath(folder))} | {precision} | {result.bleu:.1f} | {result.chrf:.1f} "
                  f"| {len(sources) / result.seconds:.1f} | {p50:.1f} | {p99:.1f} | {size:.1f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
