import numpy as np
import pytest
import tensorflow as tf

import s2s_keras as s2s
from s2s_keras.data import END_ID
from s2s_keras.decoding import GreedySearch, Sampling, decode
from s2s_keras.decoding.logits import NEG_INF, keep_top_k, keep_top_p
from tests.decoding.fake_model import PrefixTableModel

SOURCE = np.array([[5, 6, 7, 3, 0, 0], [4, 13, 12, 11, 10, 3]], "int32")


@pytest.fixture(scope="module")
def model():
    return s2s.build_model("gru_attention", source_vocab_size=14, target_vocab_size=14, units=16, embedding_dim=8)


def test_top_k_of_one_is_greedy(model):
    sampled = decode(model, SOURCE, Sampling(top_k=1, seed=3, max_length=8))
    greedy = decode(model, SOURCE, GreedySearch(max_length=8))
    np.testing.assert_array_equal(sampled.ids, greedy.ids)
    np.testing.assert_allclose(sampled.scores, greedy.scores, atol=1e-5)


def test_a_tiny_nucleus_is_greedy(model):
    sampled = decode(model, SOURCE, Sampling(top_p=1e-6, seed=3, max_length=8))
    greedy = decode(model, SOURCE, GreedySearch(max_length=8))
    np.testing.assert_array_equal(sampled.ids, greedy.ids)


def test_seeded_sampling_is_reproducible_in_every_mode(model):
    search = Sampling(temperature=1.5, seed=11, max_length=8)
    eager = decode(model, SOURCE, search)
    np.testing.assert_array_equal(decode(model, SOURCE, search).ids, eager.ids)
    graph = tf.function(lambda s: decode(model, s, search))(SOURCE)
    xla = tf.function(lambda s: decode(model, s, search), jit_compile=True)(SOURCE)
    np.testing.assert_array_equal(graph.ids, eager.ids)
    np.testing.assert_array_equal(xla.ids, eager.ids)
    others = [decode(model, SOURCE, Sampling(temperature=1.5, seed=s, max_length=8)).ids.numpy() for s in range(12, 16)]
    assert any(not np.array_equal(o, eager.ids) for o in others)


def test_unseeded_sampling_differs_between_calls():
    fake = PrefixTableModel(9, 10, seed=0)
    fake.table[:] = 0.0  # uniform over the seven producible tokens
    search = Sampling(max_length=10)
    first, second = (search(*fake.functions(), tf.ones((8, 2), tf.int32)).ids.numpy() for _ in range(2))
    assert not np.array_equal(first, second)


def test_draws_follow_the_filtered_distribution():
    fake = PrefixTableModel(8, 1, seed=0)
    probs = np.array([0, 0.05, 0, 0.05, 0.5, 0.3, 0.1, 0.0], "float64")
    with np.errstate(divide="ignore"):
        fake.table[:] = np.log(probs + 1e-12).astype("float32")
    rows = tf.ones((4000, 2), tf.int32)
    first = Sampling(seed=1, max_length=1)(*fake.functions(), rows).ids.numpy()[:, 0, 0]
    frequencies = np.bincount(first, minlength=8) / len(first)
    np.testing.assert_allclose(frequencies, probs, atol=0.03)
    top2 = Sampling(top_k=2, seed=1, max_length=1)(*fake.functions(), rows).ids.numpy()[:, 0, 0]
    assert set(np.unique(top2)) == {4, 5}
    np.testing.assert_allclose(np.mean(top2 == 4), 0.5 / 0.8, atol=0.03)
    nucleus = Sampling(top_p=0.85, seed=1, max_length=1)(*fake.functions(), rows).ids.numpy()[:, 0, 0]
    assert set(np.unique(nucleus)) == {4, 5, 6}  # 0.5 + 0.3 < 0.85 <= 0.5 + 0.3 + 0.1


def test_filters():
    log_probs = tf.math.log(tf.constant([[0.1, 0.6, 0.3]]))
    np.testing.assert_array_equal(keep_top_k(log_probs, 2).numpy() <= NEG_INF, [[True, False, False]])
    np.testing.assert_array_equal(keep_top_p(log_probs, 0.6).numpy() <= NEG_INF, [[True, False, True]])
    np.testing.assert_array_equal(keep_top_p(log_probs, 0.61).numpy() <= NEG_INF, [[True, False, False]])


def test_sampled_rows_end_with_end_then_padding(model):
    # 64 rows at a high temperature: about 1 token in 14 is END, so many rows end within 12 steps
    result = decode(model, np.repeat(SOURCE, 32, axis=0), Sampling(temperature=3.0, seed=0, max_length=12))
    ids, lengths = result.ids.numpy()[:, 0], result.lengths.numpy()[:, 0]
    ended = 0
    for row, length in zip(ids, lengths):
        ends = np.flatnonzero(row == END_ID)
        if ends.size:
            ended += 1
            assert np.all(row[ends[0] + 1 :] == 0)
            assert length == ends[0] + 1  # the length counts the END
    assert ended >= 8


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="temperature"):
        Sampling(temperature=0)
    with pytest.raises(ValueError, match="top_k"):
        Sampling(top_k=0)
    with pytest.raises(ValueError, match="top_p"):
        Sampling(top_p=1.5)
