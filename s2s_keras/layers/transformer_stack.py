"""What the Transformer encoder and decoder stacks share: blocks, input dropout, final norm."""

import keras

from s2s_keras.checks import check_positive_int, check_rate
from s2s_keras.layers.dropout import FastDropout
from s2s_keras.layers.layer_normalization import FusedLayerNormalization


class TransformerStack(keras.layers.Layer):
    """Base of `TransformerEncoder` and `TransformerDecoder`: `num_layers` blocks of `block_class`.

    Dropout is applied to the embedded inputs; with `normalize_first` (pre-norm
    blocks) a final layer normalisation follows the last block.

    Args:
        num_layers: number of blocks.
        num_heads: attention heads per block.
        intermediate_dim: feed-forward hidden size (d_ff).
        dropout: rate on the embedded inputs and every sublayer output.
        attention_dropout: rate on the attention weights.
        activation_dropout: rate on the feed-forward hidden activations.
        activation: feed-forward activation.
        normalize_first: pre-norm blocks (and a final normalisation).
        layer_norm_epsilon: epsilon of the layer normalisations.
        **kwargs: base layer arguments.
    """

    block_class = None  # set by subclasses

    def __init__(
        self,
        num_layers,
        num_heads,
        intermediate_dim,
        dropout=0.0,
        attention_dropout=0.0,
        activation_dropout=0.0,
        activation="relu",
        normalize_first=False,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.num_heads = check_positive_int("num_heads", num_heads)
        self.intermediate_dim = check_positive_int("intermediate_dim", intermediate_dim)
        self.dropout = check_rate("dropout", dropout)
        self.attention_dropout = check_rate("attention_dropout", attention_dropout)
        self.activation_dropout = check_rate("activation_dropout", activation_dropout)
        self.activation = keras.activations.get(activation)
        self.normalize_first = bool(normalize_first)
        self.layer_norm_epsilon = float(layer_norm_epsilon)

        self.dropout_layer = FastDropout(self.dropout, dtype=self.dtype_policy)
        self.blocks = [
            self.block_class(
                num_heads, intermediate_dim, dropout=self.dropout, attention_dropout=self.attention_dropout,
                activation_dropout=self.activation_dropout, activation=self.activation,
                normalize_first=self.normalize_first, layer_norm_epsilon=self.layer_norm_epsilon,
                dtype=self.dtype_policy, name=f"block_{i}",
            )
            for i in range(self.num_layers)
        ]
        self.final_norm = None
        if self.normalize_first:
            self.final_norm = FusedLayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="final_norm"
            )

    def _build_final_norm(self, inputs_shape):
        if self.final_norm is not None:
            self.final_norm.build(inputs_shape)

    def _final(self, x):
        """The last block's output, normalised in pre-norm."""
        return x if self.final_norm is None else self.final_norm(x)

    def get_config(self):
        return {
            **super().get_config(),
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "attention_dropout": self.attention_dropout,
            "activation_dropout": self.activation_dropout,
            "activation": keras.activations.serialize(self.activation),
            "normalize_first": self.normalize_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }
