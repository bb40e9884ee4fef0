"""An output projection that reuses a token embedding table as its kernel."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="s2s_keras")
class TiedOutputProjection(keras.layers.Layer):
    """logits = x Eᵀ + b with E the (shared) token embedding table (Press & Wolf 2017).

    The embedding layer is part of the config, so a `.keras` save keeps the
    tying (the layer is stored once and reused on load); a bare `from_config`
    makes an untied copy.

    Args:
        token_embedding: the `keras.layers.Embedding(vocab_size, d)` whose table
            is the kernel, e.g. `PositionalEmbedding.token_embedding`.
        use_bias: whether to add a bias of `vocab_size`.
        **kwargs: base layer arguments (give `dtype="float32"` for float32
            logits under a mixed-precision policy).

    Call arguments:
        inputs: `(..., d)`.

    Returns:
        `(..., vocab_size)` logits.

    Example:
    >>> import numpy as np
    >>> table = keras.layers.Embedding(100, 16)
    >>> TiedOutputProjection(table)(np.ones((2, 3, 16))).shape
    TensorShape([2, 3, 100])
    """

    def __init__(self, token_embedding, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        if isinstance(token_embedding, dict):
            token_embedding = keras.saving.deserialize_keras_object(token_embedding)
        if not isinstance(token_embedding, keras.layers.Embedding):
            raise ValueError(
                f"`token_embedding` must be a keras.layers.Embedding. Received: token_embedding={token_embedding!r}"
            )
        self.token_embedding = token_embedding
        self.use_bias = bool(use_bias)

    @property
    def vocab_size(self):
        return self.token_embedding.input_dim

    def build(self, inputs_shape):
        if inputs_shape[-1] != self.token_embedding.output_dim:
            raise ValueError(
                f"The inputs must have the embedding size {self.token_embedding.output_dim}. "
                f"Received: inputs_shape={tuple(inputs_shape)}"
            )
        if not self.token_embedding.built:
            self.token_embedding.build(None)
        self.bias = None
        if self.use_bias:
            self.bias = self.add_weight(name="bias", shape=(self.vocab_size,), initializer="zeros")
        self.built = True

    def call(self, inputs):
        kernel = ops.cast(self.token_embedding.embeddings, self.compute_dtype)  # (vocab, d)
        logits = ops.matmul(inputs, ops.transpose(kernel))  # (..., vocab)
        if self.bias is not None:
            logits = logits + ops.cast(self.bias, self.compute_dtype)
        return logits

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape[:-1]) + (self.vocab_size,)

    def get_config(self):
        # The layer object itself, so that a `.keras` save records the sharing.
        return {**super().get_config(), "token_embedding": self.token_embedding, "use_bias": self.use_bias}
