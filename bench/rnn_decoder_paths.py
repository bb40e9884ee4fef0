"""Training speed of an RNN decoder without input feeding: batched attention against attention per step.

Without input feeding (`lstm_luong`, `gru_luong`, the plain `rnn`/`lstm`/`gru`), `RNNDecoder` runs only
its cells in the time loop and attends for every target position in one batched call afterwards. The
baseline is the same model forced to run `step` at every position (the path input feeding needs), which
is how the decoder trained before. Both run in this process on the same Tatoeba batches, alternating in
rounds, so a busy machine slows both alike; the script prints tokens/s of each and their ratio.

    .venv/bin/python bench/rnn_decoder_paths.py [--models lstm_luong gru_luong gru] [--steps 10] [--rounds 3]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import keras  # noqa: E402
import numpy as np  # noqa: E402

import s2s_keras as s2s  # noqa: E402
from train_throughput import DATA, VOCAB, make_batches, padded, real_lengths  # noqa: E402


def build(name, stepwise):
    keras.utils.set_random_seed(0)
    model = s2s.build_model(name, source_vocab_size=VOCAB, target_vocab_size=VOCAB,
                            **s2s.get_recipe(name).overrides)
    if stepwise:  # the baseline: attention inside the loop, one position at a time
        decoder = model.get_layer("decoder")
        decoder._cells_then_attention = decoder._step_over_time
    model.compile(optimizer=s2s.training.FusedAdam(1e-3), loss=s2s.losses.masked_loss(label_smoothing=0.1))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["lstm_luong", "gru_luong", "gru"])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round and path")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens-per-batch", type=int, default=2048)
    args = parser.parse_args()
    batches = padded(make_batches(DATA, args.tokens_per_batch, 2)[: args.steps], to_bucket=False)
    tokens = sum(int(sum(map(np.sum, real_lengths(b)))) for b in batches)
    print("| model | per-step attention tokens/s | batched attention tokens/s | ratio |")
    for name in args.models:
        models = {"stepwise": build(name, True), "batched": build(name, False)}
        for model in models.values():  # tracing, outside the timing
            for x, y in batches:
                model.train_on_batch(x, y)
        seconds = {key: 0.0 for key in models}
        for _ in range(args.rounds):
            for key, model in models.items():
                started = time.perf_counter()
                for x, y in batches:
                    model.train_on_batch(x, y)
                seconds[key] += time.perf_counter() - started
        rate = {key: tokens * args.rounds / s for key, s in seconds.items()}
        print(f"| {name} | {rate['stepwise']:,.0f} | {rate['batched']:,.0f} | "
              f"{rate['batched'] / rate['stepwise']:.2f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
