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


def check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"`{name}` must be a positive integer. Received: {name}={value!r}")
    return value


def check_rate(name, value):
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")
    return float(value)
