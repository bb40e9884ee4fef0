"""Input pipeline throughput against training consumption, on Tatoeba spa->eng.

For each tokenizer kind (wordpiece, sentencepiece, char; vocabulary ~8,000 a
side, learned on the training file), one full pass of `make_dataset` over the
114k pairs of `../shared/data/tatoeba-spa-eng/train.tsv` (streamed with
`load_tsv`, tokenized in-graph, length-bucketed to 4,096 tokens a batch,
shuffled, padded): pairs per second, timed from the first pair read to the
last batch produced. Then, in the same run, the models consume batches of
that pipeline (cached in memory first, so the pipeline is not timed twice):
`gru_attention` and `transformer_small` at their defaults, a few dozen
training steps after warm-up, as pairs per second. The ratio pipeline /
training says how far the pipeline is from being the bottleneck (want >= 5x).

    .venv/bin/python bench/pipeline.py [--data PATH] [--kinds wordpiece char] [--steps 30]
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import s2s_keras as s2s  # noqa: E402
from s2s_keras.data import build_tokenizers, load_tsv, make_dataset  # noqa: E402
from s2s_keras.training import masked_loss  # noqa: E402

DEFAULT_DATA = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "tatoeba-spa-eng", "train.tsv")
KINDS = ("wordpiece", "sentencepiece", "char")
MODELS = ("gru_attention", "transformer_small")
TOKENS_PER_BATCH = 4096
MAX_LENGTH = 128
WARMUP_STEPS = 3


def spanish_to_english(path):
    return load_tsv(path, columns=(1, 0))  # the file is english<TAB>spanish


def pipeline_rate(path, source_tokenizer, target_tokenizer):
    """Pairs per second for one full pass, and the pass's `PipelineStats`."""
    dataset, stats = make_dataset(spanish_to_english(path), source_tokenizer, target_tokenizer,
                                  tokens_per_batch=TOKENS_PER_BATCH, max_length=MAX_LENGTH, seed=0, name="bench",
                                  return_stats=True)
    started = time.perf_counter()
    pairs = sum(int(inputs["source"].shape[0]) for inputs, _ in dataset)
    seconds = time.perf_counter() - started
    return pairs / seconds, seconds, stats


def training_rate(model_name, path, source_tokenizer, target_tokenizer, steps):
    """Pairs per second a model trains on, over `steps` batches of the pipeline (after warm-up)."""
    dataset = make_dataset(spanish_to_english(path), source_tokenizer, target_tokenizer,
                           tokens_per_batch=TOKENS_PER_BATCH, max_length=MAX_LENGTH, seed=1, log=False)
    batches = dataset.take(WARMUP_STEPS + steps).cache()
    pairs = sum(int(inputs["source"].shape[0]) for inputs, _ in batches.skip(WARMUP_STEPS))  # fills the cache
    model = s2s.build_model(model_name, source_vocab_size=source_tokenizer.vocab_size,
                            target_vocab_size=target_tokenizer.vocab_size)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=masked_loss())
    model.fit(batches.take(WARMUP_STEPS), verbose=0)  # tracing
    started = time.perf_counter()
    model.fit(batches.skip(WARMUP_STEPS), verbose=0)
    return pairs / (time.perf_counter() - started)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=DEFAULT_DATA)
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--models", nargs="+", default=[m for m in MODELS if m in s2s.list_models()])
    parser.add_argument("--vocab-size", type=int, default=8000)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args(argv)
    print(f"{args.data}: {TOKENS_PER_BATCH} tokens a batch, max_length {MAX_LENGTH}, vocab ~{args.vocab_size}; "
          f"{os.cpu_count()} CPUs, TF {tf.__version__}")
    rows = []
    for kind in args.kinds:
        started = time.perf_counter()
        source_tokenizer, target_tokenizer = build_tokenizers(
            spanish_to_english(args.data), kind=kind, vocab_size=args.vocab_size
        )
        learn_seconds = time.perf_counter() - started
        rate, seconds, stats = pipeline_rate(args.data, source_tokenizer, target_tokenizer)
        print(f"\n{kind}: vocabularies {source_tokenizer.vocab_size} / {target_tokenizer.vocab_size} "
              f"learned in {learn_seconds:.0f} s; pipeline {rate:,.0f} pairs/s "
              f"({stats.pairs_kept} pairs in {seconds:.1f} s; {stats.as_dict()})")
        for model_name in args.models:
            consumed = training_rate(model_name, args.data, source_tokenizer, target_tokenizer, args.steps)
            rows.append((kind, model_name, rate, consumed))
            print(f"  {model_name}: trains on {consumed:,.0f} pairs/s -> pipeline is {rate / consumed:.1f}x faster")
    print("\n| tokenizer | model | pipeline pairs/s | training pairs/s | ratio |\n|---|---|---:|---:|---:|")
    for kind, model_name, rate, consumed in rows:
        print(f"| {kind} | {model_name} | {rate:,.0f} | {consumed:,.0f} | {rate / consumed:.1f}x |")


if __name__ == "__main__":
    main()
