"""A batch split into parts searched side by side gives the result of one loop over the whole batch."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import s2s_keras as s2s
from s2s_keras.cpu_threads import decoding_loops
from s2s_keras.decoding import BeamSearch, GreedySearch, Sampling, decode

SOURCE = np.array([[5, 6, 7, 3, 0, 0, 0], [4, 13, 12, 11, 10, 9, 3], [8, 3, 0, 0, 0, 0, 0],
                   [9, 9, 10, 11, 3, 0, 0], [12, 5, 3, 0, 0, 0, 0]], "int32")
PREFIX = np.array([[6, 7], [0, 0], [5, 0], [0, 0], [8, 9]], "int32")


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(3)
    return s2s.build_model("transformer_tiny", source_vocab_size=14, target_vocab_size=14)


def run(model, search, loops, rows, prefix=False):
    extra = {"prefix_ids": PREFIX[:rows]} if prefix else {}
    traced = tf.function(lambda ids: decode(model, ids, search, static_shapes=False, parallel_loops=loops, **extra))
    return traced(SOURCE[:rows])


BEAM = BeamSearch(beam_size=3, length_penalty=0.6, n_best=2, max_length=8, alignment_history=True)


@pytest.mark.parametrize("search,loops,rows,prefix", [
    (BEAM, 2, 5, False),
    (BEAM, 3, 5, True),
    (BEAM, 2, 1, False),  # a part without rows
    (GreedySearch(max_length=8), 3, 5, True),
], ids=["beam", "beam-3-prefix", "beam-1-row", "greedy-3-prefix"])
def test_parts_searched_side_by_side_give_one_loops_result(model, search, loops, rows, prefix):
    whole, split = run(model, search, 1, rows, prefix), run(model, search, loops, rows, prefix)
    for field in ("ids", "lengths", "valid"):
        np.testing.assert_array_equal(getattr(split, field), getattr(whole, field))
    for field in ("scores", "log_probs", "token_log_probs", "alignments"):
        np.testing.assert_allclose(getattr(split, field), getattr(whole, field), atol=1e-5)
    assert split.ids.shape[0] == rows


def test_sampling_keeps_one_loop_and_bad_counts_are_refused(model):
    search = Sampling(seed=5, max_length=8)
    np.testing.assert_array_equal(run(model, search, 2, 5).ids, run(model, search, 1, 5).ids)
    with pytest.raises(ValueError, match="parallel_loops"):
        decode(model, SOURCE, GreedySearch(max_length=4), parallel_loops=0)


def test_one_loop_per_core_on_small_machines_with_one_thread_per_op_only():
    assert [decoding_loops(cores, intra_op_threads=1) for cores in (1, 2, 8)] == [1, 2, 1]
    assert [decoding_loops(cores, intra_op_threads=0) for cores in (1, 2, 8)] == [1, 1, 1]
    assert decoding_loops(2) == (2 if tf.config.threading.get_intra_op_parallelism_threads() == 1 else 1)
