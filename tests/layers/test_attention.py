import keras
import numpy as np
import pytest

from s2s_keras.layers import BahdanauAttention, LuongAttention
from tests.helpers import assert_config_round_trip

BATCH, SRC, Q, UNITS = 2, 6, 3, 8
rng = np.random.default_rng(0)
QUERY_2D = rng.normal(size=(BATCH, UNITS)).astype("float32")
QUERY_3D = rng.normal(size=(BATCH, Q, UNITS)).astype("float32")
VALUES = rng.normal(size=(BATCH, SRC, UNITS)).astype("float32")
MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1]], bool)

LAYERS = {
    "bahdanau": lambda: BahdanauAttention(units=5),
    "luong_dot": lambda: LuongAttention("dot"),
    "luong_general": lambda: LuongAttention("general"),
    "luong_concat": lambda: LuongAttention("concat", units=5),
}


@pytest.mark.parametrize("kind", sorted(LAYERS))
@pytest.mark.parametrize("query", [QUERY_2D, QUERY_3D], ids=["one_step", "many_steps"])
def test_shapes_weights_and_padding(kind, query):
    layer = LAYERS[kind]()
    context, weights = layer(query, VALUES, values_mask=MASK)
    prefix = query.shape[:-1]
    assert context.shape == prefix + (UNITS,)
    assert weights.shape == prefix + (SRC,)
    weights = np.asarray(weights)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)
    assert np.all(weights[0, ..., 4:] == 0.0)  # exactly zero on padding
    assert np.all(weights[0, ..., :4] > 0.0)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_padding_does_not_change_context(kind):
    layer = LAYERS[kind]()
    short = layer(QUERY_3D[:1], VALUES[:1, :4])[0]
    padded = layer(QUERY_3D[:1], VALUES[:1], values_mask=MASK[:1])[0]
    np.testing.assert_allclose(np.asarray(short), np.asarray(padded), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_precomputed_keys_give_the_same_result(kind):
    layer = LAYERS[kind]()
    expected = layer(QUERY_2D, VALUES, values_mask=MASK)
    keys = layer.prepare_keys(VALUES)
    actual = layer(QUERY_2D, VALUES, values_mask=MASK, keys=keys)
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(np.asarray(e), np.asarray(a), atol=1e-6)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_config_round_trip(kind):
    layer = LAYERS[kind]()
    assert_config_round_trip(layer, lambda l: l(QUERY_3D, VALUES, values_mask=MASK))


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_symbolic_call(kind):
    query = keras.Input((None, UNITS))
    values = keras.Input((None, UNITS))
    context, weights = LAYERS[kind]()(query, values)
    assert tuple(context.shape) == (None, None, UNITS)
    assert tuple(weights.shape) == (None, None, None)


def test_all_padding_row_gives_zero_weights():
    context, weights = BahdanauAttention(4)(QUERY_2D, VALUES, values_mask=np.zeros((BATCH, SRC), bool))
    assert np.all(np.asarray(weights) == 0.0) and np.all(np.asarray(context) == 0.0)


def test_bahdanau_matches_the_formula():
    layer = BahdanauAttention(units=4)
    _, weights = layer(QUERY_2D, VALUES)
    w1 = layer.query_dense.kernel.numpy()
    w2 = layer.key_dense.kernel.numpy()
    v = layer.score_vector.numpy()
    scores = np.tanh((QUERY_2D @ w1)[:, None, :] + VALUES @ w2) @ v  # (batch, src)
    expected = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(weights), expected, atol=1e-5)


def test_luong_dot_matches_the_formula():
    _, weights = LuongAttention("dot")(QUERY_2D, VALUES)
    scores = np.einsum("bd,bsd->bs", QUERY_2D, VALUES)
    expected = np.exp(scores) / np.exp(scores).sum(-1, keepdims=True)
    np.testing.assert_allclose(np.asarray(weights), expected, atol=1e-5)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="score="):
        LuongAttention("cosine")
    with pytest.raises(ValueError, match="units"):
        LuongAttention("concat")
    with pytest.raises(ValueError, match="one size"):
        LuongAttention("dot")(QUERY_2D, VALUES[..., :4])
    with pytest.raises(ValueError, match="units"):
        BahdanauAttention(units=0)
