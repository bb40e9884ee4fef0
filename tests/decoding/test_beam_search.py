import numpy as np
import pytest
import tensorflow as tf

import s2s_keras as s2s
from s2s_keras.data import END_ID
from s2s_keras.decoding import BeamSearch, GreedySearch, decode
from tests.decoding.fake_model import PrefixTableModel

VOCAB, MAX_LEN = 7, 4  # ids 1, 3, 4, 5, 6 can be produced: five tokens
SOURCE = tf.ones((1, 3), tf.int32)


def gnmt_score(log_prob, length, alpha):
    return log_prob / ((5.0 + length) / 6.0) ** alpha


def exhaustive_ranking(fake, alpha):
    hypotheses = [(gnmt_score(lp, len(seq), alpha), seq) for seq, lp in fake.all_hypotheses(MAX_LEN)]
    return sorted(hypotheses, key=lambda h: -h[0])


def as_list(ids_row, length):
    return [int(t) for t in ids_row[:length]]


def assert_rows_decode_alone(model, source, search, together, lengths=(4, 7)):
    """Each row of `source`, cut to its true length and decoded alone, gives its row of `together`."""
    for row, length in enumerate(lengths):
        alone = decode(model, source[row : row + 1, :length], search)
        np.testing.assert_array_equal(alone.ids[0], together.ids[row])
        np.testing.assert_allclose(alone.scores[0], together.scores[row], atol=1e-5)


@pytest.mark.parametrize("seed", range(12))
def test_a_wide_beam_finds_the_exhaustive_best(seed):
    fake = PrefixTableModel(VOCAB, MAX_LEN, seed)
    best_score, best_seq = exhaustive_ranking(fake, alpha=0.0)[0]
    # 125 >= every hypothesis alive before the last step (21 ended + 64 live), so nothing is pruned.
    result = BeamSearch(beam_size=125, max_length=MAX_LEN)(*fake.functions(), SOURCE)
    assert as_list(result.ids[0, 0], int(result.lengths[0, 0])) == best_seq
    np.testing.assert_allclose(float(result.scores[0, 0]), best_score, rtol=1e-4)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
def test_n_best_and_the_length_penalty_follow_the_formula(alpha):
    changed_ranking = False
    for seed in range(6):
        fake = PrefixTableModel(VOCAB, MAX_LEN, seed)
        expected = exhaustive_ranking(fake, alpha)[:5]
        result = BeamSearch(beam_size=125, length_penalty=alpha, n_best=5, max_length=MAX_LEN)(*fake.functions(), SOURCE)
        scores = result.scores.numpy()[0]
        assert np.all(np.diff(scores) <= 0)  # sorted best first
        sequences = [as_list(result.ids[0, k], int(result.lengths[0, k])) for k in range(5)]
        assert len({tuple(s) for s in sequences}) == 5  # distinct
        assert sequences == [seq for _, seq in expected]
        np.testing.assert_allclose(scores, [score for score, _ in expected], rtol=1e-4)
        unpenalised = exhaustive_ranking(fake, 0.0)[0][1]
        changed_ranking |= unpenalised != expected[0][1]
    if alpha == 2.0:
        assert changed_ranking  # a strong penalty prefers longer hypotheses somewhere


@pytest.mark.parametrize("seed", range(5))
def test_beam_of_one_is_greedy_on_a_fake_model(seed):
    fake = PrefixTableModel(VOCAB, MAX_LEN, seed)
    beam = BeamSearch(beam_size=1, max_length=MAX_LEN)(*fake.functions(), SOURCE)
    greedy = GreedySearch(max_length=MAX_LEN)(*fake.functions(), SOURCE)
    np.testing.assert_array_equal(beam.ids, greedy.ids)
    np.testing.assert_allclose(beam.scores, greedy.scores, rtol=1e-6)
    np.testing.assert_array_equal(beam.lengths, greedy.lengths)


def test_min_length_blocks_end():
    fake = PrefixTableModel(VOCAB, 6, seed=0)
    fake.table[:, END_ID] = 50.0  # [END] is by far the likeliest everywhere
    result = BeamSearch(beam_size=3, max_length=6, min_length=3)(*fake.functions(), SOURCE)
    # min_length counts tokens as max_length does, [END] included: [END] comes third.
    assert int(result.lengths[0, 0]) == 3 and int(result.ids[0, 0, 2]) == END_ID
    assert np.all(result.ids.numpy()[0, 0, :2] != END_ID)


def test_stops_when_every_beam_has_ended():
    fake = PrefixTableModel(VOCAB, 12, seed=0)
    fake.table[:, END_ID] = 50.0
    BeamSearch(beam_size=3, max_length=12)(*fake.functions(), SOURCE)
    # Step 1 ends the best beam; the others end one step later (each keeps [END] likeliest).
    assert fake.calls <= 3


class ExhaustiveBeamSearch(BeamSearch):
    """Beam search that never settles a row early: it runs until every beam has ended (or max_length)."""

    def _settled(self, log_probs, lengths, finished, coverage, source_mask):
        return tf.zeros_like(finished[:, :1])


@pytest.mark.parametrize("alpha", [0.0, 0.6, 2.0])
@pytest.mark.parametrize("n_best", [1, 3])
def test_settling_rows_early_is_exact_and_takes_fewer_steps(alpha, n_best):
    saved_steps = 0
    for seed in range(8):
        full_model, settled_model = PrefixTableModel(VOCAB, 10, seed), PrefixTableModel(VOCAB, 10, seed)
        full = ExhaustiveBeamSearch(beam_size=4, n_best=n_best, length_penalty=alpha, max_length=10)(
            *full_model.functions(), SOURCE)
        settled = BeamSearch(beam_size=4, n_best=n_best, length_penalty=alpha, max_length=10)(
            *settled_model.functions(), SOURCE)
        np.testing.assert_array_equal(settled.ids, full.ids)
        np.testing.assert_array_equal(settled.lengths, full.lengths)
        np.testing.assert_allclose(settled.scores, full.scores, rtol=1e-6)
        assert settled_model.calls <= full_model.calls
        saved_steps += full_model.calls - settled_model.calls
    if alpha <= 0.6:  # the bound L / lp(max_length) is loose under a strong penalty: exact, but rarely earlier
        assert saved_steps > 0


@pytest.mark.parametrize("n_best", [1, 3])
def test_early_stopping_without_penalties_is_exact_and_takes_fewer_steps(n_best):
    saved_steps = 0
    for seed in range(8):
        full_model, early_model = PrefixTableModel(VOCAB, 10, seed), PrefixTableModel(VOCAB, 10, seed)
        full = ExhaustiveBeamSearch(beam_size=4, n_best=n_best, max_length=10)(*full_model.functions(), SOURCE)
        early = BeamSearch(beam_size=4, n_best=n_best, max_length=10, early_stopping=True)(
            *early_model.functions(), SOURCE
        )
        np.testing.assert_array_equal(early.ids, full.ids)
        np.testing.assert_array_equal(early.lengths, full.lengths)
        np.testing.assert_allclose(early.scores, full.scores, rtol=1e-6)
        assert early_model.calls <= full_model.calls
        saved_steps += full_model.calls - early_model.calls
    assert saved_steps > 0


def model_and_source(name):
    model = s2s.build_model(name, source_vocab_size=14, target_vocab_size=14, units=16, embedding_dim=8)
    source = np.array([[5, 6, 7, 3, 0, 0, 0], [4, 13, 12, 11, 10, 9, 3]], "int32")
    return model, source


@pytest.mark.parametrize("name", ["gru_attention", "lstm"])
def test_beam_of_one_is_greedy_on_a_model(name):
    model, source = model_and_source(name)
    beam = decode(model, source, BeamSearch(beam_size=1, max_length=8))
    greedy = decode(model, source, GreedySearch(max_length=8))
    np.testing.assert_array_equal(beam.ids, greedy.ids)
    np.testing.assert_allclose(beam.scores, greedy.scores, atol=1e-5)


def test_graph_and_xla_equal_eager():
    model, source = model_and_source("gru_attention")
    search = BeamSearch(beam_size=4, length_penalty=0.6, coverage_penalty=0.2, n_best=2, max_length=8)
    eager = decode(model, source, search)
    graph = tf.function(lambda s: decode(model, s, search))(source)
    xla = tf.function(lambda s: decode(model, s, search), jit_compile=True)(source)
    for other in (graph, xla):
        np.testing.assert_array_equal(other.ids, eager.ids)
        np.testing.assert_allclose(other.scores, eager.scores, atol=1e-4)


def test_a_batch_decodes_each_row_as_it_would_alone():
    model, source = model_and_source("lstm_luong")
    search = BeamSearch(beam_size=3, length_penalty=0.6, n_best=3, max_length=9)
    together = decode(model, source, search)
    assert_rows_decode_alone(model, source, search, together)


def test_early_stopping_decodes_a_row_alone_as_in_a_batch_eager_and_under_xla():
    # A row that is done is frozen while the others go on, so its result does not depend on the batch.
    model, source = model_and_source("lstm_luong")
    search = BeamSearch(beam_size=3, length_penalty=0.6, n_best=2, max_length=9, early_stopping=True)
    together = decode(model, source, search)
    xla = tf.function(lambda s: decode(model, s, search), jit_compile=True)(source)
    np.testing.assert_array_equal(xla.ids, together.ids)
    np.testing.assert_allclose(xla.scores, together.scores, atol=1e-4)
    assert_rows_decode_alone(model, source, search, together)


def test_scores_match_the_models_log_probabilities_and_coverage():
    model, source = model_and_source("gru_attention")
    alpha, beta = 0.6, 0.3
    result = decode(model, source, BeamSearch(beam_size=3, length_penalty=alpha, coverage_penalty=beta, max_length=8))
    for row in range(2):
        length = int(result.lengths[row, 0])
        output = result.ids.numpy()[row, 0, :length]
        target_in = np.concatenate([[2], output[:-1]])[np.newaxis]
        src = source[row : row + 1]
        logits = model({"source": src, "target_in": target_in}).numpy()[0]
        masked = logits.astype("float64")
        masked[:, [0, 2]] = -np.inf
        log_probs = masked - np.log(np.exp(masked).sum(-1, keepdims=True))
        log_prob = sum(log_probs[t, output[t]] for t in range(length))
        attention = model.attention_weights(src, target_in).numpy()[0]  # (tgt_len, src_len)
        real = src[0] != 0
        coverage = beta * np.log(np.minimum(attention.sum(0), 1.0))[real].sum()
        expected = log_prob / ((5.0 + length) / 6.0) ** alpha + coverage
        np.testing.assert_allclose(float(result.scores[row, 0]), expected, rtol=1e-4)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="beam_size"):
        BeamSearch(beam_size=0)
    with pytest.raises(ValueError, match="n_best"):
        BeamSearch(beam_size=2, n_best=3)
    with pytest.raises(ValueError, match="length_penalty"):
        BeamSearch(length_penalty=-1)
    with pytest.raises(ValueError, match="min_length"):
        BeamSearch(max_length=5, min_length=6)


def test_coverage_penalty_on_a_model_without_attention_is_a_clear_error():
    model = s2s.build_model("gru", source_vocab_size=9, target_vocab_size=9, units=8, embedding_dim=4)
    with pytest.raises(ValueError, match="coverage_penalty.*without attention"):
        decode(model, tf.ones((1, 3), tf.int32), BeamSearch(beam_size=2, coverage_penalty=0.2, max_length=4))


def test_transformer_beam_search_in_graph_and_xla_equals_eager_and_beam_one_is_greedy():
    model = s2s.build_model("transformer_tiny", source_vocab_size=14, target_vocab_size=14, max_length=16)
    source = np.array([[5, 6, 7, 3, 0, 0, 0], [4, 13, 12, 11, 10, 9, 3]], "int32")
    beam_one = decode(model, source, BeamSearch(beam_size=1, max_length=8))
    greedy = decode(model, source, GreedySearch(max_length=8))
    np.testing.assert_array_equal(beam_one.ids, greedy.ids)
    search = BeamSearch(beam_size=3, length_penalty=0.6, n_best=2, max_length=8)
    eager = decode(model, source, search)
    xla = tf.function(lambda s: decode(model, s, search), jit_compile=True)(source)
    np.testing.assert_array_equal(xla.ids, eager.ids)
    np.testing.assert_allclose(xla.scores, eager.scores, atol=1e-4)
    assert_rows_decode_alone(model, source, search, eager)
