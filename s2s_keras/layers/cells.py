"""The recurrent cell kinds shared by the RNN encoder and decoder."""

import keras

CELL_KINDS = {
    "rnn": (keras.layers.SimpleRNNCell, keras.layers.SimpleRNN),
    "lstm": (keras.layers.LSTMCell, keras.layers.LSTM),
    "gru": (keras.layers.GRUCell, keras.layers.GRU),
}


def check_cell_kind(cell):
    """Returns `cell` if it names a known kind, else raises a `ValueError` listing them."""
    if cell not in CELL_KINDS:
        raise ValueError(f"`cell` must be one of {sorted(CELL_KINDS)}. Received: cell={cell!r}")
    return cell


def states_per_layer(cell):
    """How many state tensors one layer of `cell` keeps: LSTM has (h, c), the others h."""
    return 2 if cell == "lstm" else 1

