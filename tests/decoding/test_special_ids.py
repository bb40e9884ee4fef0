"""Searches take the start, end and padding ids from the model (a vocabulary made elsewhere), and stop ids."""

import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.data.special_ids import SpecialIds
from s2s_keras.decoding import BeamSearch, GreedySearch, Sampling, decode
from tests.decoding.fake_model import PrefixTableModel

# spm_train's layout: unk 0, bos 1, eos 2, and the padding id after the pieces.
SPM_IDS = SpecialIds(pad=6, unk=0, start=1, end=2)
VOCAB, MAX_LEN = 7, 4
SOURCE = tf.ones((1, 3), tf.int32)


def as_list(ids_row, length):
    return [int(t) for t in ids_row[:length]]


@pytest.mark.parametrize("seed", range(6))
def test_a_wide_beam_finds_the_exhaustive_best_with_other_special_ids(seed):
    fake = PrefixTableModel(VOCAB, MAX_LEN, seed, special_ids=SPM_IDS)
    best_log_prob, best = max(((lp, seq) for seq, lp in fake.all_hypotheses(MAX_LEN)), key=lambda h: h[0])
    result = decode(fake, SOURCE, BeamSearch(beam_size=125, max_length=MAX_LEN))
    length = int(result.lengths[0, 0])
    assert as_list(result.ids[0, 0], length) == best
    np.testing.assert_allclose(float(result.scores[0, 0]), best_log_prob, atol=1e-4)
    assert set(result.ids.numpy()[0, 0, length:]) <= {SPM_IDS.pad}  # padded with the model's padding id
    assert all(row == [SPM_IDS.start] * len(row) for row in fake.start_tokens_seen)


@pytest.mark.parametrize("search", [GreedySearch(max_length=MAX_LEN), BeamSearch(beam_size=3, max_length=MAX_LEN),
                                    Sampling(seed=3, max_length=MAX_LEN)])
def test_no_search_produces_the_padding_or_start_id_and_each_stops_at_the_end_id(search):
    for seed in range(8):
        fake = PrefixTableModel(VOCAB, MAX_LEN, seed, special_ids=SPM_IDS)
        result = decode(fake, tf.ones((4, 3), tf.int32), search)
        ids, lengths = result.ids.numpy(), result.lengths.numpy()
        for row in range(ids.shape[0]):
            for hyp in range(ids.shape[1]):
                produced = ids[row, hyp, : lengths[row, hyp]].tolist()
                assert SPM_IDS.pad not in produced and SPM_IDS.start not in produced
                assert SPM_IDS.end not in produced[:-1]
                assert set(ids[row, hyp, lengths[row, hyp]:].tolist()) <= {SPM_IDS.pad}
        assert fake.start_tokens_seen and all(set(r) == {SPM_IDS.start} for r in fake.start_tokens_seen)


def test_greedy_with_other_ids_follows_the_argmax():
    fake = PrefixTableModel(VOCAB, MAX_LEN, seed=4, special_ids=SPM_IDS)
    result = decode(fake, SOURCE, GreedySearch(max_length=MAX_LEN))
    prefix = []
    for _ in range(MAX_LEN):
        token = int(np.argmax(fake.log_probs(prefix)))
        prefix.append(token)
        if token == SPM_IDS.end:
            break
    assert as_list(result.ids[0, 0], int(result.lengths[0, 0])) == prefix


@pytest.mark.parametrize("make", [lambda stop: GreedySearch(max_length=MAX_LEN, stop_ids=stop),
                                  lambda stop: BeamSearch(beam_size=1, max_length=MAX_LEN, stop_ids=stop)])
def test_a_stop_id_ends_a_hypothesis_as_the_end_id_does(make):
    stopped_somewhere = False
    for seed in range(10):
        fake = PrefixTableModel(VOCAB, MAX_LEN, seed)
        free = decode(fake, SOURCE, make(()))
        free_ids = as_list(free.ids[0, 0], int(free.lengths[0, 0]))
        stop = 4
        result = decode(fake, SOURCE, make((stop,)))
        ids = as_list(result.ids[0, 0], int(result.lengths[0, 0]))
        if stop in free_ids:  # greedy: the same path, cut after the first stop token (kept)
            stopped_somewhere = True
            assert ids == free_ids[: free_ids.index(stop) + 1]
        else:
            assert ids == free_ids
    assert stopped_somewhere


def test_min_length_blocks_stop_ids_too():
    for seed in range(6):
        fake = PrefixTableModel(VOCAB, 6, seed)
        result = decode(fake, SOURCE, GreedySearch(max_length=6, min_length=3, stop_ids=(4, 5)))
        ids = as_list(result.ids[0, 0], int(result.lengths[0, 0]))
        assert not {3, 4, 5} & set(ids[:2]), ids  # at least three tokens, the ending one included


@pytest.mark.parametrize("bad", [(-1,), ("3",), (True,)])
def test_bad_stop_ids_are_rejected(bad):
    with pytest.raises(ValueError, match="stop_ids"):
        GreedySearch(stop_ids=bad)
    with pytest.raises(ValueError, match="stop_ids"):
        BeamSearch(stop_ids=bad)


def test_repr_shows_the_stop_ids():
    assert "stop_ids=(4, 7)" in repr(BeamSearch(stop_ids=[7, 4]))
    assert "stop_ids=(5,)" in repr(Sampling(stop_ids=[5]))
