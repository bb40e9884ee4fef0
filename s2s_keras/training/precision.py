"""Mixed precision: a scoped global dtype policy, and a float32 copy of a trained model."""

import contextlib

import keras

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
    >>> with global_dtype_policy("mixed_bfloat16"):
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
        A new model with `model`'s weights whose layers compute in float32.

    Example:
    >>> model, source_tokenizer, target_tokenizer = load_run("runs/bf16")
    >>> translator = Translator(float32_copy(model), source_tokenizer, target_tokenizer)
    """
    with global_dtype_policy("float32"):
        config = _float32_config(keras.saving.serialize_keras_object(model))
        copy = keras.saving.deserialize_keras_object(config)
    copy.set_weights(model.get_weights())
    return copy


def _float32_config(config):
    """`config` with every serialized dtype policy replaced by float32 (a nested walk)."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: _float32_config(value) for key, value in config.items()}
    if isinstance(config, (list, tuple)):
        return type(config)(_float32_config(value) for value in config)
    return config
