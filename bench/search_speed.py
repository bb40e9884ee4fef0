"""Search speed of trained runs: what exact row settling, growing caches and XLA give, in one process.

For each run folder, on the first `--sentences` distinct Tatoeba test sources in batches of 64, beam 5
(α 0.6, at most 100 tokens) and greedy, through the `Translator` (tokenization and detokenization included),
sentences/s of each configuration and how many outputs are identical to the first row's:

- "every beam to its end, static caches": how beam search ran before rows settled (the loop ran until every
  beam had ended) with caches preallocated to 100 positions;
- "settled, static caches": a row stops once no live hypothesis can reach its best ended ones (exact);
- "settled, growing caches": the `Translator`'s default without XLA (caches hold only the rows written);
- "settled, XLA": `Translator(jit_compile=True)` (static caches; every bucket compiled before the timing);
- "early stopping": `BeamSearch(early_stopping=True)`, the heuristic (not exact with a length penalty).

    .venv/bin/python bench/search_speed.py --runs runs/x [--columns 1,0] [--sentences 1024]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from s2s_keras.decoding import BeamSearch, GreedySearch, decode  # noqa: E402
from s2s_keras.training.run_folder import load_run  # noqa: E402
from s2s_keras.translator import Translator  # noqa: E402

TEST_TSV = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tatoeba-spa-eng", "test.tsv")
BATCH = 64


class RunToTheEnd(BeamSearch):
    """Beam search as it ran before rows settled: until every beam has ended (or the length cap)."""

    def _settled(self, log_probs, lengths, finished, coverage, source_mask):
        return tf.zeros_like(finished[:, :1])


def translator(model, source, target, search, static_shapes, jit_compile=False):
    made = Translator(model, source, target, search=search, jit_compile=jit_compile, fastest_precision=False)
    if not jit_compile:  # the search path with the shapes asked for (the Translator grows them by default)
        made._search_ids = tf.function(lambda ids, prefix_ids=None: decode(model, ids, search,
                                                                            static_shapes=static_shapes))
    return made


def timed(make, sentences, warm_every_batch):
    run = make()
    run(sentences[:BATCH])  # traced outside the timing
    if warm_every_batch:  # XLA: compile every shape outside the timing
        for start in range(0, len(sentences), BATCH):
            run(sentences[start : start + BATCH])
    started = time.perf_counter()
    outputs = []
    for start in range(0, len(sentences), BATCH):
        outputs += run(sentences[start : start + BATCH])
    return len(sentences) / (time.perf_counter() - started), outputs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", nargs="+", required=True)
    parser.add_argument("--columns", default="1,0", help="test.tsv source,target columns (default 1,0: spa->eng)")
    parser.add_argument("--sentences", type=int, default=1024)
    parser.add_argument("--beam-size", type=int, default=5)
    args = parser.parse_args()
    column = int(args.columns.split(",")[0])
    with open(TEST_TSV, encoding="utf-8") as f:
        sentences = list(dict.fromkeys(line.rstrip("\n").split("\t")[column] for line in f))[: args.sentences]
    beam = dict(beam_size=args.beam_size, length_penalty=0.6, max_length=100)
    print(f"{os.cpu_count()} CPU cores; {len(sentences)} sources, batches of {BATCH}, beam {args.beam_size} (α 0.6)")
    for folder in args.runs:
        model, source, target = load_run(folder)
        configurations = {
            "beam: every beam to its end, static caches":
                lambda: translator(model, source, target, RunToTheEnd(**beam), True),
            "beam: settled, static caches": lambda: translator(model, source, target, BeamSearch(**beam), True),
            "beam: settled, growing caches (default)":
                lambda: translator(model, source, target, BeamSearch(**beam), False),
            "beam: settled, XLA": lambda: translator(model, source, target, BeamSearch(**beam), True, True),
            "beam: early stopping": lambda: translator(model, source, target,
                                                       BeamSearch(**beam, early_stopping=True), False),
            "greedy: static caches": lambda: translator(model, source, target, GreedySearch(max_length=100), True),
            "greedy: growing caches (default)":
                lambda: translator(model, source, target, GreedySearch(max_length=100), False),
        }
        print(f"\n{folder}\n| configuration | sentences/s | ratio | outputs identical to the first of its kind |")
        print("|---|---|---|---|")
        first = {}
        for name, make in configurations.items():
            rate, outputs = timed(make, sentences, warm_every_batch="XLA" in name)
            kind = name.split(":")[0]
            first.setdefault(kind, (rate, outputs))
            same = sum(a == b for a, b in zip(outputs, first[kind][1]))
            print(f"| {name} | {rate:.1f} | {rate / first[kind][0]:.2f}× | {same} / {len(outputs)} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
