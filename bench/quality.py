"""Translation quality on real data: Tatoeba Spanish -> English, under a wall-clock budget.

Trains a registered model on `../shared/data/tatoeba-spa-eng/train.tsv`
(Spanish -> English, the TF tutorial's direction) for `--budget` minutes,
validating on `valid.tsv`, then scores `test.tsv` with sacreBLEU and chrF,
greedy and beam 5. Test sources with several English translations are scored
against all of them (multi-reference BLEU). Also reports training tokens/s.

    .venv/bin/python bench/quality.py gru_attention --budget 30
    .venv/bin/python bench/quality.py transformer_small --budget 30
    .venv/bin/python bench/quality.py lstm_luong --budget 8 --tokens-per-batch 4096 --set units=512

Defaults are tuned per model family for a 30-minute CPU budget (`TUNED`; the
README says what each change gave); every flag overrides them. Where the
machine's bfloat16 matmuls are fast, training runs in `mixed_bfloat16`
(`--dtype-policy auto`, the default).
Scores the kept epoch checkpoint with the lowest validation loss (`--score last`:
the final weights). Prints one Markdown table row at the end, for the README.
"""

import argparse
import collections
import json
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from s2s_keras.decoding import BeamSearch, GreedySearch  # noqa: E402
from s2s_keras.evaluation import evaluate  # noqa: E402
from s2s_keras.training.callbacks import EpochCheckpoints, epoch_checkpoints  # noqa: E402
from s2s_keras.training.precision import DTYPE_POLICIES  # noqa: E402
from s2s_keras.training.run import TrainSettings, train  # noqa: E402
from s2s_keras.translator import Translator  # noqa: E402

# Per family, what gave the best validation loss in a short budget on the 2-core CPU (README, "Quality"):
# both need many more updates than 4,096-token batches allow in 30 minutes. RNNs: 2,048-token batches at
# a doubled learning rate, units 256; the Transformer: 2,048-token batches, warm-up to a 1e-3 peak.
# Both: 4,000 subwords per side (BLEU over 8,000: transformer_small 37.9 -> 42.3, gru_attention
# 46.0 -> 47.1, lstm_luong 32.2 -> 38.1). The Transformer: no dropout (3 epochs underfit; 42.3 -> 48.1),
# length buckets 2 tokens wide as OpenNMT-tf's (+9.5% tokens/s; 10 min on session 9's CPU: 46.2 -> 47.0).
TUNED = {
    "rnn": dict(tokens_per_batch=2048, learning_rate=2e-3, warmup_steps=None, vocab_size=4000, bucket_width=None,
                overrides={"units": 256}),
    "transformer": dict(tokens_per_batch=2048, learning_rate=1e-3, warmup_steps=400, vocab_size=4000,
                        bucket_width=2, overrides={"dropout": 0.0}),
}
# `--dtype-policy auto` trains in mixed_bfloat16 where bf16 matmuls are at least this much faster than
# float32 (session 11's EPYC: 1.9x; transformer_small then trains 1.22-1.32x faster, BLEU 45.9 -> 51.0;
# gru_attention level at 50.3).
FAST_BFLOAT16 = 1.5
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


def test_set(limit=None):
    """Spanish sources with all their English references, in file order."""
    references = collections.OrderedDict()
    with open(os.path.join(CORPUS, "test.tsv"), encoding="utf-8") as f:
        for line in f:
            english, spanish = line.rstrip("\n").split("\t")[:2]
            references.setdefault(spanish, []).append(english)
    items = list(references.items())[:limit]
    return [s for s, _ in items], [r for _, r in items]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--budget", type=float, default=30.0, help="training minutes")
    parser.add_argument("--output", default=None, help="run folder (default runs/quality-MODEL)")
    parser.add_argument("--tokenizer", default="sentencepiece", choices=["wordpiece", "sentencepiece", "char"])
    parser.add_argument("--vocab-size", type=int, default=None, help="subwords per side (default: TUNED per family)")
    parser.add_argument("--tokens-per-batch", type=int, default=None, help="default: TUNED per family")
    parser.add_argument("--learning-rate", type=float, default=None, help="default: TUNED per family")
    parser.add_argument("--warmup-steps", type=int, default=None,
                        help="linear warm-up to --learning-rate, then inverse square root decay "
                             "(default: TUNED per family; 0 for a constant rate)")
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    parser.add_argument("--bucket-width", type=int, default=None,
                        help="length buckets every N tokens (1: one per length; 0: 25%% apart); "
                             "default: TUNED per family")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="model overrides")
    parser.add_argument("--test-limit", type=int, default=None, help="score only the first N test sources")
    parser.add_argument("--jit-compile", action="store_true")
    parser.add_argument("--dtype-policy", default="auto", choices=("auto", *DTYPE_POLICIES),
                        help="auto (default): mixed_bfloat16 where this machine's bfloat16 matmuls run at least "
                             f"{FAST_BFLOAT16:g}x as fast as float32 (oneDNN with AVX-512 BF16 or AMX), else float32")
    parser.add_argument("--seed", type=int, default=0, help="seeds weights and data order (repeat runs show the noise)")
    parser.add_argument("--score", choices=("best", "last"), default="best",
                        help="best (default): score the epoch checkpoint with the lowest validation loss; "
                             "last: the weights training ended with (before session 12)")
    args = parser.parse_args()

    tuned = TUNED["transformer" if args.model.startswith("transformer") else "rnn"]
    for key in ("tokens_per_batch", "learning_rate", "warmup_steps", "vocab_size", "bucket_width"):
        if getattr(args, key) is None:
            setattr(args, key, tuned[key])
    if args.dtype_policy == "auto":
        args.dtype_policy = fastest_dtype_policy()
    args.warmup_steps = args.warmup_steps or None  # 0: no warm-up
    args.bucket_width = args.bucket_width or None  # 0: buckets 25% apart
    overrides = dict(tuned["overrides"])
    for item in args.set:
        key, value = item.split("=", 1)
        overrides[key] = json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value
    settings = TrainSettings(
        model=args.model, data=os.path.join(CORPUS, "train.tsv"), valid=os.path.join(CORPUS, "valid.tsv"),
        output=args.output or f"runs/quality-{args.model}", columns=(1, 0), tokenizer=args.tokenizer,
        vocab_size=args.vocab_size, epochs=1000, time_budget=args.budget, tokens_per_batch=args.tokens_per_batch,
        max_length=64, bucket_width=args.bucket_width, learning_rate=args.learning_rate, warmup_steps=args.warmup_steps,
        label_smoothing=args.label_smoothing,
        overrides=overrides, jit_compile=args.jit_compile, seed=args.seed, dtype_policy=args.dtype_policy,
    )
    timer = StepTimer()
    started = time.time()
    model, source_tokenizer, target_tokenizer, logs = train(settings, callbacks=[timer])
    wall = time.time() - started
    epoch_tokens, epoch_steps = _tokens_per_epoch(settings, source_tokenizer, target_tokenizer)
    epochs = timer.steps / epoch_steps  # the last epoch is usually partial
    tokens_per_s = epoch_tokens * epochs / timer.seconds if timer.seconds else float("nan")

    if args.score == "best":
        print(restore_best_epoch(model, settings.output, logs))

    sources, references = test_set(args.test_limit)
    rows = {}
    for label, search in [("greedy", GreedySearch(max_length=80)),
                          ("beam 5", BeamSearch(beam_size=5, length_penalty=0.6, max_length=80))]:
        translator = Translator(model, source_tokenizer, target_tokenizer, search=search)
        result = evaluate(translator, sources, references, batch_size=64, progress=True)
        rows[label] = result
        print(f"{label}: {result.summary()}")
        for source, hypothesis, refs in list(zip(sources, result.hypotheses, references))[:3]:
            print(f"  {source} -> {hypothesis}   (ref: {refs[0]})")
    print(f"\ntrained {epochs:.2f} epochs ({timer.steps} steps of ~{settings.tokens_per_batch} padded tokens) in "
          f"{wall / 60:.1f} min wall; about {tokens_per_s:,.0f} training tokens/s (source + target, non-padding)")
    print("| model | budget | policy | epochs | BLEU greedy | BLEU beam 5 | chrF beam 5 | train tokens/s |")
    print(f"| {args.model} | {args.budget:g} min | {args.dtype_policy} | {epochs:.1f} | {rows['greedy'].bleu:.1f} | "
          f"{rows['beam 5'].bleu:.1f} | {rows['beam 5'].chrf:.1f} | {tokens_per_s:,.0f} |")


def restore_best_epoch(model, output, logs):
    """Loads the kept epoch checkpoint with the lowest validation loss into `model`; says which it chose.

    Keras validates after the last, possibly partial, epoch too, and `EpochCheckpoints` saves it, so
    epoch N of this run's history is `checkpoints/epoch-N.weights.h5`. A resumed run (its history split
    over several `fit` calls) keeps its last weights.
    """
    with open(os.path.join(output, "history.json")) as f:
        if len(json.load(f)) != 1:
            return "scoring the last weights (a resumed run)"
    kept = {int(EpochCheckpoints.PATTERN.search(path).group(1)): path
            for path in epoch_checkpoints(os.path.join(output, "checkpoints"))}
    losses = logs.get("val_loss", [])
    candidates = [(loss, epoch) for epoch, loss in enumerate(losses, start=1) if epoch in kept]
    if not candidates:
        return "scoring the last weights (no validation loss or checkpoints)"
    loss, epoch = min(candidates)
    if epoch == len(losses):
        return f"scoring the last epoch ({epoch}, validation loss {loss:.4f}, the lowest)"
    model.load_weights(kept[epoch])
    return f"scoring epoch {epoch} of {len(losses)}: validation loss {loss:.4f} against {losses[-1]:.4f} at the end"


def fastest_dtype_policy():
    """mixed_bfloat16 if this machine's bfloat16 matmuls beat float32 by `FAST_BFLOAT16`, else float32."""
    from train_throughput import matmul_peak  # bench/ is the script's folder

    float32, bfloat16 = matmul_peak("float32"), matmul_peak("bfloat16")
    policy = "mixed_bfloat16" if bfloat16 >= FAST_BFLOAT16 * float32 else "float32"
    print(f"matmul peak: float32 {float32 / 1e9:.0f} GFLOP/s, bfloat16 {bfloat16 / 1e9:.0f} GFLOP/s -> {policy}")
    return policy


def _tokens_per_epoch(settings, source_tokenizer, target_tokenizer):
    """Non-padding source + target_out tokens, and batches, in one pass over the training data."""
    from s2s_keras.data import make_dataset
    from s2s_keras.training.run import open_source

    dataset = make_dataset(open_source(settings.data, settings.columns), source_tokenizer, target_tokenizer,
                           tokens_per_batch=settings.tokens_per_batch, max_length=settings.max_length,
                           bucket_width=settings.bucket_width, shuffle=False, log=False)
    total = steps = 0
    for inputs, target_out in dataset:
        total += int((inputs["source"] != 0).numpy().sum() + (target_out != 0).numpy().sum())
        steps += 1
    return total, steps


if __name__ == "__main__":
    main()
