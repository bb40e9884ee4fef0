"""A stacked recurrent decoder with optional Bahdanau or Luong attention.

With input feeding the attention is part of the recurrence, and Keras 3's
`RNN` has no `constants` argument, so the decoder runs its own loop over time
(`scan_time`) of `step`, the very function that incremental decoding
(`decode_step`) calls. Without it (no attention, Luong's default, Bahdanau with
`input_feeding=False`) only the cells recur: each layer is a Keras
`SimpleRNN` / `LSTM` / `GRU` run over the whole target (cuDNN's kernel on a
GPU), whose cell `step` calls one position at a time, and the attention of
every target position is computed afterwards in one batched call, the same
arithmetic as stepping (the tests hold teacher-forced logits to
`decode_step`'s).
"""

import keras
from keras import ops

from s2s_keras.checks import check_positive_int, check_rate
from s2s_keras.layers.attention import BahdanauAttention, LuongAttention
from s2s_keras.layers.loops import scan_time
from s2s_keras.layers.cells import CELL_KINDS, check_cell_kind, states_per_layer

ATTENTION_KINDS = (None, "bahdanau", "luong")


@keras.saving.register_keras_serializable(package="s2s_keras")
class RNNDecoder(keras.layers.Layer):
    """Stacked SimpleRNN / LSTM / GRU decoder, with or without attention.

    One step, for target position t with embedded input y (s = top cell output):

    - no attention: s_t = cells(y, s_{t-1}); output s_t.
    - "bahdanau" (input feeding on, the default): the context c_t is computed
      from s_{t-1} and enters the cells, s_t = cells([y; c_t], s_{t-1}); output
      h̃_t = tanh(W_c [s_t; c_t]).
    - "luong": s_t = cells(y, s_{t-1}) (with input feeding: cells([y; h̃_{t-1}])),
      c_t from s_t, output h̃_t = tanh(W_c [s_t; c_t]).
    - "bahdanau" with `input_feeding=False` attends after the cells, like Luong,
      with the additive score.

    Args:
        cell: "rnn", "lstm" or "gru".
        units: size of every recurrent layer.
        num_layers: number of stacked layers.
        attention: None, "bahdanau" or "luong".
        attention_units: scoring size for Bahdanau (and Luong "concat"); defaults to `units`.
        luong_score: "dot", "general" or "concat".
        input_feeding: see above; defaults to True for Bahdanau, False for Luong.
        dropout: dropout rate on the embedded inputs and on the outputs.
        residual: add each layer's input to its output from the second layer on.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, tgt_len, features)` embedded target (teacher forcing).
        encoder_result: `(encoder_outputs, encoder_states)` as `RNNEncoder` returns.
        source_mask: optional bool `(batch, src_len)`, False on padding.
        training: whether dropout is active.
        return_attention: also return the attention weights.

    Returns:
        outputs `(batch, tgt_len, units)`, and with `return_attention` the weights
        `(batch, tgt_len, src_len)` (zeros without attention).

    Example:
    >>> import numpy as np
    >>> from s2s_keras.layers import RNNEncoder
    >>> encoder = RNNEncoder("gru", units=16)
    >>> decoder = RNNDecoder("gru", units=16, attention="bahdanau")
    >>> source = np.ones((2, 7, 8)); target = np.ones((2, 5, 8))
    >>> decoder(target, encoder(source)).shape
    TensorShape([2, 5, 16])
    """

    def __init__(
        self,
        cell="gru",
        units=256,
        num_layers=1,
        attention=None,
        attention_units=None,
        luong_score="general",
        input_feeding=None,
        dropout=0.0,
        residual=False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if attention not in ATTENTION_KINDS:
            raise ValueError(f"`attention` must be one of {ATTENTION_KINDS}. Received: attention={attention!r}")
        self.cell = check_cell_kind(cell)
        self.units = check_positive_int("units", units)
        self.num_layers = check_positive_int("num_layers", num_layers)
        self.attention = attention
        self.attention_units = units if attention_units is None else check_positive_int("attention_units", attention_units)
        self.luong_score = luong_score
        self.input_feeding = (attention == "bahdanau") if input_feeding is None else bool(input_feeding)
        if attention is None and self.input_feeding:
            raise ValueError("`input_feeding` needs an attention mechanism. Received: attention=None, input_feeding=True")
        self.dropout = check_rate("dropout", dropout)
        self.residual = bool(residual)

        cell_class, layer_class = CELL_KINDS[self.cell]
        self.recurrent_layers = None  # the cells wrapped as Keras RNN layers, when they recur alone
        if self.input_feeding:
            self.cells = [
                cell_class(self.units, dtype=self.dtype_policy, name=f"{self.cell}_cell_{i}")
                for i in range(self.num_layers)
            ]
        else:
            self.recurrent_layers = [
                layer_class(self.units, return_sequences=True, return_state=True, dtype=self.dtype_policy,
                            name=f"{self.cell}_{i}")
                for i in range(self.num_layers)
            ]
            # The same cell objects, for `step`. Saving walks `cells` before `recurrent_layers`, so the
            # weights keep their paths (`cells/lstm_cell`, ...) and earlier .keras files load.
            self.cells = [layer.cell for layer in self.recurrent_layers]
        self.dropout_layer = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.attention_layer = None
        if attention == "bahdanau":
            self.attention_layer = BahdanauAttention(self.attention_units, dtype=self.dtype_policy, name="attention")
        elif attention == "luong":
            self.attention_layer = LuongAttention(
                luong_score, units=self.attention_units if luong_score == "concat" else None,
                dtype=self.dtype_policy, name="attention",
            )
        if attention is not None:
            self.attention_projection = keras.layers.Dense(
                self.units, activation="tanh", use_bias=False, dtype=self.dtype_policy, name="attention_projection"
            )

    @property
    def attends_before_cells(self):
        """Bahdanau with input feeding: the query is the previous state."""
        return self.attention == "bahdanau" and self.input_feeding

    def build(self, inputs_shape, encoder_result_shape=None, source_mask_shape=None):
        batch, features = inputs_shape[0], inputs_shape[-1]
        values_units = self.units if encoder_result_shape is None else encoder_result_shape[0][-1]
        src_len = None if encoder_result_shape is None else encoder_result_shape[0][1]
        extra = values_units if self.attends_before_cells else (self.units if self.input_feeding else 0)
        size = features + extra
        for i, cell in enumerate(self.cells):
            if self.recurrent_layers is not None:
                self.recurrent_layers[i].build((batch, None, size))  # builds its cell
            else:
                cell.build((batch, size))
            size = self.units
        if self.attention_layer is not None:
            self.attention_layer.build((batch, self.units), (batch, src_len, values_units))
            self.attention_projection.build((batch, self.units + values_units))
        self.built = True

    # --- the inference contract: memory, state, one step -------------------------------

    def prepare_memory(self, encoder_result, source_mask=None):
        """What every step reads and beam search never reorders, computed once.

        Returns a dict: `values` `(batch, src_len, units_enc)`, `keys` (the
        attention keys, precomputed), `mask` bool `(batch, src_len)` and
        `encoder_states` (the encoder's final states, read by `initial_state`).
        """
        values, encoder_states = encoder_result
        if source_mask is None:
            source_mask = ops.ones(ops.shape(values)[:2], dtype="bool")
        memory = {"values": values, "mask": ops.cast(source_mask, "bool"), "encoder_states": encoder_states}
        if self.attention_layer is not None:
            memory["keys"] = self.attention_layer.prepare_keys(values)
        return memory

    def initial_state(self, memory, max_length=None, static_shapes=True):
        """The state before the first step: a dict of `(batch, units)` tensors.

        `cells` holds one list per layer (`[h]`, or `[h, c]` for LSTM), started
        from the encoder's final states (layer by layer when the depths match,
        otherwise every layer from the top encoder layer); `feed` (Luong input
        feeding) holds h̃_{t-1}. Every entry is per row: beam search reorders all
        of them. `max_length` and `static_shapes` are unused (RNN states do not grow).
        """
        encoder_states = memory["encoder_states"]
        cells = []
        for i in range(self.num_layers):
            source = encoder_states[i] if len(encoder_states) == self.num_layers else encoder_states[-1]
            if len(source) != states_per_layer(self.cell):
                raise ValueError(
                    f"The encoder's states do not fit a {self.cell!r} decoder: got {len(source)} tensors per layer."
                )
            if source[0].shape[-1] is not None and source[0].shape[-1] != self.units:
                raise ValueError(
                    f"The encoder's final states have {source[0].shape[-1]} features but the decoder has "
                    f"units={self.units}; give the encoder `bridge_units={self.units}`."
                )
            cells.append(list(source))
        state = {"cells": cells}
        if self.input_feeding and not self.attends_before_cells:
            state["feed"] = ops.zeros_like(cells[-1][0])
        return state

    def step(self, inputs, state, memory, step=None, training=None):
        """One decoding step.

        Args:
            inputs: `(batch, features)` the embedded previous token.
            state: as `initial_state` returns.
            memory: as `prepare_memory` returns.
            step: the target position (unused: an RNN's state carries it).
            training: whether dropout is active.

        Returns:
            `(output (batch, units), new_state, weights (batch, src_len) or None)`.
        """
        x = inputs
        context = weights = None
        if self.attends_before_cells:
            query = state["cells"][-1][0]  # s_{t-1}
            context, weights = self._attend(query, memory)
            x = ops.concatenate([x, context], axis=-1)
        elif "feed" in state:
            x = ops.concatenate([x, state["feed"]], axis=-1)

        x, new_cells = self._run_cells(x, state["cells"], training)
        new_state = {"cells": new_cells}

        if self.attention_layer is None:
            return x, new_state, None
        if not self.attends_before_cells:
            context, weights = self._attend(x, memory)
        output = self.attention_projection(ops.concatenate([x, context], axis=-1))  # h̃_t
        if "feed" in state:
            new_state["feed"] = output
        return output, new_state, weights

    def _run_cells(self, x, cell_states, training):
        """The stacked cells on one time step: `(top output (batch, units), new per-layer states)`."""
        new_cells = []
        for i, (cell, cell_state) in enumerate(zip(self.cells, cell_states)):
            output, new_state = cell(x, list(cell_state), training=training)
            if self.residual and i > 0:
                output = output + x
            new_cells.append(list(new_state))
            x = output
        return x, new_cells

    def _attend(self, query, memory):
        return self.attention_layer(query, memory["values"], values_mask=memory["mask"], keys=memory["keys"])

    # --- training: the same step over the whole target -----------------------------------

    def call(self, inputs, encoder_result, source_mask=None, training=None, return_attention=False):
        memory = self.prepare_memory(encoder_result, source_mask)
        state = self.initial_state(memory)
        inputs = self.dropout_layer(inputs, training=training)
        if self.input_feeding:
            outputs, weights = self._step_over_time(inputs, state, memory, training)
        else:
            outputs, weights = self._cells_then_attention(inputs, state, memory, training)
        outputs = self.dropout_layer(outputs, training=training)
        if return_attention:
            if weights is None:
                src_len = ops.shape(memory["values"])[1]
                weights = ops.zeros((ops.shape(outputs)[0], ops.shape(outputs)[1], src_len), dtype=outputs.dtype)
            return outputs, weights
        return outputs

    def _step_over_time(self, inputs, state, memory, training):
        """`step` at every position (input feeding): outputs `(batch, tgt_len, units)`, weights or None."""
        src_len = ops.shape(memory["values"])[1]

        def body(carry, x_t):
            output, carry, weights = self.step(x_t, carry, memory, training=training)  # one code path with decode_step
            if weights is None:
                weights = ops.zeros((ops.shape(x_t)[0], src_len), dtype=output.dtype)
            return carry, (output, weights)

        _, (outputs, weights) = scan_time(body, state, ops.transpose(inputs, (1, 0, 2)))
        return ops.transpose(outputs, (1, 0, 2)), ops.transpose(weights, (1, 0, 2))  # (batch, tgt_len, ...)

    def _cells_then_attention(self, inputs, state, memory, training):
        """The cells over time, then one batched attention: outputs `(batch, tgt_len, units)`, weights or None."""
        x = inputs
        for i, (layer, cell_state) in enumerate(zip(self.recurrent_layers, state["cells"])):
            # mask=None: target padding is masked by the loss, as in `step`, not by carrying states over it.
            output = layer(x, initial_state=list(cell_state), mask=None, training=training)[0]  # (batch, tgt_len, units)
            x = output + x if self.residual and i > 0 else output
        top = x  # (batch, tgt_len, units): s_t for every t
        if self.attention_layer is None:
            return top, None
        context, weights = self._attend(top, memory)  # (batch, tgt_len, units_v), (batch, tgt_len, src_len)
        return self.attention_projection(ops.concatenate([top, context], axis=-1)), weights  # h̃_t

    def compute_output_shape(self, inputs_shape, encoder_result_shape=None, source_mask_shape=None):
        return tuple(inputs_shape[:-1]) + (self.units,)

    def get_config(self):
        return {
            **super().get_config(),
            "cell": self.cell,
            "units": self.units,
            "num_layers": self.num_layers,
            "attention": self.attention,
            "attention_units": self.attention_units,
            "luong_score": self.luong_score,
            "input_feeding": self.input_feeding,
            "dropout": self.dropout,
            "residual": self.residual,
        }
