"""Forced target prefixes: each row's output starts with its own prefix and the search continues it."""

import numpy as np
import pytest
import tensorflow as tf

import s2s_keras as s2s
from s2s_keras import export
from s2s_keras.decoding import BeamSearch, GreedySearch, Sampling
from s2s_keras.translator import Translator
from tests.decoding.fake_model import PrefixTableModel

VOCAB = 7
SOURCE = tf.ones((3, 3), tf.int32)
PREFIXES = np.array([[4, 5, 6], [6, 0, 0], [0, 0, 0]], "int32")  # lengths 3, 1 and 0 (padding id 0)


def greedy_continuation(fake, prefix, max_length):
    """Teacher-forced on `prefix`, then the argmax token by token (numpy)."""
    tokens = list(prefix)
    while len(tokens) < max_length and (not tokens or tokens[-1] != fake.target_special_ids.end):
        tokens.append(int(np.argmax(fake.log_probs(tokens))))
    return tokens


def test_greedy_continues_each_rows_prefix_as_teacher_forcing_then_argmax():
    fake = PrefixTableModel(VOCAB, 8, seed=2)
    result = GreedySearch(max_length=8)(*fake.functions(), SOURCE, prefix_ids=PREFIXES)
    free = GreedySearch(max_length=8)(*fake.functions(), SOURCE)
    for row, prefix in enumerate([[4, 5, 6], [6], []]):
        length = int(result.lengths[row, 0])
        assert result.ids.numpy()[row, 0, :length].tolist() == greedy_continuation(fake, prefix, 8)
        forced = result.token_log_probs.numpy()[row, 0, : len(prefix)]  # scored as the model scores them
        np.testing.assert_allclose(forced, [fake.log_probs(prefix[:i])[prefix[i]] for i in range(len(prefix))],
                                   rtol=1e-5)
    np.testing.assert_array_equal(result.ids[2], free.ids[2])  # no prefix: free decoding


@pytest.mark.parametrize("search", [BeamSearch(beam_size=3, n_best=3, length_penalty=0.6, max_length=8),
                                    Sampling(seed=4, max_length=8, num_return_sequences=2)],
                         ids=["beam", "sampling"])
def test_every_hypothesis_starts_with_its_rows_prefix_and_rows_decode_alone_as_together(search):
    fake = PrefixTableModel(VOCAB, 8, seed=5)
    together = search(*fake.functions(), SOURCE, prefix_ids=PREFIXES)
    for row, prefix in enumerate([[4, 5, 6], [6], []]):
        for k in range(together.ids.shape[1]):
            assert together.ids.numpy()[row, k, : len(prefix)].tolist() == prefix
        if isinstance(search, BeamSearch):
            alone = search(*fake.functions(), SOURCE[:1], prefix_ids=PREFIXES[row : row + 1, : max(len(prefix), 1)])
            np.testing.assert_array_equal(alone.ids[0], together.ids[row])


@pytest.fixture(scope="module")
def translator():
    tokenizer = s2s.data.CharTokenizer(list("abcdefgh "))
    model = s2s.build_model("gru_attention", source_vocab_size=tokenizer.vocab_size,
                            target_vocab_size=tokenizer.vocab_size, units=16, embedding_dim=8)
    return Translator(model, tokenizer, tokenizer, search=BeamSearch(beam_size=2, max_length=10))


def test_the_translator_and_its_export_start_translations_with_the_prefixes(translator, tmp_path):
    sentences = ["abc", "hgf", "dead"]
    plain = translator(sentences)
    prefixed = translator(sentences, prefixes=["bad", "", "c"])
    assert prefixed[0].startswith("bad") and prefixed[2].startswith("c") and prefixed[1] == plain[1]
    assert all(t.startswith("h") for t in translator(sentences, prefixes="h"))  # one prefix for all
    with pytest.raises(ValueError, match="2 prefixes for 3 sentences"):
        translator(sentences, prefixes=["a", "b"])
    served = export.load(export.save(translator, str(tmp_path / "m")))
    assert served(sentences, prefixes=["bad", "", "c"]) == prefixed
    assert served(sentences) == plain
