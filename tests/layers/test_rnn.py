import io
import zipfile

import h5py
import keras
import numpy as np
import pytest

import s2s_keras as s2s
from s2s_keras.layers import RNNDecoder, RNNEncoder
from s2s_keras.layers.cells import CELL_KINDS
from tests.helpers import assert_config_round_trip

rng = np.random.default_rng(0)
SOURCE = rng.normal(size=(2, 7, 5)).astype("float32")
TARGET = rng.normal(size=(2, 4, 5)).astype("float32")
MASK = np.array([[1] * 5 + [0] * 2, [1] * 7], bool)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_encoder_shapes_and_states(cell, bidirectional):
    encoder = RNNEncoder(cell, units=8, num_layers=2, bidirectional=bidirectional, residual=True)
    outputs, states = encoder(SOURCE, mask=MASK)
    assert outputs.shape == (2, 7, 8)
    assert len(states) == 2 and all(len(s) == (2 if cell == "lstm" else 1) for s in states)
    assert all(t.shape == (2, 8) for s in states for t in s)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_encoder_padding_invariance(bidirectional):
    encoder = RNNEncoder("gru", units=8, bidirectional=bidirectional)
    outputs, states = encoder(SOURCE[:1], mask=MASK[:1])
    short_outputs, short_states = encoder(SOURCE[:1, :5])
    np.testing.assert_allclose(np.asarray(outputs)[:, :5], np.asarray(short_outputs), atol=1e-6)
    np.testing.assert_allclose(np.asarray(states[0][0]), np.asarray(short_states[0][0]), atol=1e-6)


def test_encoder_bridge_maps_states_to_decoder_size():
    _, states = RNNEncoder("lstm", units=8, bidirectional=True, bridge_units=6)(SOURCE)
    assert [t.shape for t in states[0]] == [(2, 6), (2, 6)]


def test_encoder_config_round_trip():
    encoder = RNNEncoder("lstm", units=8, num_layers=2, bidirectional=True, bridge_units=6)
    assert_config_round_trip(encoder, lambda l: l(SOURCE, mask=MASK))


@pytest.mark.parametrize(
    "attention, input_feeding",
    [(None, None), ("bahdanau", True), ("bahdanau", False), ("luong", False), ("luong", True)],
)
def test_decoder_step_reproduces_the_full_call(attention, input_feeding):
    encoder = RNNEncoder("lstm", units=8, num_layers=2)
    decoder = RNNDecoder("lstm", units=8, num_layers=2, attention=attention, input_feeding=input_feeding)
    encoded = encoder(SOURCE, mask=MASK)
    full, weights = decoder(TARGET, encoded, source_mask=MASK, return_attention=True)
    assert full.shape == (2, 4, 8) and weights.shape == (2, 4, 7)
    memory = decoder.prepare_memory(encoded, MASK)
    state = decoder.initial_state(memory)
    for t in range(TARGET.shape[1]):
        output, state, step_weights = decoder.step(TARGET[:, t], state, memory)
        np.testing.assert_allclose(np.asarray(output), np.asarray(full[:, t]), atol=1e-5)
        if attention is not None:
            np.testing.assert_allclose(np.asarray(step_weights), np.asarray(weights[:, t]), atol=1e-6)
            assert np.all(np.asarray(step_weights)[0, 5:] == 0.0)


@pytest.mark.parametrize("cell", ["rnn", "gru"])
def test_cells_that_recur_alone_run_as_keras_layers_and_step_reproduces_them(cell):
    decoder = RNNDecoder(cell, units=8, num_layers=2, attention="luong", residual=True)
    assert all(isinstance(layer, CELL_KINDS[cell][1]) for layer in decoder.recurrent_layers)
    assert [layer.cell for layer in decoder.recurrent_layers] == decoder.cells  # one set of weights
    encoder = RNNEncoder(cell, units=8, num_layers=2)
    encoded = encoder(SOURCE, mask=MASK)
    full = decoder(TARGET, encoded, source_mask=MASK)
    assert len(decoder.weights) == 2 * len(decoder.cells[0].weights) + 2  # cells, attention key, projection
    memory = decoder.prepare_memory(encoded, MASK)
    state = decoder.initial_state(memory)
    for t in range(TARGET.shape[1]):
        output, state, _ = decoder.step(TARGET[:, t], state, memory)
        np.testing.assert_allclose(np.asarray(output), np.asarray(full[:, t]), atol=1e-5)


def test_decoder_weights_keep_their_saved_paths(tmp_path):
    """.keras files address weights by path: these are the decoder's since its first release."""
    model = s2s.build_model("lstm_luong", source_vocab_size=20, target_vocab_size=20, embedding_dim=4, units=8,
                            num_layers=2)
    model.save(tmp_path / "m.keras")
    with zipfile.ZipFile(tmp_path / "m.keras") as archive:
        weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
        paths = []
        weights.visititems(lambda name, item: paths.append(name) if isinstance(item, h5py.Dataset) else None)
    assert sorted(p for p in paths if p.startswith("layers/rnn_decoder/")) == [
        "layers/rnn_decoder/attention_layer/key_dense/vars/0",
        "layers/rnn_decoder/attention_projection/vars/0",
        *[f"layers/rnn_decoder/cells/{cell}/vars/{i}" for cell in ("lstm_cell", "lstm_cell_1") for i in range(3)],
    ]


def test_decoder_config_round_trip():
    encoder = RNNEncoder("gru", units=8)
    decoder = RNNDecoder("gru", units=8, attention="luong", luong_score="concat", input_feeding=True)
    encoded = encoder(SOURCE, mask=MASK)
    assert_config_round_trip(decoder, lambda l: l(TARGET, encoded, source_mask=MASK))


def test_decoder_rejects_mismatched_states():
    encoded = RNNEncoder("gru", units=6)(SOURCE)
    with pytest.raises(ValueError, match="bridge_units=8"):
        RNNDecoder("gru", units=8)(TARGET, encoded)
    encoded = RNNEncoder("gru", units=8)(SOURCE)
    with pytest.raises(ValueError, match="do not fit a 'lstm' decoder"):
        RNNDecoder("lstm", units=8)(TARGET, encoded)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="cell="):
        RNNEncoder("transformer")
    with pytest.raises(ValueError, match="even"):
        RNNEncoder("gru", units=7, bidirectional=True)
    with pytest.raises(ValueError, match="attention="):
        RNNDecoder("gru", attention="cosine")
    with pytest.raises(ValueError, match="input_feeding"):
        RNNDecoder("gru", attention=None, input_feeding=True)
    with pytest.raises(ValueError, match="dropout"):
        RNNEncoder("gru", dropout=1.5)


def test_symbolic_encoder_and_decoder():
    source = keras.Input((None, 5))
    target = keras.Input((None, 5))
    encoded = RNNEncoder("gru", units=8, bidirectional=True)(source)
    outputs = RNNDecoder("gru", units=8, attention="bahdanau")(target, encoded)
    assert tuple(outputs.shape) == (None, None, 8)
