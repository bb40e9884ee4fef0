"""A copy of a trained model for inference in another precision: float32, bfloat16 arithmetic, int8 weights."""

import warnings

import keras

from s2s_keras.models.seq2seq import OUTPUT_PROJECTION

# "float32": float32 weights and arithmetic. "mixed_bfloat16": float32 weights, bfloat16 arithmetic.
# "int8": Keras's int8 weight quantization of every Dense, EinsumDense and Embedding layer (one scale per
# output), float32 for the rest. (bfloat16 weights are not offered: Keras's orthogonal initializer, which
# the recurrent cells use when they are created, has no bfloat16 kernel.)
INFERENCE_PRECISIONS = ("float32", "mixed_bfloat16", "int8")


def inference_copy(model, precision):
    """The same trained model in another precision, for translating and exporting.

    The logits stay float32 in every precision (the output projection
    computes in float32; under "int8" its weights are int8 with float32
    scales), so the searches' scores are summed in float32.

    Args:
        model: a registered model, in any dtype policy.
        precision: one of `INFERENCE_PRECISIONS`.

    Returns:
        A new model with `model`'s weights (quantized under "int8").

    Raises:
        ValueError: for an unknown precision.

    Example:
    >>> model, source_tokenizer, target_tokenizer = load_run("runs/x")  # doctest: +SKIP
    >>> translator = Translator(inference_copy(model, "int8"), source_tokenizer, target_tokenizer)  # doctest: +SKIP
    """
    if precision not in INFERENCE_PRECISIONS:
        raise ValueError(f"`precision` must be one of {INFERENCE_PRECISIONS}. Received: precision={precision!r}")
    policy = "float32" if precision == "int8" else precision
    config = _with_policy(keras.saving.serialize_keras_object(model), policy)
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


def _with_policy(config, policy, layer_name=None):
    """`config` with every serialized dtype policy set to `policy`, but the output projection's kept float32."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            name = "float32" if layer_name == OUTPUT_PROJECTION else policy
            config = {key: value for key, value in config.items() if key != "shared_object_id"}
            return {**config, "config": {**config["config"], "name": name}}
        layer_name = config.get("name", layer_name) if isinstance(config.get("name"), str) else layer_name
        return {key: _with_policy(value, policy, layer_name) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return type(config)(_with_policy(value, policy, layer_name) for value in config)
    return config
