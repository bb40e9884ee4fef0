"""Mixed precision: the policy "auto" picks, a scoped global dtype policy, a float32 copy of a model."""

import contextlib
import hashlib
import json
import os
import platform
import time

import keras

from s2s_keras.models.precision import inference_copy

# The dtype policies `train` accepts (`keras.mixed_precision`): variables stay float32 in all three.
DTYPE_POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")


@contextlib.contextmanager
def global_dtype_policy(name):
    """Sets Keras's global dtype policy for the `with` block, then restores the previous one.

    Layers take the global policy when they are created, so a model built in
    the block computes in that policy for good (and saves it in its config).

    Args:
        name: a Keras dtype policy name, e.g. "float32" or "mixed_bfloat16".

    Example:
    >>> with global_dtype_policy("mixed_bfloat16"):  # doctest: +SKIP
    ...     model = build_model("transformer_tiny", source_vocab_size=100, target_vocab_size=100)
    """
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_dtype_policy(previous)


def float32_copy(model):
    """The same model with every layer in float32 (a trained mixed-precision model, for serving).

    The variables of a mixed-precision model are float32 already, so the
    weights are copied unchanged; only the computation changes. Use it to
    serve on hardware without fast 16-bit matrix products.

    Args:
        model: a registered model, e.g. from `load_run` after
            `TrainSettings(dtype_policy="mixed_bfloat16")`.

    Returns:
        A new model with `model`'s weights whose layers compute in float32
        (`models.inference_copy(model, "float32")`).

    Example:
    >>> model, source_tokenizer, target_tokenizer = load_run("runs/bf16")  # doctest: +SKIP
    >>> translator = Translator(float32_copy(model), source_tokenizer, target_tokenizer)  # doctest: +SKIP
    """
    return inference_copy(model, "float32")


# "auto" picks mixed_bfloat16 on a CPU whose bfloat16 matmuls run at least this much faster than its
# float32 ones (AVX-512 BF16 or AMX with oneDNN); on CPUs without those units bfloat16 runs slower.
# The measurements behind the threshold are in docs/tuning.md.
FAST_BFLOAT16 = 1.5
CACHE_ENV = "S2S_KERAS_CACHE"


def matmul_peak(dtype="float32", n=1024, repeats=4, rounds=3):
    """The best FLOP/s of `rounds` runs of `repeats` chained `n x n` matmuls (about 0.3 s per dtype on 2 cores).

    Args:
        dtype: "float32" or "bfloat16".
        n: the matrix size.
        repeats: matmuls chained in one `tf.function` call.
        rounds: timed calls; the fastest counts.

    Returns:
        FLOP/s as a float.
    """
    import tensorflow as tf

    a = tf.random.stateless_normal((n, n), seed=(0, 0), stddev=n**-0.5, dtype=tf.float32)
    a = tf.cast(a, dtype)

    @tf.function
    def chain(x):
        for _ in range(repeats):
            x = tf.linalg.matmul(x, a)
        return x

    chain(a).numpy()
    best = 0.0
    for _ in range(rounds):
        started = time.perf_counter()
        chain(a).numpy()
        best = max(best, 2 * n**3 * repeats / (time.perf_counter() - started))
    return best


def machine_key():
    """What identifies this machine's CPU for the cached measurement: vendor, family, model, flags, cores, TF."""
    import tensorflow as tf

    fields = {}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("vendor_id", "cpu family", "model", "model name", "flags") and key not in fields:
                    fields[key] = value.strip()
    except OSError:
        pass
    flags = fields.pop("flags", "")
    identity = " | ".join([*fields.values(), hashlib.sha256(flags.encode()).hexdigest()[:12],
                           f"{os.cpu_count()} cores", platform.machine(), f"tf {tf.__version__}"])
    return identity


def _cache_path():
    folder = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "s2s_keras")
    return os.path.join(folder, "matmul_peaks.json")


def measured_matmul_peaks(measure=matmul_peak, cache_path=None):
    """This machine's float32 and bfloat16 matmul peaks, measured once and cached per machine.

    Args:
        measure: `dtype -> FLOP/s` (tests pass a stub).
        cache_path: the JSON cache (default `~/.cache/s2s_keras/matmul_peaks.json`,
            or `$S2S_KERAS_CACHE/matmul_peaks.json`); None entries are measured again.

    Returns:
        `({"float32": flops, "bfloat16": flops}, cached)`.
    """
    path = cache_path or _cache_path()
    key = machine_key()
    cache = {}
    try:
        with open(path, encoding="utf-8") as f:
            cache = json.load(f)
        peaks = cache[key]
        if all(isinstance(peaks.get(d), (int, float)) and peaks[d] > 0 for d in ("float32", "bfloat16")):
            return {d: float(peaks[d]) for d in ("float32", "bfloat16")}, True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        cache = cache if isinstance(cache, dict) else {}
    peaks = {d: float(measure(d)) for d in ("float32", "bfloat16")}
    try:  # a cache that cannot be written only costs the measurement next time
        os.makedirs(os.path.dirname(path), exist_ok=True)
        partial = f"{path}.{os.getpid()}.partial"
        with open(partial, "w", encoding="utf-8") as f:
            json.dump({**cache, key: peaks}, f, indent=2)
        os.replace(partial, path)
    except OSError:
        pass
    return peaks, False


def gpu_dtype_policy(compute_capability):
    """The mixed policy a GPU of this compute capability runs fast: bfloat16 from 8.0, float16 from 7.0."""
    major, minor = compute_capability
    if (major, minor) >= (8, 0):
        return "mixed_bfloat16"
    if (major, minor) >= (7, 0):
        return "mixed_float16"
    return "float32"


def auto_dtype_policy(measure=matmul_peak, cache_path=None):
    """The dtype policy "auto" means on this machine, and why.

    On a GPU, the mixed policy its compute capability supports (`gpu_dtype_policy`).
    On a CPU, mixed_bfloat16 where bfloat16 matmuls run at least `FAST_BFLOAT16`
    times as fast as float32 (measured once per machine, see
    `measured_matmul_peaks`), float32 elsewhere.

    Args:
        measure: `dtype -> FLOP/s` (tests pass a stub).
        cache_path: where the measurement is cached.

    Returns:
        `(policy, reason)`: the policy name and one line saying what decided it.

    Example:
    >>> policy, reason = auto_dtype_policy()  # doctest: +SKIP
    >>> print(reason)  # doctest: +SKIP
    matmul peak: float32 217 GFLOP/s, bfloat16 406 GFLOP/s (1.87x >= 1.5x) -> mixed_bfloat16
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        capability = details.get("compute_capability")
        if capability:
            policy = gpu_dtype_policy(capability)
            name = details.get("device_name", "GPU")
            return policy, f"{name}, compute capability {capability[0]}.{capability[1]} -> {policy}"
    peaks, cached = measured_matmul_peaks(measure, cache_path)
    ratio = peaks["bfloat16"] / peaks["float32"]
    policy = "mixed_bfloat16" if ratio >= FAST_BFLOAT16 else "float32"
    sign = ">=" if ratio >= FAST_BFLOAT16 else "<"
    return policy, (f"matmul peak{' (cached)' if cached else ''}: float32 {peaks['float32'] / 1e9:.0f} GFLOP/s, "
                    f"bfloat16 {peaks['bfloat16'] / 1e9:.0f} GFLOP/s ({ratio:.2f}x {sign} {FAST_BFLOAT16:g}x) "
                    f"-> {policy}")


def resolve_dtype_policy(name, **kwargs):
    """`name` itself, or for "auto" the policy `auto_dtype_policy` picks; returns `(policy, reason or None)`."""
    if name == "auto":
        return auto_dtype_policy(**kwargs)
    if name not in DTYPE_POLICIES:
        raise ValueError(f"dtype_policy must be auto or one of {', '.join(DTYPE_POLICIES)}. Received: {name!r}")
    return name, None
