import numpy as np
import pytest
import tensorflow as tf

import s2s_keras as s2s
from s2s_keras.data import END_ID, PAD_ID, START_ID
from s2s_keras.decoding import GreedySearch, decode

VOCAB = 8


def scripted_step(script):
    """Fake inference functions: row b emits script[b][step] (one-hot logits), no model."""
    script = tf.constant(script, tf.int32)  # (batch, steps)

    def encode(source_ids):
        return {"source": source_ids}

    def initial_state(memory, max_length):
        return {"calls": tf.zeros([tf.shape(memory["source"])[0]], tf.int32)}

    def decode_step(token_ids, state, memory, step):
        step = tf.minimum(step, script.shape[1] - 1)
        logits = 10.0 * tf.one_hot(script[:, step], VOCAB)  # (batch, vocab)
        return logits, {"calls": state["calls"] + 1}

    return encode, initial_state, decode_step


def test_greedy_follows_the_argmax_and_pads_after_end():
    script = [[5, 6, END_ID, 7, 7], [4, 4, 4, 4, END_ID]]
    result = GreedySearch(max_length=6)(*scripted_step(script), tf.ones((2, 3), tf.int32))
    assert result.ids.shape == (2, 1, 6)
    np.testing.assert_array_equal(result.ids[:, 0], [[5, 6, END_ID, 0, 0, 0], [4, 4, 4, 4, END_ID, 0]])
    np.testing.assert_array_equal(result.lengths[:, 0], [3, 5])
    # One-hot logits of 10 and [PAD]/[START] blocked: each chosen token has
    # log-probability log(e^10 / (e^10 + 5)), the other five producible tokens at logit 0.
    token_log_prob = 10.0 - np.log(np.exp(10.0) + VOCAB - 3)
    np.testing.assert_allclose(result.scores[:, 0], [3 * token_log_prob, 5 * token_log_prob], atol=1e-6)


def test_greedy_stops_at_max_length_without_end():
    result = GreedySearch(max_length=3)(*scripted_step([[5, 5, 5, 5]]), tf.ones((1, 2), tf.int32))
    np.testing.assert_array_equal(result.ids[0, 0], [5, 5, 5])
    assert int(result.lengths[0, 0]) == 3


def test_greedy_stops_as_soon_as_every_row_ended():
    calls = []

    encode, initial_state, decode_step = scripted_step([[END_ID, 9 % VOCAB], [5, END_ID]])

    def counting_step(token_ids, state, memory, step):
        calls.append(1)  # traced once per loop in graph mode; eagerly once per step
        return decode_step(token_ids, state, memory, step)

    result = GreedySearch(max_length=10)(encode, initial_state, counting_step, tf.ones((2, 2), tf.int32))
    assert len(calls) == 2  # eager: two steps, not ten
    np.testing.assert_array_equal(result.ids[:, 0, :2], [[END_ID, PAD_ID], [5, END_ID]])


def test_greedy_feeds_back_its_own_tokens():
    seen = []

    def encode(source_ids):
        return source_ids

    def initial_state(memory, max_length):
        return tf.zeros([1])

    def decode_step(token_ids, state, memory, step):
        seen.append(int(token_ids[0]))
        return 10.0 * tf.one_hot([int(token_ids[0]) + 2], VOCAB), state  # never [END]

    GreedySearch(max_length=3)(encode, initial_state, decode_step, tf.ones((1, 1), tf.int32))
    assert seen == [START_ID, START_ID + 2, START_ID + 4]


def test_greedy_in_graph_and_with_xla_equals_eager():
    model = s2s.build_model("gru_attention", source_vocab_size=12, target_vocab_size=12, units=16, embedding_dim=8)
    source = np.array([[5, 6, 7, 3, 0, 0], [4, 11, 10, 9, 8, 3]], "int32")
    search = GreedySearch(max_length=7)
    eager = decode(model, source, search)
    graph = tf.function(lambda s: decode(model, s, search))(source)
    xla = tf.function(lambda s: decode(model, s, search), jit_compile=True)(source)
    for other in (graph, xla):
        np.testing.assert_array_equal(other.ids, eager.ids)
        np.testing.assert_allclose(other.scores, eager.scores, atol=1e-5)


def test_a_batch_decodes_each_row_as_it_would_alone():
    model = s2s.build_model("lstm_luong", source_vocab_size=12, target_vocab_size=12, units=16, embedding_dim=8)
    source = np.array([[5, 6, 3, 0, 0, 0, 0], [4, 11, 10, 9, 8, 7, 3]], "int32")
    search = GreedySearch(max_length=9)
    together = decode(model, source, search)
    for row, length in enumerate([3, 7]):
        alone = decode(model, source[row : row + 1, :length], search)
        np.testing.assert_array_equal(alone.ids[0], together.ids[row])
        np.testing.assert_allclose(alone.scores[0], together.scores[row], atol=1e-5)


def test_bad_max_length_is_rejected():
    with pytest.raises(ValueError, match="max_length"):
        GreedySearch(max_length=0)
