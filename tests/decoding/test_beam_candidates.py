"""A beam step ranks only each beam's best tokens, found through block maxima: the same search as over beam × vocab."""

import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.data import END_ID
import s2s_keras.decoding.beam_search as beam_search
from s2s_keras.decoding import BeamSearch
from s2s_keras.decoding.logits import NEG_INF, top_k_by_blocks
from tests.decoding.fake_model import PrefixTableModel


@pytest.mark.parametrize("shape,k", [((3, 4, 4000), 4), ((5, 4001), 3), ((2, 333), 8), ((7, 120), 1), ((4, 90), 4)])
@pytest.mark.parametrize("ties", [False, True])
def test_top_k_by_blocks_is_top_k_ties_included(shape, k, ties):
    values = np.random.default_rng(k).normal(size=shape).astype("float32")
    if ties:
        values = np.round(values)  # a handful of distinct values: ties everywhere, kept blocks tie too
    expected = tf.math.top_k(values, k=k)
    eager = top_k_by_blocks(tf.constant(values), k)
    traced = tf.function(lambda v: top_k_by_blocks(v, k),
                         input_signature=[tf.TensorSpec([None] * (len(shape) - 1) + [shape[-1]], tf.float32)])
    for got in (eager, traced(values)):
        np.testing.assert_array_equal(got[0], expected.values)
        np.testing.assert_array_equal(got[1], expected.indices)


def every_candidate(step_log_probs, finished, pad_id):
    """The search before pruning: all beam × vocab candidates, an ended beam continuing only with padding."""
    vocab = step_log_probs.shape[2]
    pad_only = tf.where(tf.equal(tf.range(vocab), pad_id), 0.0, NEG_INF)  # (vocab,)
    log_probs = tf.where(finished[..., tf.newaxis], pad_only, step_log_probs)
    return log_probs, tf.broadcast_to(tf.range(vocab), tf.shape(log_probs))


class SmallTableModel(PrefixTableModel):
    TABLE_ROWS = 2_003

    def initial_state(self, memory, max_length, static_shapes=True):
        return super().initial_state(memory, max_length)


@pytest.mark.parametrize("options,ties", [
    ({"length_penalty": 0.6}, False),
    ({"length_penalty": 0.6}, True),  # a rounded table: equal scores everywhere
    ({"length_penalty": 0.0, "n_best": 3}, True),
    ({"length_penalty": 0.6, "early_stopping": True, "min_length": 3}, False),
    ({"length_penalty": 1.0, "static_shapes": True}, False),
    ({"length_penalty": 0.6, "prefix": True}, True),
])
def test_pruned_candidates_give_the_search_over_beam_times_vocab(options, ties, monkeypatch):
    options = dict(options)
    static_shapes, prefix = options.pop("static_shapes", False), options.pop("prefix", False)
    vocab, max_length = 300, 8  # six blocks of 50: the block path is taken
    search = BeamSearch(beam_size=4, max_length=max_length, **options)
    source = tf.ones((3, 5), tf.int32)
    extra = {"prefix_ids": tf.constant([[7, 9], [11, 0], [0, 0]], tf.int32)} if prefix else {}

    def run(candidates):
        monkeypatch.setattr(beam_search, "beam_candidates", candidates)
        fake = SmallTableModel(vocab, max_length, seed=3)
        if ties:
            fake.table = np.round(fake.table)
        fake.table[::3, END_ID] += 4.0  # some beams end early and stay in the beam
        return tf.function(lambda s: search(*fake.functions(), s, static_shapes=static_shapes, **extra))(source)

    pruned, full = run(beam_search.beam_candidates), run(every_candidate)
    for field in ("ids", "lengths", "valid"):
        np.testing.assert_array_equal(getattr(pruned, field), getattr(full, field))
    for field in ("scores", "log_probs", "token_log_probs"):
        np.testing.assert_array_equal(getattr(pruned, field), getattr(full, field))
    assert np.any(pruned.lengths.numpy() < max_length)  # some hypotheses ended


def test_beam_candidates_are_each_beams_best_in_token_order_and_ended_beams_continue_with_padding():
    step_log_probs = tf.nn.log_softmax(tf.random.stateless_normal((2, 3, 500), seed=(1, 2)) * 3.0)
    finished = tf.constant([[False, True, False], [False, False, True]])
    log_probs, tokens = beam_search.beam_candidates(step_log_probs, finished, pad_id=0)  # (2, 3, 3)
    best = tf.math.top_k(step_log_probs, k=3)
    for source in range(2):
        for beam in range(3):
            got_tokens, got = tokens[source, beam].numpy(), log_probs[source, beam].numpy()
            if finished[source, beam]:  # padding at no cost, then blocked ids, as over the whole vocabulary
                np.testing.assert_array_equal(got_tokens, [0, 1, 2])
                np.testing.assert_array_equal(got, [0.0, NEG_INF, NEG_INF])
                continue
            assert np.all(np.diff(got_tokens) > 0)  # token order: equal scores rank the lower id first
            np.testing.assert_array_equal(got_tokens, np.sort(best.indices[source, beam].numpy()))
            np.testing.assert_array_equal(got, tf.gather(step_log_probs[source, beam], got_tokens).numpy())
    _, far_pad_tokens = beam_search.beam_candidates(step_log_probs, finished, pad_id=7)
    np.testing.assert_array_equal(far_pad_tokens[0, 1], [0, 1, 7])
