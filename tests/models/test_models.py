"""Every registered model: padding invariance, incremental decoding, fit, save/load."""

import keras
import numpy as np
import pytest

import s2s_keras as s2s
from s2s_keras.models import model_source_kind

SRC_VOCAB, TGT_VOCAB = 13, 11
# Small sizes per model family, without dropout so that every call is deterministic.
RNN_SMALL = dict(embedding_dim=8, units=12, num_layers=2, dropout=0.0)
TRANSFORMER_SMALL = dict(
    d_model=16, num_heads=2, intermediate_dim=24, num_encoder_layers=2, num_decoder_layers=2, dropout=0.0
)
rng = np.random.default_rng(0)
SOURCE = np.array([[5, 6, 7, 8, 9, 3, 0, 0], [4, 12, 11, 10, 9, 8, 7, 3]], "int32")
TARGET_IN = np.array([[2, 5, 6, 7, 0], [2, 8, 9, 10, 4]], "int32")
SOURCE_LENGTHS, TARGET_LENGTHS = [6, 8], [4, 5]


def small_overrides(name):
    """The small test sizes of the family `name` belongs to (the one whose overrides it accepts)."""
    accepted = set(s2s.models.model_defaults(name))
    for sizes in (RNN_SMALL, TRANSFORMER_SMALL):
        if set(sizes) <= accepted:
            return sizes
    raise AssertionError(f"No small test sizes for {name!r}: add its family's to tests/models/test_models.py")


def build(name, **overrides):
    return s2s.build_model(
        name, source_vocab_size=SRC_VOCAB, target_vocab_size=TGT_VOCAB, **{**small_overrides(name), **overrides}
    )


def inputs(source=SOURCE, target_in=TARGET_IN):
    return {"source": source, "target_in": target_in}


@pytest.fixture(params=[name for name in s2s.list_models() if model_source_kind(name) == "tokens"])  # speech: tests/speech
def name(request):
    return request.param


def test_output_shape_and_type(name):
    model = build(name)
    assert isinstance(model, keras.Model) and isinstance(model, s2s.models.Seq2SeqModel)
    assert model.name == name
    assert model(inputs()).shape == (2, 5, TGT_VOCAB)


def test_padding_does_not_change_real_positions(name):
    model = build(name)
    logits = np.asarray(model(inputs()))
    padded = np.asarray(model(inputs(np.pad(SOURCE, ((0, 0), (0, 4))), np.pad(TARGET_IN, ((0, 0), (0, 3))))))
    for row, length in enumerate(TARGET_LENGTHS):
        np.testing.assert_allclose(padded[row, :length], logits[row, :length], atol=1e-5)
    # And each row alone, without the other's padding, gives the same logits.
    for row, (src_len, tgt_len) in enumerate(zip(SOURCE_LENGTHS, TARGET_LENGTHS)):
        alone = np.asarray(model(inputs(SOURCE[row : row + 1, :src_len], TARGET_IN[row : row + 1, :tgt_len])))
        np.testing.assert_allclose(alone[0], logits[row, :tgt_len], atol=1e-5)


def test_decode_step_reproduces_the_full_forward_pass(name):
    model = build(name)
    logits = np.asarray(model(inputs()))
    memory = model.encode(SOURCE)
    state = model.initial_state(memory, max_length=TARGET_IN.shape[1])
    for step in range(TARGET_IN.shape[1]):
        step_logits, state = model.decode_step(TARGET_IN[:, step], state, memory, step)
        assert step_logits.shape == (2, TGT_VOCAB)
        np.testing.assert_allclose(np.asarray(step_logits), logits[:, step], atol=1e-5)


def test_a_few_fit_steps_lower_the_loss(name):
    model = build(name)
    pairs = s2s.data.toy_pairs("copy", 32, 3, 6, TGT_VOCAB, seed=0)
    x, y = s2s.data.pad_pairs(pairs)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss=s2s.losses.masked_loss(), metrics=[s2s.metrics.MaskedAccuracy()])
    before = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    model.fit(x, y, batch_size=16, epochs=4, verbose=0, shuffle=False)
    after = model.evaluate(x, y, verbose=0, return_dict=True)["loss"]
    assert after < before * 0.9


def test_keras_save_and_load_give_identical_outputs(name, tmp_path):
    model = build(name)
    expected = np.asarray(model(inputs()))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    assert type(restored) is s2s.models.Seq2SeqModel
    np.testing.assert_array_equal(np.asarray(restored(inputs())), expected)
    # The inference functions work on the restored model too.
    memory = restored.encode(SOURCE)
    step_logits, _ = restored.decode_step(TARGET_IN[:, 0], restored.initial_state(memory), memory, 0)
    np.testing.assert_allclose(np.asarray(step_logits), expected[:, 0], atol=1e-5)


# XLA compile time grows with depth and the code paths do not depend on it: one layer per stack.
ONE_LAYER = {"gru_attention": {"num_layers": 1}, "lstm_luong": {"num_layers": 1}, "rnn": {"num_layers": 1},
             "transformer_tiny": {"num_encoder_layers": 1, "num_decoder_layers": 1}}


@pytest.mark.parametrize("name", sorted(ONE_LAYER))
def test_fit_with_jit_compile_matches_the_loss_without(name):
    pairs = s2s.data.toy_pairs("reverse", 16, 3, 6, TGT_VOCAB, seed=0)
    x, y = s2s.data.pad_pairs(pairs)
    losses = []
    for jit in (False, True):
        keras.utils.set_random_seed(7)
        model = build(name, **ONE_LAYER[name])  # no dropout: XLA draws other random numbers
        model.compile(optimizer="adam", loss=s2s.losses.masked_loss(label_smoothing=0.1), jit_compile=jit)
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        losses.append(history.history["loss"])
    assert np.all(np.isfinite(losses))
    np.testing.assert_allclose(losses[0][0], losses[1][0], rtol=1e-3)
