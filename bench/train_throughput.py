"""Training throughput: tokens per second and model FLOPs utilisation (MFU).

Trains `transformer_small` and `gru_attention` (vocabulary 8,000 per side,
about 4,096 tokens per batch), and an identical-size encoder–decoder built
from `keras_hub.layers.TransformerEncoder` / `TransformerDecoder`, on the
shared Tatoeba corpus (`../shared/data/tatoeba-spa-eng/train.tsv`), each in
float32 / `mixed_bfloat16` and with or without `jit_compile`.

- Tokens: the sentences are split into pieces of at most 5 characters and
  punctuation marks (about as many tokens as an 8k SentencePiece model gives:
  ~9 per sentence) and hashed into ids 4..7999. Tokens per second count the
  non-padding source and target tokens (target with `[END]`), as OpenNMT-tf
  counts them.
- Batches: sentences bucketed by length as OpenNMT-tf buckets its "tokens"
  batches: buckets `--bucket-width` tokens wide (default 2, OpenNMT-tf's
  training default; `make_dataset(bucket_width=...)` in s2s_keras), up to 64,
  `batch_size * bucket ≈ --tokens-per-batch`. `--bucket-width 0` uses the
  wider buckets used before 2026-12 (8, 12, 16, 24, 32, 48, 64). Without XLA each
  side is padded to the batch's longest sentence, as `make_dataset` and
  OpenNMT-tf pad; with `jit_compile` both sides are padded to the bucket, and
  the buckets are at least 8 wide (as OpenNMT-tf does under XLA), so XLA
  compiles one program per bucket, all during warm-up.
- MFU: model FLOPs of the real (non-padding) tokens, counted analytically
  (2 per multiply-add, backward = 2x forward: 6 per MAC), divided by the
  float32 matmul peak measured in the same run (`tf.linalg.matmul` 2048²);
  `mixed_bfloat16` rows also give the share of the bfloat16 peak (about 1.9×
  the float32 one on CPUs with AVX-512 BF16, where oneDNN uses its dot products).
- `--peer-steps N` also runs `../shared/peers/opennmt-tf/run.sh transformer_small N`
  (OpenNMT-tf 2.32 / TF 2.13, installed into /tmp on first use) and prints the ratio.
- `--profile CONFIG` (e.g. `transformer_small:fp32:jit`) writes a TensorFlow
  profile of a few steps and prints where the time goes, by op type.

    .venv/bin/python bench/train_throughput.py [--steps 20] [--configs ...] [--peer-steps 100] [--bucket-width 2]

keras-hub is a benchmark-only dependency (`pip install -e ".[bench]"`).
"""

import argparse
import collections
import functools
import glob
import os
import re
import subprocess
import tempfile
import time
import zlib

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import s2s_keras as s2s  # noqa: E402
from s2s_keras.data.special_ids import END_ID, PAD_ID, START_ID  # noqa: E402
from s2s_keras.training.precision import matmul_peak  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data", "tatoeba-spa-eng", "train.tsv")
PEER = os.path.join(HERE, "..", "..", "shared", "peers", "opennmt-tf", "run.sh")
VOCAB = 8000
MAX_LENGTH = 64
WIDE_BUCKETS = (8, 12, 16, 24, 32, 48, 64)  # `--bucket-width 0`: the earlier fixed buckets
XLA_BUCKET_WIDTH = 8
SMALL = dict(d_model=256, num_layers=3, num_heads=8, intermediate_dim=512)  # transformer_small
GRU = dict(embedding_dim=256, units=512)  # gru_attention's defaults
DEFAULT_CONFIGS = (
    "transformer_small:fp32:eager", "transformer_small:fp32:jit", "transformer_small:bf16:jit",
    "keras_hub:fp32:eager", "keras_hub:fp32:jit", "keras_hub:bf16:jit",
    "gru_attention:fp32:eager", "gru_attention:fp32:jit",
)


# --- data ------------------------------------------------------------------------------------------


def tokenize(sentence):
    """Pieces of at most 5 word characters, and punctuation marks, hashed to ids 4..VOCAB-1."""
    pieces = re.findall(r"\w{1,5}|[^\w\s]", sentence.lower())
    return [4 + zlib.crc32(p.encode()) % (VOCAB - 4) for p in pieces]


def bucket_of(length, width):
    """The longest length of `length`'s bucket: buckets `width` wide (OpenNMT-tf's), or WIDE_BUCKETS for 0."""
    if width == 0:
        return next((b for b in WIDE_BUCKETS if length <= b), None)
    bucket = -(-length // width) * width
    return bucket if bucket <= MAX_LENGTH else None


@functools.lru_cache(maxsize=None)
def make_batches(path, tokens_per_batch, width, seed=0):
    """Bucketed batches of Spanish → English pairs: `[(bucket, [(source_ids, target_ids), ...]), ...]`."""
    by_bucket = collections.defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for line in f:
            english, spanish = line.rstrip("\n").split("\t")[:2]
            source, target = tokenize(spanish), [START_ID, *tokenize(english), END_ID]
            length = max(len(source), len(target) - 1)
            bucket = bucket_of(length, width)
            if bucket is not None and source:
                by_bucket[bucket].append((source, target))
    rng = np.random.default_rng(seed)
    batches = []
    for bucket, pairs in by_bucket.items():
        size = tokens_per_batch // bucket
        order = rng.permutation(len(pairs))
        for start in range(0, len(order) - size + 1, size):  # full batches only: one shape per bucket
            batches.append((bucket, [pairs[i] for i in order[start : start + size]]))
    rng.shuffle(batches)
    return batches


def padded(batches, to_bucket):
    """`({"source", "target_in"}, target_out)` arrays of each batch.

    With `to_bucket` both sides are padded to the bucket's length (static shapes, for XLA);
    otherwise each side to its longest sentence in the batch, as `s2s_keras.data.make_dataset`
    and OpenNMT-tf pad them.
    """
    arrays = []
    for bucket, pairs in batches:
        source_length = bucket if to_bucket else max(len(s) for s, _ in pairs)
        target_length = bucket + 1 if to_bucket else max(len(t) for _, t in pairs)
        source = np.zeros((len(pairs), source_length), "int32")
        target = np.zeros((len(pairs), target_length), "int32")
        for row, (s, t) in enumerate(pairs):
            source[row, : len(s)] = s
            target[row, : len(t)] = t
        arrays.append(({"source": source, "target_in": target[:, :-1]}, target[:, 1:]))
    return arrays


def real_lengths(batch):
    (inputs, target_out) = batch
    return (inputs["source"] != PAD_ID).sum(1), (target_out != PAD_ID).sum(1)


# --- analytic FLOPs (multiply-adds of one forward pass; training = 6 FLOPs per MAC) ----------------


def transformer_macs(src, tgt, d_model, num_layers, intermediate_dim, vocab=VOCAB, **_):
    """Forward multiply-adds for sentences of lengths `src`, `tgt` (arrays): projections, attention, output."""
    src, tgt, d = src.astype(np.float64), tgt.astype(np.float64), d_model
    encoder = num_layers * (src * (4 * d * d + 2 * d * intermediate_dim) + 2 * src * src * d)
    decoder = num_layers * (
        tgt * (6 * d * d + 2 * d * intermediate_dim)  # self q k v o, cross q o, feed-forward
        + src * 2 * d * d  # cross-attention keys and values
        + 2 * tgt * tgt * d + 2 * tgt * src * d  # scores and contexts
    )
    return float(np.sum(encoder + decoder + tgt * d * vocab))


def gru_attention_macs(src, tgt, embedding_dim, units, vocab=VOCAB):
    """Bidirectional GRU encoder (units/2 per direction), Bahdanau input-feeding GRU decoder."""
    src, tgt = src.astype(np.float64), tgt.astype(np.float64)
    e, u = embedding_dim, units
    encoder = src * 3 * (e * u + u * u / 2) + src * u * u  # both directions; attention keys
    decoder = tgt * (
        3 * ((e + u) * u + u * u)  # GRU cell on [y; context]
        + u * u  # attention query
        + 2 * u * u  # attention projection [s; c] -> u
        + u * vocab  # output projection
    ) + 2 * tgt * src * u  # scores (v . tanh) and contexts
    return float(np.sum(encoder + decoder))


def model_macs(kind, batch):
    src, tgt = real_lengths(batch)
    if kind == "gru_attention":
        return gru_attention_macs(src, tgt, **GRU)
    return transformer_macs(src, tgt, **SMALL)


# --- models ------------------------------------------------------------------------------------------


def build_keras_hub(dropout=0.1):
    """transformer_small's sizes from keras_hub layers: sinusoidal embeddings, post-norm blocks."""
    import keras_hub

    d, layers, heads, ff = SMALL["d_model"], SMALL["num_layers"], SMALL["num_heads"], SMALL["intermediate_dim"]
    source = keras.Input((None,), dtype="int32", name="source")
    target_in = keras.Input((None,), dtype="int32", name="target_in")

    def embed(ids, name):
        tokens = keras.layers.Embedding(VOCAB, d, name=f"{name}_tokens")(ids)
        return keras.layers.Dropout(dropout)(tokens * d**0.5 + keras_hub.layers.SinePositionEncoding()(tokens))

    x = embed(source, "source")
    source_mask = keras.ops.not_equal(source, PAD_ID)
    for i in range(layers):
        x = keras_hub.layers.TransformerEncoder(ff, heads, dropout=dropout, name=f"encoder_{i}")(
            x, padding_mask=source_mask
        )
    y = embed(target_in, "target")
    for i in range(layers):
        y = keras_hub.layers.TransformerDecoder(ff, heads, dropout=dropout, name=f"decoder_{i}")(
            y, x, encoder_padding_mask=source_mask
        )
    logits = keras.layers.Dense(VOCAB, dtype="float32", name="output_projection")(y)
    return keras.Model({"source": source, "target_in": target_in}, logits, name="keras_hub_transformer")


def build(kind):
    if kind == "keras_hub":
        return build_keras_hub()
    if kind == "gru_attention":
        return s2s.build_model(kind, source_vocab_size=VOCAB, target_vocab_size=VOCAB, **GRU)
    return s2s.build_model(kind, source_vocab_size=VOCAB, target_vocab_size=VOCAB)


# --- measurement ---------------------------------------------------------------------------------------


def compiled_model(config):
    kind, precision, mode = config.split(":")
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16" if precision == "bf16" else "float32")
    try:
        keras.utils.set_random_seed(0)
        model = build(kind)
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    model.compile(
        optimizer=s2s.training.FusedAdam(1e-3), loss=s2s.losses.masked_loss(label_smoothing=0.1),
        jit_compile=(mode == "jit"),
    )
    return kind, model


def warm_up(model, batches):
    """One step per distinct batch shape: tracing and XLA compilation happen here.

    Without XLA, Keras's `tf.function` (`reduce_retracing`) turns shape-generic after a few shapes.
    """
    seen = {}
    for batch in batches:
        seen.setdefault((batch[0]["source"].shape, batch[1].shape), batch)
    if not model.jit_compile:
        seen = dict(list(seen.items())[:4])
    started = time.perf_counter()
    for x, y in seen.values():
        model.train_on_batch(x, y)
    return time.perf_counter() - started


def batches_for(model, tokens_per_batch, width):
    """The run's batches for `model`: buckets at least XLA_BUCKET_WIDTH wide under XLA (one program each)."""
    if model.jit_compile and width:
        width = max(width, XLA_BUCKET_WIDTH)
    return make_batches(DATA, tokens_per_batch, width)


def measure(config, steps, tokens_per_batch, width):
    kind, model = compiled_model(config)
    batches = batches_for(model, tokens_per_batch, width)
    timed = padded(batches[:steps], to_bucket=model.jit_compile)
    warm_seconds = warm_up(model, timed)
    tokens = sum(int(sum(map(np.sum, real_lengths(b)))) for b in timed)
    macs = sum(model_macs(kind, b) for b in timed)
    started = time.perf_counter()
    for x, y in timed:
        loss = model.train_on_batch(x, y)
    seconds = time.perf_counter() - started
    assert np.isfinite(loss), f"{config}: loss {loss}"
    return dict(config=config, tokens_per_s=tokens / seconds, flops_per_s=6 * macs / seconds,
                step_ms=1000 * seconds / len(timed), warm_up_s=warm_seconds)


def peer_tokens_per_second(steps):
    print(f"running the OpenNMT-tf peer for {steps} steps (installs once into /tmp) ...", flush=True)
    result = subprocess.run(["bash", PEER, "transformer_small", str(steps)], capture_output=True, text=True)
    match = re.search(r"tokens_per_s=(\d+)", result.stdout)
    if result.returncode or not match:
        print(f"peer failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return None
    print(result.stdout.strip().splitlines()[-1])
    return float(match.group(1))


# --- profile ------------------------------------------------------------------------------------------------


def profile(config, tokens_per_batch, width, steps=5, top=25):
    """Profiles `steps` training steps and prints the time per TensorFlow op type (or XLA cluster)."""
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    _, model = compiled_model(config)
    timed = padded(batches_for(model, tokens_per_batch, width)[:steps], to_bucket=model.jit_compile)
    warm_up(model, timed)
    logdir = tempfile.mkdtemp(prefix="s2s_profile_")
    tf.profiler.experimental.start(logdir)
    for x, y in timed:
        model.train_on_batch(x, y)
    tf.profiler.experimental.stop()
    space = xplane_pb2.XSpace()
    with open(glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0], "rb") as f:
        space.ParseFromString(f.read())
    totals = collections.Counter()
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            if line.name not in ("TensorFlow Ops", "XLA Ops", "tf_op") and not line.name.startswith("tf_Compute"):
                continue
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                op_type = name.split(":")[-1] if ":" in name else name
                totals[(line.name, op_type)] += event.duration_ps / 1e9  # ms
    total = sum(totals.values()) or 1.0
    print(f"\nprofile of {config}: {steps} steps, op time summed over threads (ms), {logdir}")
    for (line, op_type), ms in totals.most_common(top):
        print(f"  {ms / steps:9.1f} ms/step  {100 * ms / total:5.1f}%  {op_type}  [{line}]")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=20, help="timed steps per configuration")
    parser.add_argument("--tokens-per-batch", type=int, default=4096)
    parser.add_argument("--configs", nargs="+", default=list(DEFAULT_CONFIGS),
                        help="MODEL:PRECISION:MODE with MODEL in transformer_small, keras_hub, gru_attention, "
                             "PRECISION in fp32, bf16 and MODE in eager (tf.function), jit")
    parser.add_argument("--peer-steps", type=int, default=0, help="also run the OpenNMT-tf peer (0: skip)")
    parser.add_argument("--profile", default=None, help="a CONFIG to profile instead of the measurements")
    parser.add_argument("--bucket-width", type=int, default=2,
                        help="length bucket width in tokens (OpenNMT-tf's default 2); 0: buckets 8, 12, 16, 24, ...")
    args = parser.parse_args()

    batches = make_batches(DATA, args.tokens_per_batch, args.bucket_width)
    real, padded_tokens = _padding(batches)
    print(f"{len(batches)} batches of about {args.tokens_per_batch} tokens, buckets "
          f"{args.bucket_width or 'the earlier fixed buckets'} wide: {100 * real / padded_tokens:.1f}% of the padded tokens "
          f"are real; threads: intra={tf.config.threading.get_intra_op_parallelism_threads()} cores={os.cpu_count()}")
    if args.profile:
        profile(args.profile, args.tokens_per_batch, args.bucket_width)
        return
    # 2048 x 2048 matmuls, 10 chained: a longer measurement than `dtype_policy="auto"`'s quick one
    peak, bf16_peak = matmul_peak("float32", n=2048, repeats=10), matmul_peak("bfloat16", n=2048, repeats=10)
    print(f"float32 matmul peak: {peak / 1e9:.0f} GFLOP/s (bfloat16: {bf16_peak / 1e9:.0f} GFLOP/s)")
    results = []
    for config in args.configs:
        result = measure(config, args.steps, args.tokens_per_batch, args.bucket_width)
        results.append(result)
        of_bf16_peak = f" ({100 * result['flops_per_s'] / bf16_peak:.1f}% of the bf16 peak)" if ":bf16:" in config else ""
        print(f"{config:32s} {result['tokens_per_s']:8.0f} tokens/s  MFU {100 * result['flops_per_s'] / peak:5.1f}%"
              f"{of_bf16_peak}  {result['step_ms']:7.0f} ms/step  (warm-up {result['warm_up_s']:.0f} s)", flush=True)
    best = {}
    for r in results:
        kind = r["config"].split(":")[0]
        if kind not in best or r["tokens_per_s"] > best[kind]["tokens_per_s"]:
            best[kind] = r
    if "transformer_small" in best and "keras_hub" in best:
        ours, hub = best["transformer_small"], best["keras_hub"]
        print(f"best transformer_small ({ours['config']}) / best keras_hub ({hub['config']}): "
              f"{ours['tokens_per_s'] / hub['tokens_per_s']:.2f}x")
    if args.peer_steps:
        peer = peer_tokens_per_second(args.peer_steps)
        if peer and "transformer_small" in best:
            print(f"best transformer_small / OpenNMT-tf: {best['transformer_small']['tokens_per_s'] / peer:.2f}x "
                  f"(OpenNMT-tf at {peer:.0f} tokens/s = MFU {100 * peer * 6 * _macs_per_token(batches) / peak:.1f}%)")


def _padding(batches):
    """Real (non-padding) and padded source + target tokens of `batches`, each side padded to its longest."""
    real = padded_tokens = 0
    for _, pairs in batches:
        sources, targets = [len(s) for s, _ in pairs], [len(t) - 1 for _, t in pairs]
        real += sum(sources) + sum(targets)
        padded_tokens += len(pairs) * (max(sources) + max(targets))
    return real, padded_tokens


def _macs_per_token(batches):
    """Average transformer_small forward MACs per real token over the corpus batches (for the peer's MFU)."""
    sample = padded(batches[:200], to_bucket=False)
    return sum(model_macs("transformer_small", b) for b in sample) / sum(
        int(sum(map(np.sum, real_lengths(b)))) for b in sample
    )


if __name__ == "__main__":
    main()
