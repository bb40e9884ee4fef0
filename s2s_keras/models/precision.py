"""A copy of a trained model for inference in another precision: float32, bfloat16 arithmetic, int8 weights."""

import warnings

import keras

from s2s_keras.layers.cells import CELL_KINDS
from s2s_keras.models.seq2seq import DECODER, OUTPUT_PROJECTION

# "float32": float32 weights and arithmetic. "mixed_bfloat16": float32 weights, bfloat16 arithmetic (each
# weight is cast at each use). "bfloat16": bfloat16 weights and arithmetic, the same products as
# "mixed_bfloat16" without the casts, in half the bytes. "bfloat16_logits": "bfloat16" with the output projection
# in bfloat16 too (its logits rounded to bfloat16: not exact, the fastest). "int8": Keras's int8 weight
# quantization of every Dense, EinsumDense and Embedding layer (one scale per output), float32 for the rest.
INFERENCE_PRECISIONS = ("float32", "mixed_bfloat16", "bfloat16", "bfloat16_logits", "int8")


def inference_copy(model, precision):
    """The same trained model in another precision, for translating and exporting.

    The output projection computes in float32 in every precision but
    "bfloat16_logits" (under "int8" its weights are int8 with float32
    scales), and the searches sum their scores in float32 in all of them.
    Under "bfloat16" the weights themselves are rounded to
    bfloat16 once, which is what "mixed_bfloat16" does to them at every use:
    the same products without a cast per weight per decoding step.
    "bfloat16_logits" also rounds the output projection's weights and its
    logits to bfloat16: its matmul, a step's largest, runs at bfloat16
    speed, and the translations may differ a little from the model's own.

    Args:
        model: a registered model, in any dtype policy.
        precision: one of `INFERENCE_PRECISIONS`.

    Returns:
        A new model with `model`'s weights (quantized under "int8").

    Raises:
        ValueError: for an unknown precision, or "bfloat16" for a model with
            recurrent cells (use "mixed_bfloat16").

    Example:
    >>> model, source_tokenizer, target_tokenizer = load_run("runs/x")  # doctest: +SKIP
    >>> translator = Translator(inference_copy(model, "int8"), source_tokenizer, target_tokenizer)  # doctest: +SKIP
    """
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"`precision` must be one of {INFERENCE_PRECISIONS}. Received: precision={precision!r}")
    policy = {"int8": "float32", "bfloat16_logits": "bfloat16"}.get(precision, precision)
    config = _with_policy(keras.saving.serialize_keras_object(model), policy,
                          float32_output=precision != "bfloat16_logits")
    if policy == "bfloat16" and _has_recurrent_cells(model):
        raise ValueError(f"{model.name!r} has recurrent cells, which cannot be built with bfloat16 weights "
                         "(TensorFlow has no bfloat16 kernel for their orthogonal initializer): use "
                         "precision='mixed_bfloat16'.")
    config.pop("compile_config", None)  # an inference copy has no optimizer
    previous = keras.mixed_precision.dtype_policy()
    keras.mixed_precision.set_dtype_policy(policy)  # for layers that take the global policy when built
    try:
        copy = keras.saving.deserialize_keras_object(config)
    finally:
        keras.mixed_precision.set_dtype_policy(previous)
    copy.set_weights(model.get_weights())
    if precision == "int8":
        with warnings.catch_warnings():  # one per layer without int8 weights (cells, normalization, ...)
            warnings.filterwarnings("ignore", message=".*does not have a `quantize` method")
            copy.quantize("int8")
    return copy


def fastest_exact_precision(model):
    """The precision that gives `model`'s own outputs fastest: "bfloat16" for a `mixed_bfloat16` model
    without recurrent cells, else None (the model as it is).

    Rounding the weights to bfloat16 once gives exactly the logits that `mixed_bfloat16` computes by
    casting them at every use (tested), without those casts: 1.06–1.10× the beam-search throughput of the
    `mixed_bfloat16` model (docs/benchmarks.md). What a `Translator` decodes with by default, and
    `s2s-keras translate`, `evaluate` and `export` when no `--precision` is given.

    Example:
    >>> precision = fastest_exact_precision(model)  # doctest: +SKIP
    >>> fast = inference_copy(model, precision) if precision else model  # doctest: +SKIP
    """
    decoder = next((layer for layer in getattr(model, "layers", ()) if layer.name == DECODER), None)
    if decoder is None or decoder.dtype_policy.name != "mixed_bfloat16":  # e.g. an `Ensemble`: as it is
        return None
    return None if _has_recurrent_cells(model) else "bfloat16"


def _with_policy(config, policy, layer_name=None, float32_output=True):
    """`config` with every serialized dtype policy set to `policy`, but the output projection's kept float32
    (with `float32_output`)."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            name = "float32" if float32_output and layer_name == OUTPUT_PROJECTION else policy
            config = {key: value for key, value in config.items() if key != "shared_object_id"}
            return {**config, "config": {**config["config"], "name": name}}
        layer_name = config.get("name", layer_name) if isinstance(config.get("name"), str) else layer_name
        return {key: _with_policy(value, policy, layer_name, float32_output) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return type(config)(_with_policy(value, policy, layer_name, float32_output) for value in config)
    return config


def _has_recurrent_cells(model):
    """Whether `model` holds a recurrent layer or cell ("gru", "lstm", "rnn")."""
    recurrent = tuple(layer_class for classes in CELL_KINDS.values() for layer_class in classes)
    return any(isinstance(layer, recurrent) for layer in model._flatten_layers())
