"""Training speed of an RNN decoder without input feeding, on three paths.

Without input feeding (`lstm_luong`, `gru_luong`, the plain `rnn`/`lstm`/`gru`), `RNNDecoder` runs each
layer as a Keras `LSTM`/`GRU` over the whole target and attends for every target position in one batched
call afterwards ("keras"). Two baselines: the same cells stepped in the project's own time loop
(`scan_time`) with the same batched attention ("own loop"), and the model forced to run `step` at every
position, attention included (the path input feeding needs: "per step"). All run in this process on the
same Tatoeba batches, alternating in rounds, so a busy machine slows each alike; the script prints tokens/s
of each and the ratios.

    .venv/bin/python bench/rnn_decoder_paths.py [--models lstm_luong gru_luong gru] [--steps 10] [--rounds 3]
        [--dtype-policy float32|mixed_bfloat16]
"""

import argparse
import os
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

import s2s_keras as s2s  # noqa: E402
from s2s_keras.layers.loops import scan_time  # noqa: E402
from train_throughput import DATA, VOCAB, make_batches, padded, real_lengths  # noqa: E402

PATHS = ("per step", "own loop", "keras")


def own_loop(decoder):
    """The decoder's cells-then-attention path with the cells stepped in `scan_time` instead of Keras's layers."""

    def cells_then_attention(inputs, state, memory, training):
        def body(cell_states, x_t):
            top, cell_states = decoder._run_cells(x_t, cell_states, training)
            return cell_states, top

        _, top = scan_time(body, state["cells"], ops.transpose(inputs, (1, 0, 2)))
        top = ops.transpose(top, (1, 0, 2))  # (batch, tgt_len, units)
        if decoder.attention_layer is None:
            return top, None
        context, weights = decoder._attend(top, memory)
        return decoder.attention_projection(ops.concatenate([top, context], axis=-1)), weights

    return cells_then_attention


def build(name, path):
    keras.utils.set_random_seed(0)
    model = s2s.build_model(name, source_vocab_size=VOCAB, target_vocab_size=VOCAB,
                            **s2s.get_recipe(name).overrides)
    decoder = model.get_layer("decoder")
    if path == "per step":  # attention inside the loop, one position at a time
        decoder._cells_then_attention = decoder._step_over_time
    elif path == "own loop":
        decoder._cells_then_attention = own_loop(decoder)
    model.compile(optimizer=s2s.training.FusedAdam(1e-3), loss=s2s.losses.masked_loss(label_smoothing=0.1))
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=["lstm_luong", "gru_luong", "gru"])
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round and path")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens-per-batch", type=int, default=2048)
    parser.add_argument("--dtype-policy", default="float32", choices=("float32", "mixed_bfloat16"))
    args = parser.parse_args()
    keras.mixed_precision.set_dtype_policy(args.dtype_policy)
    batches = padded(make_batches(DATA, args.tokens_per_batch, 2)[: args.steps], to_bucket=False)
    tokens = sum(int(sum(map(np.sum, real_lengths(b)))) for b in batches)
    print("| model | per step tokens/s | own loop tokens/s | keras tokens/s | keras / own loop | keras / per step |")
    for name in args.models:
        models = {path: build(name, path) for path in PATHS}
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
        print(f"| {name} | {rate['per step']:,.0f} | {rate['own loop']:,.0f} | {rate['keras']:,.0f} | "
              f"{rate['keras'] / rate['own loop']:.2f} | {rate['keras'] / rate['per step']:.2f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
