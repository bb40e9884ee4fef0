"""Translation quality under a wall-clock budget, trained exactly as `s2s-keras train` trains.

Trains a registered model with its recipe (the settings `s2s-keras train` uses) for
`--budget` minutes on a TSV corpus (default: Tatoeba Spanish -> English from
`../shared/data/tatoeba-spa-eng/`), validating on `--valid`, then scores `--test`
with sacreBLEU and chrF, greedy and beam 5 (length penalty 0.6), as
`s2s-keras evaluate --beam-size 5` does: each distinct source once, against all of its
references. Also reports training tokens/s. Prints one Markdown table row at the end.

    .venv/bin/python bench/quality.py transformer_small --budget 30
    .venv/bin/python bench/quality.py gru_attention --budget 30 --columns 0,1          # English -> Spanish
    .venv/bin/python bench/quality.py lstm_luong --budget 8 --vocab-size 8000 --set units=512
    .venv/bin/python bench/quality.py transformer_small --data de-en/train.tsv --valid de-en/valid.tsv \\
        --test de-en/test.tsv --columns 0,1
    .venv/bin/python bench/quality.py transformer_small --budget 10 --train-pairs 29000   # a smaller corpus

Every other flag is a `s2s-keras train` flag (`s2s-keras train --help`) and overrides one
setting of the model's recipe; `--recipe none` measures the plain settings.
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from s2s_keras import cli  # noqa: E402
from s2s_keras.data import open_source  # noqa: E402
from s2s_keras.decoding import BeamSearch, GreedySearch  # noqa: E402
from s2s_keras.evaluation import evaluate, group_references  # noqa: E402
from s2s_keras.training.run import train  # noqa: E402
from s2s_keras.translator import Translator  # noqa: E402

CORPUS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tatoeba-spa-eng")


class StepTimer(keras.callbacks.Callback):
    """Adds up the seconds spent in training steps (not validation or callbacks) and counts the steps."""

    def __init__(self):
        super().__init__()
        self.seconds, self.steps = 0.0, 0

    def on_train_batch_begin(self, batch, logs=None):
        self.started = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.seconds += time.perf_counter() - self.started
        self.steps += 1


def test_set(path, columns, limit=None):
    """The distinct sources of a TSV file with all their references, in file order."""
    pairs = [(s.decode("utf-8"), t.decode("utf-8")) for s, t in open_source(path, columns).as_numpy_iterator()]
    sources, references = group_references(pairs)
    return sources[:limit], references[:limit]


def sample_lines(path, count, sample_path, seed=0):
    """Writes `count` lines of `path`, drawn at random (seeded) and kept in file order, to `sample_path`."""
    import random

    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    if count > len(lines):
        raise ValueError(f"--train-pairs {count} is more than the {len(lines)} lines of {path!r}")
    chosen = sorted(random.Random(seed).sample(range(len(lines)), count))
    os.makedirs(os.path.dirname(os.path.abspath(sample_path)), exist_ok=True)
    with open(sample_path, "w", encoding="utf-8") as f:
        f.writelines(lines[i] for i in chosen)
    return sample_path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--budget", type=float, default=30.0, help="training minutes (default 30)")
    parser.add_argument("--data", default=os.path.join(CORPUS, "train.tsv"), help="training data (default: Tatoeba)")
    parser.add_argument("--valid", default=os.path.join(CORPUS, "valid.tsv"), help="validation data")
    parser.add_argument("--test", default=os.path.join(CORPUS, "test.tsv"), help="test TSV")
    parser.add_argument("--columns", default="1,0", help="source,target columns (default 1,0: Spanish -> English)")
    parser.add_argument("--output", default=None, help="run folder (default runs/quality-MODEL)")
    parser.add_argument("--test-limit", type=int, default=None, help="score only the first N test sources")
    parser.add_argument("--train-pairs", type=int, default=None,
                        help="train on a random sample of N lines of --data (seed 0), written beside the run folder")
    args, train_flags = parser.parse_known_args()
    output = args.output or f"runs/quality-{args.model}"
    if args.train_pairs:
        args.data = sample_lines(args.data, args.train_pairs, f"{output.rstrip('/')}.train.tsv")
    train_args = cli.make_parser().parse_args(
        ["train", args.model, "--data", args.data, "--valid", args.valid, "--columns", args.columns,
         "--output", output, "--time-budget", str(args.budget), *train_flags])
    settings = cli.train_settings(train_args)

    timer = StepTimer()
    started = time.time()
    model, source_tokenizer, target_tokenizer, logs = train(settings, callbacks=[timer])
    wall = time.time() - started
    settings = _recorded(output)
    epoch_tokens, epoch_steps = _tokens_per_epoch(settings, source_tokenizer, target_tokenizer)
    epochs = timer.steps / epoch_steps  # the last epoch is usually partial
    tokens_per_s = epoch_tokens * epochs / timer.seconds if timer.seconds else float("nan")

    sources, references = test_set(args.test, settings["columns"], args.test_limit)
    rows = {}
    for label, search in [("greedy", GreedySearch(max_length=100)),
                          ("beam 5", BeamSearch(beam_size=5, length_penalty=0.6, max_length=100))]:
        translator = Translator(model, source_tokenizer, target_tokenizer, search=search)
        result = evaluate(translator, sources, references, batch_size=64, progress=True)
        rows[label] = result
        print(f"{label}: {result.summary()}")
        for source, hypothesis, refs in list(zip(sources, result.hypotheses, references))[:3]:
            print(f"  {source} -> {hypothesis}   (ref: {refs[0]})")
    print(f"\ntrained {epochs:.2f} epochs ({timer.steps} steps of ~{settings['tokens_per_batch']} padded tokens) in "
          f"{wall / 60:.1f} min wall; about {tokens_per_s:,.0f} training tokens/s (source + target, non-padding)")
    print(f"precision: {settings.get('dtype_policy_reason') or settings['dtype_policy']}")
    print("| model | columns | budget | policy | epochs | BLEU greedy | BLEU beam 5 | chrF beam 5 | train tokens/s |")
    print(f"| {args.model} | {args.columns} | {args.budget:g} min | {settings['dtype_policy']} | {epochs:.1f} | "
          f"{rows['greedy'].bleu:.1f} | {rows['beam 5'].bleu:.1f} | {rows['beam 5'].chrf:.1f} | {tokens_per_s:,.0f} |")


def _recorded(output):
    """The run's resolved settings, as `run.json` records them."""
    import json

    with open(os.path.join(output, "run.json"), encoding="utf-8") as f:
        return json.load(f)


def _tokens_per_epoch(settings, source_tokenizer, target_tokenizer):
    """Non-padding source + target_out tokens, and batches, in one pass over the training data."""
    from s2s_keras.data import make_dataset

    dataset = make_dataset(open_source(settings["data"], settings["columns"]), source_tokenizer, target_tokenizer,
                           batch_size=settings["batch_size"],
                           tokens_per_batch=None if settings["batch_size"] else settings["tokens_per_batch"],
                           max_length=settings["max_length"], bucket_width=settings["bucket_width"],
                           shuffle=False, log=False)
    total = steps = 0
    for inputs, target_out in dataset:
        total += int((inputs["source"] != source_tokenizer.pad_id).numpy().sum()
                     + (target_out != target_tokenizer.pad_id).numpy().sum())
        steps += 1
    return total, steps


if __name__ == "__main__":
    sys.exit(main())
