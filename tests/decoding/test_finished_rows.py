"""Without static shapes, finished sources leave the search loop; every output stays the same."""

import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.decoding import BeamSearch, GreedySearch, Sampling
from tests.decoding.fake_model import PrefixTableModel

VOCAB, MAX_LEN = 7, 8
# Six sources whose first id sets where their prefix codes start: their outputs end at different steps.
SOURCE = tf.constant([[i, 1, 1] for i in range(6)], tf.int32)


class SourceKeyedModel(PrefixTableModel):
    """`PrefixTableModel` whose rows start from different codes, and which records its batch at every step."""

    def __init__(self, seed):
        super().__init__(VOCAB, MAX_LEN, seed)
        self.rows_seen = []

    def initial_state(self, memory, max_length, static_shapes=True):
        return {"code": memory["source_ids"][:, 0] * 997 + self.target_special_ids.start}

    def decode_step(self, token_ids, state, memory, step, return_attention=False):
        if tf.executing_eagerly():
            self.rows_seen.append(int(token_ids.shape[0]))
        tf.debugging.assert_equal(tf.shape(memory["source_ids"])[0], tf.shape(token_ids)[0])  # memory follows
        logits, state = super().decode_step(token_ids, state, memory, step)
        return (logits, state, None) if return_attention else (logits, state)  # no attention, like `gru`


SEARCHES = {
    "greedy": GreedySearch(max_length=MAX_LEN),
    "beam": BeamSearch(beam_size=3, length_penalty=0.6, n_best=2, max_length=MAX_LEN),
    "beam_early_stopping": BeamSearch(beam_size=3, length_penalty=0.6, early_stopping=True, max_length=MAX_LEN),
    "beam_min_length": BeamSearch(beam_size=2, min_length=3, alignment_history=True, max_length=MAX_LEN),
}


def assert_same_result(got, expected):
    for field in ("ids", "lengths", "valid"):
        np.testing.assert_array_equal(getattr(got, field).numpy(), getattr(expected, field).numpy())
    for field in ("scores", "log_probs", "token_log_probs", "alignments"):
        np.testing.assert_allclose(getattr(got, field).numpy(), getattr(expected, field).numpy(), atol=1e-5)


@pytest.mark.parametrize("name", sorted(SEARCHES))
@pytest.mark.parametrize("seed", [0, 1])
def test_dropping_finished_sources_changes_no_output(name, seed):
    search = SEARCHES[name]
    fixed_model = SourceKeyedModel(seed)
    fixed = search(*fixed_model.functions(), SOURCE, static_shapes=True)
    assert len(set(fixed_model.rows_seen)) == 1  # with static shapes every source is decoded to the end
    model = SourceKeyedModel(seed)
    dropped = search(*model.functions(), SOURCE, static_shapes=False)
    assert_same_result(dropped, fixed)
    # Sources left as they finished: the batch only shrank, and it did shrink (their outputs end at different
    # steps: some before the search's last step).
    assert model.rows_seen == sorted(model.rows_seen, reverse=True)
    assert model.rows_seen[-1] < model.rows_seen[0] == fixed_model.rows_seen[0]
    traced = tf.function(lambda source: search(*SourceKeyedModel(seed).functions(), source, static_shapes=False),
                         autograph=False)  # the fake is plain Python: only the search is traced
    assert_same_result(traced(SOURCE), fixed)
    assert_same_result(traced(SOURCE[:1]), search(*SourceKeyedModel(seed).functions(), SOURCE[:1]))


def test_forced_prefixes_follow_their_sources_out_of_the_loop():
    search = BeamSearch(beam_size=2, max_length=MAX_LEN)
    prefixes = tf.constant([[4, 5], [6, 0], [0, 0], [5, 5], [4, 0], [6, 6]], tf.int32)
    fixed = search(*SourceKeyedModel(0).functions(), SOURCE, static_shapes=True, prefix_ids=prefixes)
    dropped = search(*SourceKeyedModel(0).functions(), SOURCE, static_shapes=False, prefix_ids=prefixes)
    assert_same_result(dropped, fixed)
    greedy = GreedySearch(max_length=MAX_LEN)
    assert_same_result(greedy(*SourceKeyedModel(0).functions(), SOURCE, static_shapes=False, prefix_ids=prefixes),
                       greedy(*SourceKeyedModel(0).functions(), SOURCE, static_shapes=True, prefix_ids=prefixes))


def test_sampling_keeps_every_row_its_draws_are_keyed_by_position():
    search = Sampling(seed=3, max_length=MAX_LEN)
    model = SourceKeyedModel(0)
    result = search(*model.functions(), SOURCE, static_shapes=False)
    assert len(set(model.rows_seen)) == 1
    assert_same_result(result, search(*SourceKeyedModel(0).functions(), SOURCE, static_shapes=True))
