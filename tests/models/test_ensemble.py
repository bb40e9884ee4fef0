"""`Ensemble`: models decoding as one through the inference contract."""

import numpy as np
import pytest

import s2s_keras as s2s
from s2s_keras import export
from s2s_keras.decoding import BeamSearch, GreedySearch, decode
from s2s_keras.models import Ensemble
from s2s_keras.translator import Translator

SOURCE = np.array([[5, 6, 7, 8, 3, 0], [9, 10, 11, 4, 5, 3]], "int32")
SEARCHES = [GreedySearch(max_length=8), BeamSearch(beam_size=3, length_penalty=0.6, n_best=2, max_length=8)]


def build(name, seed, vocab=14, **sizes):
    import keras

    keras.utils.set_random_seed(seed)
    return s2s.build_model(name, source_vocab_size=vocab, target_vocab_size=vocab, **sizes)


@pytest.fixture(scope="module")
def models():
    return (build("gru_attention", 0, units=16, embedding_dim=8),
            build("transformer_tiny", 1, num_encoder_layers=1, num_decoder_layers=1))


@pytest.mark.parametrize("search", SEARCHES, ids=["greedy", "beam"])
def test_an_ensemble_of_one_and_of_a_model_with_itself_decode_as_the_model(models, search):
    model = models[1]
    alone = decode(model, SOURCE, search, static_shapes=False)
    for ensemble in (Ensemble([model]), Ensemble([model, model])):
        result = decode(ensemble, SOURCE, search, static_shapes=False)
        np.testing.assert_array_equal(result.ids, alone.ids)
        np.testing.assert_allclose(result.scores, alone.scores, atol=1e-5)


def test_two_different_models_average_their_log_probabilities(models):
    ensemble = Ensemble(models)
    memory = ensemble.encode(SOURCE)
    state = ensemble.initial_state(memory, 8)
    tokens = np.full([2], 2, "int32")
    mean, _, weights = ensemble.decode_step(tokens, state, memory, 0, return_attention=True)
    expected = []
    for model in models:
        m = model.encode(SOURCE)
        logits, _ = model.decode_step(tokens, model.initial_state(m, 8), m, 0)
        expected.append(np.asarray(logits) - np.log(np.exp(np.asarray(logits)).sum(-1, keepdims=True)))
    np.testing.assert_allclose(np.asarray(mean), np.mean(expected, axis=0), atol=1e-5)
    assert weights.shape == (2, 6)
    result = decode(ensemble, SOURCE, SEARCHES[1])  # beam search reorders both members' states
    assert result.ids.shape == (2, 2, 8) and result.valid.numpy().all()


def test_members_must_share_their_vocabularies(models):
    with pytest.raises(ValueError, match="target vocabulary size 15, model 0 has 14"):
        Ensemble([models[0], s2s.build_model("gru", source_vocab_size=14, target_vocab_size=15, units=8,
                                             embedding_dim=4)])
    with pytest.raises(ValueError, match="at least one"):
        Ensemble([])


def test_a_translator_over_an_ensemble_exports(models, tmp_path):
    tokenizer = s2s.data.CharTokenizer(list("abcdefghij"))
    assert tokenizer.vocab_size == 14
    translator = Translator(Ensemble(models), tokenizer, tokenizer, search=SEARCHES[1])
    sentences = ["abc", "jihg"]
    expected = translator(sentences)
    assert export.load(export.save(translator, str(tmp_path / "e")))(sentences) == expected
