"""What the searches return beside the ids, their serialization, beam temperature, several draws, `generate`."""

import json

import numpy as np
import pytest
import tensorflow as tf

import s2s_keras as s2s
from s2s_keras.decoding import (BeamSearch, GreedySearch, Sampling, decode, deserialize_search,
                                serialize_search)
from tests.decoding.fake_model import PrefixTableModel

VOCAB = 7  # ids 1, 3, 4, 5, 6 can be produced
SOURCE = tf.ones((2, 3), tf.int32)
STRATEGIES = [GreedySearch(max_length=9, min_length=2, stop_ids=(5,)),
              BeamSearch(beam_size=3, length_penalty=0.6, coverage_penalty=0.2, n_best=2, max_length=7,
                         early_stopping=True, stop_ids=(4, 6), temperature=1.3),
              Sampling(temperature=0.7, top_k=3, top_p=0.9, seed=5, max_length=8, num_return_sequences=2)]


@pytest.mark.parametrize("search", STRATEGIES, ids=lambda s: type(s).__name__)
def test_searches_serialize_through_json_and_show_every_argument(search):
    restored = deserialize_search(json.loads(json.dumps(serialize_search(search))))
    assert restored == search and type(restored) is type(search)
    assert restored.get_config() == search.get_config()
    assert all(f"{key}={value!r}" in repr(search) for key, value in search.get_config().items())
    assert type(search).from_config(search.get_config()) == search


def test_an_unknown_search_is_refused():
    with pytest.raises(ValueError, match="Unknown search strategy 'Viterbi'"):
        deserialize_search({"class_name": "Viterbi", "config": {}})


@pytest.mark.parametrize("search", [GreedySearch(max_length=6), BeamSearch(beam_size=3, n_best=3, max_length=6),
                                    BeamSearch(beam_size=3, length_penalty=1.0, max_length=6)],
                         ids=["greedy", "beam", "beam_alpha"])
def test_token_log_probs_add_up_to_the_hypothesis_log_prob_and_match_the_model(search):
    fake = PrefixTableModel(VOCAB, 6, seed=3)
    result = search(*fake.functions(), SOURCE)
    ids, lengths = result.ids.numpy(), result.lengths.numpy()
    np.testing.assert_allclose(result.token_log_probs.numpy().sum(-1), result.log_probs.numpy(), rtol=1e-5)
    for row in range(2):
        for k in range(ids.shape[1]):
            tokens = ids[row, k, : lengths[row, k]].tolist()
            expected = [fake.log_probs(tokens[:i])[tokens[i]] for i in range(len(tokens))]
            np.testing.assert_allclose(result.token_log_probs.numpy()[row, k, : len(tokens)], expected, rtol=1e-4)
            assert not result.token_log_probs.numpy()[row, k, len(tokens):].any()  # 0 after the end
    assert result.valid.numpy().all()
    if getattr(search, "length_penalty", 0.0) == 0.0:
        np.testing.assert_allclose(result.scores.numpy(), result.log_probs.numpy(), rtol=1e-6)


def test_filler_hypotheses_are_marked_invalid():
    fake = PrefixTableModel(VOCAB, 1, seed=0)  # one token each: five hypotheses exist
    result = BeamSearch(beam_size=6, n_best=6, max_length=1)(*fake.functions(), SOURCE)
    np.testing.assert_array_equal(result.valid.numpy(), [[True] * 5 + [False]] * 2)


def test_beam_temperature_searches_the_tempered_distribution():
    fake, tempered = PrefixTableModel(VOCAB, 6, seed=4), PrefixTableModel(VOCAB, 6, seed=4)
    tempered.table = tempered.table / 2.5
    hot = BeamSearch(beam_size=3, length_penalty=0.6, n_best=2, max_length=6, temperature=2.5)(
        *fake.functions(), SOURCE)
    reference = BeamSearch(beam_size=3, length_penalty=0.6, n_best=2, max_length=6)(*tempered.functions(), SOURCE)
    np.testing.assert_array_equal(hot.ids, reference.ids)
    np.testing.assert_allclose(hot.scores, reference.scores, rtol=1e-5)
    with pytest.raises(ValueError, match="temperature"):
        BeamSearch(temperature=0.0)


def test_several_draws_are_the_single_draws_of_repeated_rows_sorted_by_score():
    fake = PrefixTableModel(VOCAB, 8, seed=1)
    source = tf.constant([[4, 5, 6], [6, 5, 4]], tf.int32)
    several = Sampling(temperature=1.5, seed=9, max_length=8, num_return_sequences=3)(*fake.functions(), source)
    single = Sampling(temperature=1.5, seed=9, max_length=8)(*fake.functions(), tf.repeat(source, 3, axis=0))
    assert several.ids.shape == (2, 3, 8) and several.valid.shape == (2, 3)
    scores = several.scores.numpy()
    assert (np.diff(scores, axis=1) <= 0).all()  # best first
    for row in range(2):
        draws = sorted(zip(single.scores.numpy()[3 * row : 3 * row + 3, 0],
                           single.ids.numpy()[3 * row : 3 * row + 3, 0].tolist()), key=lambda d: -d[0])
        assert [ids for _, ids in draws] == several.ids.numpy()[row].tolist()
    assert len({tuple(r) for r in several.ids.numpy()[0]}) > 1  # the draws differ


def test_generate_is_decode_on_the_model():
    model = s2s.build_model("transformer_tiny", source_vocab_size=12, target_vocab_size=12)
    source = np.array([[5, 6, 7, 3], [8, 9, 3, 0]], "int32")
    search = BeamSearch(beam_size=2, max_length=5)
    np.testing.assert_array_equal(model.generate(source, search).ids, decode(model, source, search).ids)
    np.testing.assert_array_equal(model.generate(source, search, static_shapes=False).ids,
                                  decode(model, source, search).ids)
    assert model.generate(source).ids.shape == (2, 1, 100)  # greedy, at most 100 tokens


def test_an_export_records_its_search_as_config():
    from s2s_keras.export import export_metadata
    from s2s_keras.translator import Translator

    tokenizer = s2s.data.CharTokenizer(list("abc"))
    model = s2s.build_model("gru", source_vocab_size=tokenizer.vocab_size, target_vocab_size=tokenizer.vocab_size,
                            units=8, embedding_dim=4)
    translator = Translator(model, tokenizer, tokenizer, search=STRATEGIES[1])
    metadata = json.loads(json.dumps(export_metadata(translator)))
    assert deserialize_search(metadata["search_config"]) == STRATEGIES[1]


@pytest.mark.parametrize("search", [GreedySearch(max_length=6, alignment_history=True),
                                    BeamSearch(beam_size=3, n_best=2, max_length=6, alignment_history=True)],
                         ids=["greedy", "beam"])
def test_alignments_are_the_attention_of_each_returned_token(search):
    model = s2s.build_model("gru_attention", source_vocab_size=14, target_vocab_size=14, units=16, embedding_dim=8)
    source = np.array([[5, 6, 7, 8, 3, 0], [9, 10, 11, 4, 5, 3]], "int32")
    result = decode(model, source, search)
    assert result.alignments.shape == (2, result.ids.shape[1], 6, 6)
    for row in range(2):
        for k in range(result.ids.shape[1]):
            length = int(result.lengths[row, k])
            tokens = [2] + result.ids.numpy()[row, k, : length - 1].tolist()  # [START] then the hypothesis
            memory = model.encode(source[row : row + 1])
            state = model.initial_state(memory, 6)
            for step, token in enumerate(tokens):  # decode_step's weights along the hypothesis
                _, state, weights = model.decode_step(np.array([token]), state, memory, step, return_attention=True)
                np.testing.assert_allclose(result.alignments.numpy()[row, k, step], np.asarray(weights)[0], atol=1e-5)
            assert not result.alignments.numpy()[row, k, length:].any()  # zeros after the end
    assert decode(model, source, GreedySearch(max_length=6)).alignments.shape == (2, 1, 0, 0)  # not requested


def test_a_search_can_be_an_argument_of_a_traced_function():
    model = s2s.build_model("gru", source_vocab_size=10, target_vocab_size=10, units=8, embedding_dim=4)
    run = tf.function(lambda source, search: decode(model, source, search))
    assert hash(GreedySearch(max_length=6)) == hash(GreedySearch(max_length=6))
    np.testing.assert_array_equal(run(SOURCE, GreedySearch(max_length=6)).ids,
                                  decode(model, SOURCE, GreedySearch(max_length=6)).ids)
