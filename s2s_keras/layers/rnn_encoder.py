"""A stacked (optionally bidirectional) recurrent encoder."""

import keras
from keras import ops

from s2s_keras.checks import check_positive_int, check_rate
from s2s_keras.layers.cells import CELL_KINDS, check_cell_kind, states_per_layer


@keras.saving.register_keras_serializable(package="s2s_keras")
class RNNEncoder(keras.layers.Layer):
    """Stacked SimpleRNN / LSTM / GRU encoder returning its outputs and final states.

    A bidirectional layer gives each direction `units // 2` units and
    concatenates them, so every layer's output and state have `units` features;
    the forward and backward final states are joined the same way. With
    `bridge_units` set (the decoder's size, when it differs from `units`), a
    dense bridge per layer and state maps the final states to that size.

    Args:
        cell: "rnn", "lstm" or "gru".
        units: output size of every layer.
        num_layers: number of stacked layers.
        bidirectional: whether each layer reads both directions.
        dropout: dropout rate between layers.
        residual: add each layer's input to its output from the second layer on.
        bridge_units: size the final states are projected to, or None to keep `units`.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, src_len, features)` embedded source.
        mask: optional bool `(batch, src_len)`, False on padding.
        training: whether dropout is active.

    Returns:
        `(outputs, states)`: outputs `(batch, src_len, units)` (zero on padding)
        and states, a list with one entry per layer, each a list of tensors
        `(batch, bridge_units or units)`: `[h]`, or `[h, c]` for LSTM.

    Example:
    >>> import numpy as np
    >>> encoder = RNNEncoder("gru", units=16, bidirectional=True)
    >>> outputs, states = encoder(np.ones((2, 7, 8)))
    >>> outputs.shape, states[0][0].shape
    (TensorShape([2, 7, 16]), TensorShape([2, 16]))
    """

    def __init__(
        self,
        cell="gru",
        units=256,
        num_layers=1,
        bidirectional=False,
        dropout=0.0,
        residual=False,
        bridge_units=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cell = check_cell_kind(cell)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.bidirectional = bool(bidirectional)
        self.dropout = check_rate("dropout", dropout)
        self.residual = bool(residual)
        self.bridge_units = None if bridge_units is None else check_positive_int("bridge_units", bridge_units)
        if self.bidirectional and units % 2:
            raise ValueError(
                f"A bidirectional encoder splits `units` between two directions, so it must be even. Received: units={units}"
            )
        self.supports_masking = True

        layer_class = CELL_KINDS[self.cell][1]
        direction_units = units // 2 if self.bidirectional else units
        self.rnn_layers = []
        for i in range(self.num_layers):
            layer = layer_class(
                direction_units, return_sequences=True, return_state=True, dtype=self.dtype_policy,
                name=f"{self.cell}_{i}",
            )
            if self.bidirectional:
                layer = keras.layers.Bidirectional(
                    layer, merge_mode="concat", dtype=self.dtype_policy, name=f"bidirectional_{i}"
                )
            self.rnn_layers.append(layer)
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.bridges = []
        if self.bridge_units is not None and self.bridge_units != self.units:
            self.bridges = [
                [
                    keras.layers.Dense(self.bridge_units, dtype=self.dtype_policy, name=f"bridge_{i}_{j}")
                    for j in range(states_per_layer(self.cell))
                ]
                for i in range(self.num_layers)
            ]

    def build(self, inputs_shape):
        shape = tuple(inputs_shape)
        for i, layer in enumerate(self.rnn_layers):
            layer.build(shape)
            shape = shape[:-1] + (self.units,)
        for layer_bridges in self.bridges:
            for bridge in layer_bridges:
                bridge.build((shape[0], self.units))
        self.built = True

    def call(self, inputs, mask=None, training=None):
        outputs, states = inputs, []
        for i, layer in enumerate(self.rnn_layers):
            layer_inputs = outputs if i == 0 else self.dropout_layer(outputs, training=training)
            results = layer(layer_inputs, mask=mask, training=training)
            outputs, final = results[0], list(results[1:])
            if self.residual and i > 0 and layer_inputs.shape[-1] == self.units:
                outputs = outputs + layer_inputs
            if self.bidirectional:  # [fw_h, (fw_c,) bw_h, (bw_c)] -> [h, (c)]
                half = len(final) // 2
                final = [ops.concatenate([f, b], axis=-1) for f, b in zip(final[:half], final[half:])]
            if self.bridges:
                final = [bridge(s) for bridge, s in zip(self.bridges[i], final)]
            states.append(final)
        return outputs, states

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {
            **super().get_config(),
            "cell": self.cell,
            "units": self.units,
            "num_layers": self.num_layers,
            "bidirectional": self.bidirectional,
            "dropout": self.dropout,
            "residual": self.residual,
            "bridge_units": self.bridge_units,
        }
