"""Decoding throughput: sentences per second for greedy and beam search.

For `gru_attention` (embedding 256, units 512) and `transformer_small` (when
registered), vocabulary 8,000, batch 64 of 20-token sources: eager vs
`tf.function` vs `jit_compile=True`, and s2s_keras's `BeamSearch` against
`keras_hub.samplers.BeamSampler` driving the same model through its `next`
closure (length penalty off, same beam, same maximum length). Ratios are
measured in the same run. Weights are random, so no hypothesis ends early and
every strategy runs the full `--max-length` steps: a per-step comparison.

    .venv/bin/python bench/decode.py [--models gru_attention transformer_small] [--repeats 3]
    .venv/bin/python bench/decode.py --models transformer_small --modes function \
        --precisions float32 mixed_bfloat16 bfloat16 int8   # each precision's step against float32's

keras-hub is a benchmark-only dependency (`pip install -e ".[bench]"`).
"""

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import s2s_keras as s2s  # noqa: E402
from s2s_keras.data.special_ids import END_ID, START_ID  # noqa: E402

MODEL_SIZES = {
    "gru_attention": dict(embedding_dim=256, units=512),
    "transformer_small": {},
}


def sentences_per_second(fn, source, repeats):
    fn(source)  # warm-up: tracing and compilation
    started = time.perf_counter()
    for _ in range(repeats):
        result = fn(source)
        tf.nest.map_structure(lambda t: t.numpy(), result)
    return repeats * source.shape[0] / (time.perf_counter() - started)


def our_search(model, search, mode):
    def run(source):
        return s2s.decoding.decode(model, source, search)

    if mode == "eager":
        return run
    return tf.function(run, jit_compile=(mode == "xla"))


def keras_hub_beam(model, beam_size, max_length, mode):
    """BeamSampler over the same decode_step: memory and state ride in its cache."""
    import keras_hub

    sampler = keras_hub.samplers.BeamSampler(num_beams=beam_size)

    def run(source):
        memory = model.encode(source)
        state = model.initial_state(memory, max_length)
        batch = tf.shape(source)[0]
        prompt = tf.concat([tf.fill([batch, 1], START_ID), tf.zeros([batch, max_length], tf.int32)], axis=1)

        def next_fn(prompt, cache, index):
            tokens = prompt[:, index - 1]
            logits, new_state = model.decode_step(tokens, cache["state"], cache["memory"], index - 1)[:2]
            return logits, None, {"state": new_state, "memory": cache["memory"]}

        return sampler(next_fn, prompt, cache={"state": state, "memory": memory}, index=1,
                       stop_token_ids=[END_ID])

    if mode == "eager":
        return run
    return tf.function(run, jit_compile=(mode == "xla"))


def compare_precisions(model, source, args):
    """Sentences/s of greedy and beam 4 for each precision, rounds alternating, with ratios to the first."""
    searches = {"greedy": s2s.decoding.GreedySearch(max_length=args.max_length),
                "beam 4": s2s.decoding.BeamSearch(beam_size=4, max_length=args.max_length)}
    copies = {}
    for precision in args.precisions:
        try:
            copies[precision] = s2s.models.inference_copy(model, precision)
        except ValueError as error:
            print(f"  {precision}: {error}")
    rates = {(p, label, m): [] for p in copies for label in searches for m in args.modes}
    for _ in range(2):  # two alternating rounds: a drift of the host's speed shows as spread, not as a ratio
        for label, search in searches.items():
            for m in args.modes:
                for precision, copy in copies.items():
                    rates[precision, label, m].append(
                        sentences_per_second(our_search(copy, search, m), source, args.repeats))
    first = next(iter(copies))
    print(f"\n{model.name} ({model.count_params() / 1e6:.1f} M parameters): sentences/s (best of 2 rounds), "
          f"ratio to {first}")
    for label in searches:
        for m in args.modes:
            for precision in copies:
                best = max(rates[precision, label, m])
                ratio = best / max(rates[first, label, m])
                print(f"{label:<8} {m:<9} {precision:<15} {best:>9.1f}  {ratio:>5.2f}x  "
                      f"(rounds: {', '.join(f'{r:.1f}' for r in rates[precision, label, m])})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", nargs="+", default=list(MODEL_SIZES))
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--source-length", type=int, default=20)
    parser.add_argument("--max-length", type=int, default=24)
    parser.add_argument("--vocab", type=int, default=8000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["eager", "function", "xla"])
    parser.add_argument("--precisions", nargs="+", default=None, choices=s2s.models.INFERENCE_PRECISIONS,
                        help="instead of the keras_hub comparison: our searches in each precision "
                             "(`models.inference_copy`), with ratios to the first")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    source = tf.constant(rng.integers(4, args.vocab, size=(args.batch, args.source_length)), tf.int32)
    print(f"batch {args.batch}, {args.source_length}-token sources, vocabulary {args.vocab}, "
          f"{args.max_length} decoding steps, {os.cpu_count()} CPU cores, TF {tf.__version__}")
    for name in args.models:
        if name not in s2s.list_models():
            print(f"\n{name}: not registered, skipped")
            continue
        model = s2s.build_model(name, source_vocab_size=args.vocab, target_vocab_size=args.vocab,
                                **MODEL_SIZES.get(name, {}))
        if args.precisions:
            compare_precisions(model, source, args)
            continue
        print(f"\n{name} ({model.count_params() / 1e6:.1f} M parameters): sentences/s")
        print(f"{'strategy':<22}" + "".join(f"{m:>12}" for m in args.modes))
        ours = {}
        for label, search in [
            ("greedy", s2s.decoding.GreedySearch(max_length=args.max_length)),
            ("beam 4", s2s.decoding.BeamSearch(beam_size=4, max_length=args.max_length)),
            ("beam 8", s2s.decoding.BeamSearch(beam_size=8, max_length=args.max_length)),
        ]:
            row = {m: sentences_per_second(our_search(model, search, m), source, args.repeats) for m in args.modes}
            ours[label] = row
            print(f"{label:<22}" + "".join(f"{row[m]:>12.1f}" for m in args.modes))
        try:
            import keras_hub  # noqa: F401
        except ImportError:
            print("keras_hub not installed: BeamSampler comparison skipped (pip install -e '.[bench]')")
            continue
        for beam in (4, 8):
            row = {}
            for m in args.modes:
                try:
                    row[m] = sentences_per_second(keras_hub_beam(model, beam, args.max_length, m), source, args.repeats)
                except Exception as error:  # a mode the peer cannot run is reported, not fatal
                    print(f"  keras_hub BeamSampler beam {beam} {m}: failed ({type(error).__name__}: {str(error)[:120]})")
                    row[m] = float("nan")
            print(f"{'keras_hub beam ' + str(beam):<22}" + "".join(f"{row[m]:>12.1f}" for m in args.modes))
            ratios = {m: ours[f"beam {beam}"][m] / row[m] for m in args.modes}
            print(f"{'ratio ours/keras_hub':<22}" + "".join(f"{ratios[m]:>11.2f}x" for m in args.modes))
            best_ours, best_peer = max(ours[f"beam {beam}"].values()), np.nanmax(list(row.values()))
            print(f"  beam {beam}: best mode vs best mode: {best_ours / best_peer:.2f}x")


if __name__ == "__main__":
    main()
