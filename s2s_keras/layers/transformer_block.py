"""What the Transformer encoder and decoder blocks share: sizes, dropout and residual wiring."""

import keras
from keras import ops

from s2s_keras.checks import check_positive_int, check_rate
from s2s_keras.layers.dropout import FastDropout
from s2s_keras.layers.feed_forward import FeedForward
from s2s_keras.layers.layer_normalization import FusedLayerNormalization
from s2s_keras.layers.multi_head_attention import CachedMultiHeadAttention


class TransformerBlock(keras.layers.Layer):
    """Base of `TransformerEncoderBlock` and `TransformerDecoderBlock`.

    Every sublayer f (attention, feed-forward) is wrapped in a residual
    connection with dropout and layer normalisation, either after the sum
    (post-norm, Vaswani et al. 2017: x ← LN(x + dropout(f(x)))) or before the
    sublayer (pre-norm, `normalize_first=True`: x ← x + dropout(f(LN(x))),
    which trains deep stacks without warm-up; the stack then ends with a final
    LN). Subclasses create their attention sublayers and call
    `_sublayer_input` / `_residual` around each of them.

    Args:
        num_heads: attention heads (the model size must divide by it).
        intermediate_dim: hidden size of the feed-forward network (d_ff).
        dropout: rate on every sublayer's output, before the residual sum.
        attention_dropout: rate on the attention weights.
        activation_dropout: rate on the feed-forward hidden activations.
        activation: the feed-forward activation.
        normalize_first: pre-norm instead of post-norm.
        layer_norm_epsilon: epsilon of the layer normalisations.
        kernel_initializer: initializer of every kernel.
        **kwargs: base layer arguments.
    """

    def __init__(
        self,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        activation="relu",
        normalize_first=False,
        layer_norm_epsilon=1e-6,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.intermediate_dim = check_positive_int("intermediate_dim", intermediate_dim)
        self.dropout = check_rate("dropout", dropout)
        self.attention_dropout = check_rate("attention_dropout", attention_dropout)
        self.activation_dropout = check_rate("activation_dropout", activation_dropout)
        self.activation = keras.activations.get(activation)
        self.normalize_first = bool(normalize_first)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

        self.feed_forward = FeedForward(
            intermediate_dim, activation=self.activation, dropout=self.activation_dropout,
            kernel_initializer=self._initializer(), dtype=self.dtype_policy, name="feed_forward",
        )
        self.feed_forward_norm = self._layer_norm("feed_forward_norm")
        self.dropout_layer = FastDropout(self.dropout, dtype=self.dtype_policy)

    def _initializer(self):
        return self.kernel_initializer.__class__.from_config(self.kernel_initializer.get_config())

    def _layer_norm(self, name):
        return FusedLayerNormalization(epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name)

    def _attention(self, name):
        return CachedMultiHeadAttention(
            self.num_heads, dropout=self.attention_dropout, kernel_initializer=self._initializer(),
            dtype=self.dtype_policy, name=name,
        )

    def _check_model_size(self, inputs_shape):
        d_model = inputs_shape[-1]
        if d_model is None or d_model % self.num_heads:
            raise ValueError(
                f"The model size must be known and divisible by `num_heads`. "
                f"Received: inputs_shape={tuple(inputs_shape)}, num_heads={self.num_heads}"
            )
        return d_model

    def _build_feed_forward(self, inputs_shape):
        self.feed_forward.build(inputs_shape)
        self.feed_forward_norm.build(inputs_shape)

    @staticmethod
    def _without_keras_mask(inputs):
        """A copy of `inputs` without Keras's mask attribute: the blocks take masks as arguments.

        Otherwise every sublayer called on `inputs` would warn that it drops the mask.
        """
        return ops.copy(inputs)

    def compute_mask(self, inputs, mask=None):
        return None

    def _sublayer_input(self, x, norm):
        """What a sublayer reads: LN(x) in pre-norm, x in post-norm."""
        return norm(x) if self.normalize_first else x

    def _residual(self, x, sublayer_output, norm, training):
        """The residual sum around a sublayer, normalised after it in post-norm."""
        y = x + self.dropout_layer(sublayer_output, training=training)
        return y if self.normalize_first else norm(y)

    def _feed_forward_sublayer(self, x, training):
        h = self._sublayer_input(x, self.feed_forward_norm)
        return self._residual(x, self.feed_forward(h, training=training), self.feed_forward_norm, training)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "activation_dropout": self.activation_dropout,
            "activation": keras.activations.serialize(self.activation),
            "normalize_first": self.normalize_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }
