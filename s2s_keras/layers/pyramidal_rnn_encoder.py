"""Listen, Attend and Spell's listener: bidirectional recurrent layers that halve the time axis."""

import keras
import tensorflow as tf
from keras import ops

from s2s_keras.checks import check_positive_int, check_rate
from s2s_keras.layers.cells import CELL_KINDS, check_cell_kind


def halve_time(inputs, mask):
    """Joins frames 2t and 2t+1: `(batch, time, f) -> (batch, ceil(time / 2), 2f)`, and the mask with them.

    An odd number of frames is padded with one zero frame; a joined frame is
    valid when its first frame is.
    """
    time = tf.shape(inputs)[1]
    odd = tf.math.floormod(time, 2)
    inputs = tf.pad(inputs, [[0, 0], [0, odd], [0, 0]])
    mask = tf.pad(mask, [[0, 0], [0, odd]])
    features = inputs.shape[-1]
    joined = tf.reshape(inputs, [tf.shape(inputs)[0], -1, 2 * features])  # (batch, time / 2, 2f)
    return joined, tf.reshape(mask, [tf.shape(mask)[0], -1, 2])[:, :, 0]


@keras.saving.register_keras_serializable(package="s2s_keras")
class PyramidalRNNEncoder(keras.layers.Layer):
    """Stacked bidirectional SimpleRNN / LSTM / GRU layers; before each of the last `reductions`, time halves.

    Chan et al. 2016 ("Listen, Attend and Spell"): the first layer reads the
    frames, and each pyramidal layer reads pairs of its predecessor's outputs
    joined, so three reductions leave one encoder step per 8 frames, which the
    attention can cover. Each direction has `units // 2` units.

    Args:
        cell: "rnn", "lstm" or "gru".
        units: output size of every layer (both directions together).
        num_layers: stacked layers.
        reductions: how many of the layers after the first halve the time axis
            (at most `num_layers - 1`).
        dropout: dropout between layers.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, frames, features)`.
        mask: bool `(batch, frames)`, False on padding.
        training: whether dropout is active.

    Returns:
        `((outputs, states), mask)`: outputs `(batch, frames / 2**reductions,
        units)` (zero on padding), states one list per layer of `(batch, units)`
        tensors (`[h]`, or `[h, c]` for LSTM), what `RNNDecoder.prepare_memory`
        takes, and the bool mask of the output steps.

    Example:
    >>> import numpy as np
    >>> encoder = PyramidalRNNEncoder("lstm", units=16, num_layers=3, reductions=2)
    >>> (outputs, states), mask = encoder(np.ones((2, 40, 8), "float32"), mask=np.ones((2, 40), bool))
    >>> outputs.shape, mask.shape
    (TensorShape([2, 10, 16]), TensorShape([2, 10]))
    """

    def __init__(self, cell="lstm", units=256, num_layers=4, reductions=3, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.cell = check_cell_kind(cell)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        if not isinstance(reductions, int) or not 0 <= reductions < num_layers:
            raise ValueError(f"`reductions` must be an integer from 0 to num_layers - 1 = {num_layers - 1}. "
                             f"Received: reductions={reductions!r}")
        if units % 2:
            raise ValueError(f"`units` is split between two directions, so it must be even. Received: units={units}")
        self.reductions = reductions
        self.dropout = check_rate("dropout", dropout)
        layer_class = CELL_KINDS[self.cell][1]
        self.rnn_layers = [
            keras.layers.Bidirectional(
                layer_class(units // 2, return_sequences=True, return_state=True, dtype=self.dtype_policy,
                            name=f"{self.cell}_{i}"),
                merge_mode="concat", dtype=self.dtype_policy, name=f"bidirectional_{i}")
            for i in range(self.num_layers)
        ]
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

    def build(self, inputs_shape):
        shape = tuple(inputs_shape)
        for i, layer in enumerate(self.rnn_layers):
            if self._halves_before(i):
                shape = shape[:-1] + (2 * shape[-1],)
            layer.build(shape)
            shape = shape[:-1] + (self.units,)
        self.built = True

    def _halves_before(self, index):
        return self.num_layers - self.reductions <= index

    def call(self, inputs, mask=None, training=None):
        outputs = inputs  # (batch, frames, features)
        if mask is None:
            mask = ops.ones(ops.shape(inputs)[:2], dtype="bool")
        mask = ops.cast(mask, "bool")
        states = []
        for i, layer in enumerate(self.rnn_layers):
            if i > 0:
                outputs = self.dropout_layer(outputs, training=training)
            if self._halves_before(i):
                outputs, mask = halve_time(outputs, mask)  # (batch, time / 2, 2 units)
            results = layer(outputs, mask=mask, training=training)
            outputs, final = results[0], list(results[1:])  # (batch, time, units)
            half = len(final) // 2  # [fw_h, (fw_c,) bw_h, (bw_c)] -> [h, (c)]
            states.append([ops.concatenate([f, b], axis=-1) for f, b in zip(final[:half], final[half:])])
        return (outputs, states), mask

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "cell": self.cell, "units": self.units, "num_layers": self.num_layers,
                "reductions": self.reductions, "dropout": self.dropout}
