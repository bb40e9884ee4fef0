"""Two peers' fixed-logit decoder tests, re-expressed for our search contract.

The cases come from:

* KerasHub's sampler tests (keras-team/keras-hub,
  `keras_hub/src/samplers/{greedy,top_k,top_p,beam}_sampler_test.py`): a fake
  `next` function over the lowercase alphabet puts (nearly) all mass on one
  character per step ("sequentially"), or a fixed distribution on every step.
* TensorFlow Addons' `tensorflow_addons/seq2seq/tests/beam_search_decoder_test.py`
  (tensorflow/addons): one beam step from fixed logits (plain, with an already
  ended hypothesis, a beam wider than the vocabulary) and `gather_tree`.

Nothing is copied: each case is rebuilt for our API. A search sees only
`encode`, `initial_state` and `decode_step`, so the fake model below reads its
logits from a fixed table. Differences of convention, and how they are mapped:

* KerasHub fills a prompt and overwrites it; we have no prompt buffer, so the
  prompt becomes a forced prefix (`prefix_ids`, scored as the model scores it)
  and the positions after a stop token hold the padding id, not the prompt.
* Our target vocabulary must hold padding and start ids that are never
  produced: the alphabet keeps ids 0-25 and the special ids follow it.
* tfa starts its step from a hand-made beam state (3 live beams at length 2).
  We cannot inject a state, so step 0 builds that beam (three equally likely
  first tokens, log-probability -log 3 each) and step 1 is tfa's step. Our
  lengths are therefore one less than tfa's, and a parent beam is identified
  by the first token of the hypothesis.
* tfa keeps a finished-beam mask and makes a finished beam emit `[END]` again;
  we keep the ended hypothesis in the beam with a frozen score and pad after it.
* tfa gives an `[END]` candidate lp(|Y| - 1) (it does not count `[END]`); we
  count it: lp(Y) = ((5 + |Y|) / 6)^α with `[END]` in |Y|. So every candidate
  of a step has the same length, and `BeamSearch(beam_size=1)` stays greedy
  whatever α (see `test_end_counts_in_the_length_unlike_tfa`).
* tfa marks the beams it cannot fill with -inf and length 0; ours score about
  -1e9 and are flagged by `valid=False`.
* tfa's `gather_tree` back-traces parent pointers after the loop; our beam
  reorders whole id rows at every step, so the returned `ids` are already the
  back-traced trajectories.
"""

import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.data.special_ids import SpecialIds
from s2s_keras.decoding import BeamSearch, GreedySearch, Sampling

NEVER = -1e9  # a logit no candidate survives with


class TableModel:
    """A fake model whose logits are looked up, never computed.

    `table[r, t, p]` is the logit row at step `t` (the last step's rows serve
    every later step) after previous token `p`, for sources whose first id is
    `r`. At step 0 the previous token is the start id. The state carries the
    token just fed, so a beam reorders something.
    """

    def __init__(self, table, special_ids):
        self.table = tf.constant(np.asarray(table, np.float32))  # (rows, steps, vocab, vocab)
        self.steps = int(self.table.shape[1])
        self.target_special_ids = special_ids

    def encode(self, source_ids):
        return {"row": source_ids[:, 0]}

    def initial_state(self, memory, max_length, static_shapes=True):
        return {"fed": tf.fill(tf.shape(memory["row"]), self.target_special_ids.start)}

    def decode_step(self, token_ids, state, memory, step):
        at = tf.fill(tf.shape(token_ids), tf.minimum(step, self.steps - 1))
        logits = tf.gather_nd(self.table, tf.stack([memory["row"], at, token_ids], axis=1))
        return logits, {"fed": token_ids}

    def __call__(self, search, sources=1, **kwargs):
        """Runs `search` on `sources` rows (row r of the batch reads table row r)."""
        source_ids = tf.range(sources, dtype=tf.int32)[:, tf.newaxis] % int(self.table.shape[0])
        return search(self.encode, self.initial_state, self.decode_step, source_ids,
                      target_special_ids=self.target_special_ids, **kwargs)


def log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    return logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())


# --- KerasHub: a character vocabulary -------------------------------------------------------------

LETTERS = "abcdefghijklmnopqrstuvwxyz"
CHARS = SpecialIds(pad=26, unk=27, start=28, end=29)
CHAR_VOCAB = 30
PEAK = 30.0  # KerasHub uses one_hot * 1e9; 30 is as decisive while keeping every log-probability finite


def ids(text):
    return [LETTERS.index(c) for c in text]


def spell(row):
    """Ids as text: letters, `$` for [END], `_` for padding (KerasHub compares strings the same way)."""
    names = {CHARS.end: "$", CHARS.pad: "_", CHARS.unk: "?"}
    return "".join(names.get(int(i), LETTERS[int(i)] if int(i) < 26 else "#") for i in row)


def char_model(per_step):
    """Logits by step only (the previous token is ignored): `per_step` is (steps, vocab)."""
    per_step = np.asarray(per_step, np.float32)
    return TableModel(np.broadcast_to(per_step[:, None, :], (len(per_step), CHAR_VOCAB, CHAR_VOCAB))[None], CHARS)


def scripted(text):
    """KerasHub's cache-driven `next`: step t puts (nearly) all mass on text[t]."""
    per_step = np.zeros((len(text), CHAR_VOCAB), np.float32)
    per_step[np.arange(len(text)), ids(text)] = PEAK
    return char_model(per_step)


def every_step(logits):
    return char_model(np.asarray(logits, np.float32)[None])


def decreasing():
    """KerasHub's `arange(vocab, 0, -1)`: each id less likely than the one before ([END], id 29, least)."""
    return every_step(np.arange(CHAR_VOCAB, 0, -1))


SEARCHES = {
    "greedy": lambda **kw: GreedySearch(**kw),
    "top_k": lambda **kw: Sampling(top_k=5, seed=3, **kw),
    "top_p": lambda **kw: Sampling(top_p=0.1, seed=3, **kw),
    "beam": lambda **kw: BeamSearch(beam_size=5, **kw),
}


@pytest.mark.parametrize("name", SEARCHES)
def test_every_search_follows_a_scripted_model(name):
    """KerasHub `test_stateful_call` (all four samplers): the script comes out as is."""
    result = scripted("sequentially")(SEARCHES[name](max_length=12))
    assert spell(result.ids[0, 0]) == "sequentially"
    assert int(result.lengths[0, 0]) == 12
    assert float(result.log_probs[0, 0]) > -1e-6  # every token had probability ~1


@pytest.mark.parametrize("name", SEARCHES)
def test_a_forced_prompt_then_the_favoured_char(name):
    """KerasHub `test_stateless_call`: prompt "zzzzz" (index=5), then every step favours "a".

    Our prompt is a forced prefix and, unlike KerasHub's prompt, it is scored
    as the model scores it: five improbable "z"s, then seven likely "a"s.
    """
    favour_a = np.zeros(CHAR_VOCAB, np.float32)
    favour_a[ids("a")] = PEAK
    result = every_step(favour_a)(SEARCHES[name](max_length=12), prefix_ids=[ids("zzzzz")])
    assert spell(result.ids[0, 0]) == "zzzzzaaaaaaa"
    blocked = favour_a.copy()
    blocked[[CHARS.pad, CHARS.start]] = NEVER
    expected = 5 * log_softmax(blocked)[ids("z")[0]] + 7 * log_softmax(blocked)[ids("a")[0]]
    np.testing.assert_allclose(float(result.log_probs[0, 0]), expected, rtol=1e-5)


@pytest.mark.parametrize("stops, expected", [("t", "sequent_____"), ("tn", "sequen______")])
@pytest.mark.parametrize("name", SEARCHES)
def test_a_stop_token_ends_the_sequence(name, stops, expected):
    """KerasHub `test_early_stopping` / `test_multitoken_early_stopping`.

    The stop token is kept, as KerasHub keeps it; the rest is padding (KerasHub
    leaves the prompt's "z"s there: "sequentzzzzz").
    """
    result = scripted("sequentially")(SEARCHES[name](max_length=12, stop_ids=tuple(ids(stops))))
    assert spell(result.ids[0, 0]) == expected
    assert int(result.lengths[0, 0]) == expected.index("_")


@pytest.mark.parametrize("search", [GreedySearch(max_length=12), Sampling(top_p=0.5, temperature=1e-9, seed=0,
                                                                          max_length=12)],
                         ids=["greedy", "top_p_near_zero_temperature"])
def test_the_most_likely_char_every_step(search):
    """KerasHub greedy `test_is_greedy` and top-p `test_temperature`: only "a" (id 0) comes out."""
    result = decreasing()(search, sources=3)
    assert {spell(row) for row in result.ids[:, 0]} == {"a" * 12}


def test_top_k_draws_only_among_the_k_best():
    """KerasHub top-k `test_outputs_in_top_k` (k=5)."""
    result = decreasing()(Sampling(top_k=5, seed=7, max_length=12), sources=64)  # 768 draws
    drawn = set(result.ids.numpy().ravel().tolist())
    assert drawn <= set(range(5))
    assert len(drawn) > 1  # it does sample (plain argmax would give only "a")


def test_top_p_draws_only_inside_the_nucleus():
    """KerasHub top-p `test_outputs_in_top_p` and `test_only_sample_from_top_k_tokens`.

    Three chars share the top logit (about 8% each of the 28 producible ids):
    p = 2/26 keeps them (ties at the threshold are kept together). With p = 1
    and k = 5 after a forced "zzzzz", only "a"-"e" follow.
    """
    logits = np.zeros(CHAR_VOCAB, np.float32)
    logits[:3] = 1.0
    nucleus = every_step(logits)(Sampling(top_p=2.0 / 26, seed=5, max_length=12), sources=4)
    assert set(nucleus.ids.numpy().ravel().tolist()) <= set(ids("abc"))

    both = decreasing()(Sampling(top_p=1.0, top_k=5, seed=5, max_length=12), sources=64,
                        prefix_ids=[ids("zzzzz")] * 64)
    for row in both.ids[:, 0]:
        assert spell(row)[:5] == "zzzzz" and set(spell(row)[5:]) <= set("abcde")


def test_top_k_of_one_and_a_tiny_nucleus_are_greedy():
    """The samplers' filters at their extremes reduce to greedy (KerasHub's greedy-equivalence checks).

    Logits depend on the previous char through a random (seeded) bigram table.
    """
    bigrams = np.random.default_rng(0).normal(scale=2.0, size=(1, 1, CHAR_VOCAB, CHAR_VOCAB))
    model = TableModel(bigrams, CHARS)
    greedy = model(GreedySearch(max_length=10), sources=3)
    for search in (Sampling(top_k=1, seed=1, max_length=10), Sampling(top_p=1e-6, seed=1, max_length=10)):
        np.testing.assert_array_equal(model(search, sources=3).ids, greedy.ids)
    # Unfiltered sampling does leave the greedy path, so the equality above means something.
    assert not np.array_equal(model(Sampling(seed=1, max_length=10), sources=3).ids, greedy.ids)


def test_all_beams_come_back_sorted_best_first():
    """KerasHub beam `test_return_all_beams`: five beams, best first, the script first."""
    result = scripted("sequentially")(BeamSearch(beam_size=5, n_best=5, max_length=12))
    assert result.ids.shape == (1, 5, 12) and result.scores.shape == (1, 5)
    scores = result.scores.numpy()[0]
    assert np.all(np.diff(scores) <= 0)
    assert spell(result.ids[0, 0]) == "sequentially"
    assert len({spell(row) for row in result.ids[0]}) == 5  # distinct hypotheses
    assert bool(tf.reduce_all(result.valid))
    assert np.all(scores[1:] < scores[0] - PEAK + 1)  # every runner-up leaves the script once at least


def test_beam_search_finds_what_greedy_misses():
    """The classic beam case: "a" is likelier than "b" first, but "b" leads to a sure "c"."""
    bigrams = np.full((CHAR_VOCAB, CHAR_VOCAB), NEVER, np.float32)
    bigrams[CHARS.start, ids("ab")] = [1.0, 0.8]  # P(a) = 0.55, P(b) = 0.45
    bigrams[ids("a")[0], :26] = 0.0  # after "a": almost flat, "d" slightly ahead (P = 0.06)
    bigrams[ids("a")[0], ids("d")] = 0.5
    bigrams[ids("b")[0], :26] = 0.0  # after "b": "c" nearly sure
    bigrams[ids("b")[0], ids("c")] = PEAK
    bigrams[ids("cd"), CHARS.end] = PEAK  # then [END]
    model = TableModel(bigrams[None, None], CHARS)
    greedy = model(GreedySearch(max_length=4))
    beam = model(BeamSearch(beam_size=2, n_best=2, max_length=4))
    assert spell(greedy.ids[0, 0]) == "ad$_"
    assert [spell(row) for row in beam.ids[0]] == ["bc$_", "ad$_"]
    np.testing.assert_allclose(float(beam.log_probs[0, 0]), np.log(0.45), atol=1e-3)
    assert float(beam.log_probs[0, 0]) > float(greedy.log_probs[0, 0]) + 2.0


# --- TensorFlow Addons: one beam step from fixed logits --------------------------------------------

# tfa's vocabulary is 5 ids with [END] = 0; ours adds padding (5) and start (6), which are never produced.
TFA = SpecialIds(pad=5, unk=1, start=6, end=0)
TFA_VOCAB = 7
ALPHA = 0.6  # tfa's length_penalty_weight in these tests


def tfa_logits(variant):
    """tfa's logits (batch 2, beam 3, vocab 5): 1e-4 everywhere but a few entries."""
    logits = np.full((2, 3, 5), 1e-4)
    peaks = {(0, 0, 2): 1.9, (0, 0, 3): 2.1, (0, 1, 3): 3.1, (0, 1, 4): 0.9,
             (1, 0, 1): 0.5, (1, 1, 2): 2.7, (1, 2, 2): 10.0, (1, 2, 3): 0.2}
    if variant == "with_eos":
        peaks.update({(1, 1, 2): 5.7, (1, 2, 2): 1.0})
    for index, value in peaks.items():
        logits[index] = value
    return logits


def tfa_model(first_tokens, logits):
    """Step 0 puts mass 1/3 on each row's three `first_tokens` (tfa's initial beams); step 1 gives the
    hypothesis that began with `first_tokens[r][j]` tfa's logits of beam j."""
    table = np.zeros((2, 1, TFA_VOCAB, TFA_VOCAB), np.float32)
    for row, firsts in enumerate(first_tokens):
        table[row, 0, TFA.start] = NEVER
        table[row, 0, TFA.start, firsts] = 0.0
        for beam, token in enumerate(firsts):
            table[row, 0, token, :5] = logits[row, beam]
    return TableModel(table, TFA)


def gnmt_lp(length):
    return ((5.0 + length) / 6.0) ** ALPHA


def assert_tfa_step(result, first_tokens, logits, parents, predicted, finished_parents=()):
    """Our hypotheses are tfa's (parent, predicted id) pairs, in tfa's order, with tfa's log-probs."""
    for row in range(2):
        expected_ids, expected_log_probs, expected_lengths = [], [], []
        for parent, token in zip(parents[row], predicted[row]):
            first = first_tokens[row][parent]
            if (row, parent) in finished_parents:  # tfa emits [END] again; we pad and freeze the score
                expected_ids.append([first, TFA.pad])
                expected_log_probs.append(-np.log(3.0))
                expected_lengths.append(1)
            else:
                expected_ids.append([first, token])
                expected_log_probs.append(-np.log(3.0) + log_softmax(logits[row, parent])[token])
                expected_lengths.append(2)  # tfa: 3 (its beams start at length 2)
        np.testing.assert_array_equal(result.ids[row], expected_ids)
        np.testing.assert_allclose(result.log_probs[row], expected_log_probs, rtol=1e-5)
        np.testing.assert_array_equal(result.lengths[row], expected_lengths)
        # Our ranking score: [END] counts in |Y|.
        expected_scores = np.array(expected_log_probs) / gnmt_lp(np.array(expected_lengths))
        np.testing.assert_allclose(result.scores[row], expected_scores, rtol=1e-5)


def test_tfa_beam_step():
    """tfa `test_beam_step`: three live beams at -log 3 each, one step with tfa's logits."""
    first_tokens = [[2, 3, 4], [2, 3, 4]]
    logits = tfa_logits("plain")
    search = BeamSearch(beam_size=3, n_best=3, length_penalty=ALPHA, max_length=2)
    result = tfa_model(first_tokens, logits)(search, sources=2)
    assert_tfa_step(result, first_tokens, logits, parents=[[1, 0, 0], [2, 1, 0]], predicted=[[3, 3, 2], [2, 2, 1]])


def test_tfa_step_with_an_ended_hypothesis():
    """tfa `test_step_with_eos`: beam 1 of row 0 and beam 2 of row 1 have already produced [END].

    The ended hypothesis keeps competing with its frozen score and stays in the
    beam in both; it continues with padding at no cost (tfa: [END] again at
    log-probability 0, tfa's `_mask_probs`). Its logits row is ignored.
    """
    first_tokens = [[2, TFA.end, 3], [2, 3, TFA.end]]
    logits = tfa_logits("with_eos")
    search = BeamSearch(beam_size=3, n_best=3, length_penalty=ALPHA, max_length=2)
    result = tfa_model(first_tokens, logits)(search, sources=2)
    assert_tfa_step(result, first_tokens, logits, parents=[[1, 0, 0], [1, 2, 0]], predicted=[[0, 3, 2], [2, 0, 1]],
                    finished_parents={(0, 1), (1, 2)})
    np.testing.assert_allclose(result.token_log_probs[0, 0], [-np.log(3.0), 0.0], rtol=1e-6)


def test_tfa_large_beam_step():
    """tfa `test_large_beam_step`: 8 beams, one live, 5 ids: only 5 hypotheses exist.

    tfa's initial state (beam 0 live, the others masked) is our step 0. The
    three beams left over are fillers: tfa gives them -inf and length 0; ours
    score about -1e9 and are not valid.
    """
    logits = tfa_logits("plain")
    table = np.zeros((2, 1, TFA_VOCAB, TFA_VOCAB), np.float32)
    table[:, 0, TFA.start, :5] = logits[:, 0]  # tfa's live beam 0
    search = BeamSearch(beam_size=8, n_best=8, length_penalty=ALPHA, max_length=1)
    result = TableModel(table, TFA)(search, sources=2)
    first = result.ids.numpy()[:, :, 0]
    assert first[0, :2].tolist() == [3, 2] and first[1, 0] == 1  # tfa's three checks
    assert [sorted(first[row, :5].tolist()) for row in range(2)] == [[0, 1, 2, 3, 4]] * 2  # each id once
    assert result.valid.numpy()[:, :5].all() and not result.valid.numpy()[:, 5:].any()
    assert np.all(result.scores.numpy()[:, 5:] < -1e8)
    np.testing.assert_array_equal(result.lengths.numpy()[:, :5], 1)


def test_tfa_gather_tree_trajectories():
    """tfa `test_gather_tree` (time 3, batch 2, beam 3): our final ids are its back-traced paths.

    The bigram probabilities below make each step's top three exactly tfa's
    (predicted id, parent) pairs: row 0 [1,2,3]/[0,0,0], [4,5,6]/[0,1,1],
    [7,8,9]/[2,1,2]; row 1 [2,3,4]/[0,0,0], [5,6,7]/[1,2,0], [8,9,10]/[2,1,1].
    tfa's end id is 11; it is never produced.
    """
    special = SpecialIds(pad=12, unk=0, start=13, end=11)
    spread = lambda mass, tokens: {t: mass / len(tokens) for t in tokens}  # noqa: E731
    rows = [
        {special.start: {1: 0.40, 2: 0.35, 3: 0.25}, 1: {4: 1.0}, 2: {5: 0.55, 6: 0.45},
         3: spread(1.0, [7, 8, 9, 10]), 4: spread(1.0, range(1, 11)),
         5: {8: 0.4, **spread(0.6, [0, 1, 2, 3, 4, 5, 6, 7, 9, 10])}, 6: {7: 0.6, 9: 0.4}},
        {special.start: {2: 0.40, 3: 0.35, 4: 0.25}, 2: {7: 0.5, **spread(0.5, [1, 3, 4, 5, 6])}, 3: {5: 1.0},
         4: {6: 1.0}, 5: spread(1.0, range(1, 11)), 6: {9: 0.5, 10: 0.4, 1: 0.1}, 7: {8: 1.0}},
    ]
    table = np.full((2, 1, 14, 14), NEVER, np.float32)
    for r, bigrams in enumerate(rows):
        for previous, probs in bigrams.items():
            table[r, 0, previous, list(probs)] = np.log(list(probs.values()))
    result = TableModel(table, special)(BeamSearch(beam_size=3, n_best=3, max_length=3), sources=2)
    # tfa's expected_result, one trajectory per beam.
    np.testing.assert_array_equal(result.ids, [[[2, 6, 7], [2, 5, 8], [2, 6, 9]],
                                               [[2, 7, 8], [4, 6, 9], [4, 6, 10]]])


def test_end_counts_in_the_length_unlike_tfa():
    """Where tfa's convention gives another answer: [END] in |Y|.

    After "2" (probability 1), [END] (P = 0.512) narrowly beats "3" (P = 0.488).
    We rank both candidates at |Y| = 2, so the likelier [END] wins and a beam of
    one stays greedy. tfa ranks the [END] candidate at lp(1) = 1 and "2 3" at
    lp(2) ≈ 1.097; dividing the larger negative log-probability by the larger
    lp, it would keep "2 3" instead. We assert our documented behaviour.
    """
    table = np.full((1, 1, TFA_VOCAB, TFA_VOCAB), NEVER, np.float32)
    table[0, 0, TFA.start, 2] = 0.0
    table[0, 0, 2, [TFA.end, 3]] = [0.0, -0.05]
    table[0, 0, 3, TFA.end] = 0.0
    step = log_softmax([0.0, -0.05])
    tfa_end, tfa_continue = step[0] / gnmt_lp(1), step[1] / gnmt_lp(2)
    assert tfa_continue > tfa_end  # tfa's convention would continue
    model = TableModel(table, TFA)
    beam = model(BeamSearch(beam_size=1, length_penalty=ALPHA, max_length=3))
    assert beam.ids.numpy()[0, 0].tolist() == [2, TFA.end, TFA.pad]
    np.testing.assert_allclose(float(beam.scores[0, 0]), step[0] / gnmt_lp(2), rtol=1e-5)
    np.testing.assert_array_equal(beam.ids, model(GreedySearch(max_length=3)).ids)
