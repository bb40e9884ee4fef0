"""Token embedding scaled by √d plus sinusoidal or learned positions."""

import math

import keras
from keras import ops

from s2s_keras.checks import check_positive_int

POSITION_KINDS = ("sinusoidal", "learned")


def sinusoids(positions, dim, base=10000.0):
    """Vaswani et al.'s position encodings for arbitrary (even traced) positions.

    PE(pos, 2i) = sin(pos / base^(2i/dim)), PE(pos, 2i + 1) = cos(pos / base^(2i/dim)).

    Args:
        positions: float32 `(length,)` positions.
        dim: the (even) encoding size.
        base: the longest wavelength, divided by 2π.

    Returns:
        float32 `(length, dim)`.
    """
    inverse_frequencies = ops.exp(
        ops.arange(0, dim, 2, dtype="float32") * (-math.log(base) / dim)
    )  # (dim / 2,) = base^(-2i/dim)
    angles = ops.expand_dims(positions, -1) * inverse_frequencies  # (length, dim / 2)
    interleaved = ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1)  # (length, dim / 2, 2)
    return ops.reshape(interleaved, (-1, dim))


@keras.saving.register_keras_serializable(package="s2s_keras")
class PositionalEmbedding(keras.layers.Layer):
    """Embeds token ids as `E[id] · √d + P[position]` (Vaswani et al. 2017, §3.4, §3.5).

    The positions are the fixed sinusoids of `sinusoids` (default; any length)
    or a learned table of `max_length` rows. `embed_step` embeds one token at
    a given position, so incremental decoding sees exactly what the full call
    computes at that position.

    The token table can be a `keras.layers.Embedding` made outside and shared,
    e.g. between source and target, or with a `TiedOutputProjection`. It is
    then part of the config; a `.keras` save keeps the sharing (Keras's shared
    object scope), while a bare `from_config` makes a copy.

    Args:
        vocab_size: number of token ids.
        embedding_dim: size d of the embeddings.
        positions: "sinusoidal" or "learned".
        max_length: rows of the learned position table (needed for "learned").
        mask_zero: whether the layer's Keras mask is False on padding (id 0).
        token_embedding: optional `keras.layers.Embedding(vocab_size, embedding_dim)`
            to use (and share) instead of creating one.
        embeddings_initializer: initializer of a created token table; the
            default is normal with stddev d^-0.5, so that the scaled embeddings
            have unit variance.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: int `(batch, length)` token ids.

    Returns:
        `(batch, length, embedding_dim)` in the layer's compute dtype.

    Example:
    >>> import numpy as np
    >>> embedding = PositionalEmbedding(vocab_size=100, embedding_dim=16)
    >>> embedding(np.array([[5, 6, 0]])).shape
    TensorShape([1, 3, 16])
    >>> embedding.embed_step(np.array([6]), step=1).shape  # the same as row 1 above
    TensorShape([1, 16])
    """

    def __init__(
        self,
        vocab_size,
        embedding_dim,
        positions="sinusoidal",
        max_length=None,
        mask_zero=True,
        token_embedding=None,
        embeddings_initializer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.embedding_dim = check_positive_int("embedding_dim", embedding_dim)
        if positions not in POSITION_KINDS:
            raise ValueError(f"`positions` must be one of {POSITION_KINDS}. Received: positions={positions!r}")
        if positions == "sinusoidal" and embedding_dim % 2:
            raise ValueError(
                f"Sinusoidal positions need an even `embedding_dim`. Received: embedding_dim={embedding_dim}"
            )
        if positions == "learned" and max_length is None:
            raise ValueError("Learned positions need `max_length`. Received: max_length=None")
        self.positions = positions
        self.max_length = None if max_length is None else check_positive_int("max_length", max_length)
        self.mask_zero = bool(mask_zero)
        self.supports_masking = self.mask_zero
        self.embeddings_initializer = keras.initializers.get(
            embeddings_initializer or keras.initializers.RandomNormal(stddev=embedding_dim**-0.5)
        )

        if isinstance(token_embedding, dict):
            token_embedding = keras.saving.deserialize_keras_object(token_embedding)
        self.shares_token_embedding = token_embedding is not None
        if token_embedding is None:
            token_embedding = keras.layers.Embedding(
                vocab_size, embedding_dim, embeddings_initializer=self.embeddings_initializer,
                dtype=self.dtype_policy, name="token_embedding",
            )
        elif (token_embedding.input_dim, token_embedding.output_dim) != (vocab_size, embedding_dim):
            raise ValueError(
                f"`token_embedding` must be an Embedding({vocab_size}, {embedding_dim}). Received: "
                f"token_embedding=Embedding({token_embedding.input_dim}, {token_embedding.output_dim})"
            )
        self.token_embedding = token_embedding
        self.position_embedding = None
        if positions == "learned":
            self.position_embedding = keras.layers.Embedding(
                self.max_length, embedding_dim, dtype=self.dtype_policy, name="position_embedding"
            )
        self.scale = math.sqrt(embedding_dim)

    def build(self, inputs_shape=None):
        if not self.token_embedding.built:
            self.token_embedding.build(inputs_shape)
        if self.position_embedding is not None:
            self.position_embedding.build((None,))
        self.built = True

    def _positions(self, positions):
        """Position encodings `(length, d)` for int32 positions `(length,)`."""
        if self.position_embedding is not None:
            encodings = self.position_embedding(positions)
        else:
            encodings = sinusoids(ops.cast(positions, "float32"), self.embedding_dim)
        return ops.cast(encodings, self.compute_dtype)

    def _tokens(self, token_ids):
        embedded = self.token_embedding(ops.cast(token_ids, "int32"))
        return ops.cast(embedded, self.compute_dtype) * ops.cast(self.scale, self.compute_dtype)

    def call(self, inputs):
        length = ops.shape(inputs)[1]
        # (batch, length, d) + (1, length, d)
        return self._tokens(inputs) + ops.expand_dims(self._positions(ops.arange(length, dtype="int32")), 0)

    def embed_step(self, token_ids, step):
        """Embeds `token_ids` `(batch,)` at position `step` (an int or scalar int tensor) → `(batch, d)`."""
        position = ops.reshape(ops.cast(step, "int32"), (1,))
        return self._tokens(token_ids) + self._positions(position)  # (batch, d) + (1, d)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return ops.not_equal(inputs, 0)  # as keras.layers.Embedding(mask_zero=True)

    def compute_output_shape(self, inputs_shape):
        return tuple(inputs_shape) + (self.embedding_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "embedding_dim": self.embedding_dim,
            "positions": self.positions,
            "max_length": self.max_length,
            "mask_zero": self.mask_zero,
            # The layer object itself, so that a `.keras` save records the sharing.
            "token_embedding": self.token_embedding if self.shares_token_embedding else None,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
