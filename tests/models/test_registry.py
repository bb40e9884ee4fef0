import pytest

import s2s_keras as s2s
from s2s_keras.models.registry import ModelRegistry

CLASSIC = ["rnn", "lstm", "gru", "rnn_attention", "lstm_attention", "gru_attention", "lstm_luong", "gru_luong"]


def test_the_classic_models_are_registered():
    assert set(CLASSIC) <= set(s2s.list_models())
    assert s2s.list_models() == sorted(s2s.list_models())


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Unknown model 'gpt'. Valid names: .*gru_attention.*lstm_luong"):
        s2s.build_model("gpt", source_vocab_size=10, target_vocab_size=10)


def test_unknown_override_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"Unknown override\(s\) \['hidden'\].*Valid overrides: .*units"):
        s2s.build_model("gru", source_vocab_size=10, target_vocab_size=10, hidden=3)


def test_vocabulary_sizes_are_checked():
    with pytest.raises(ValueError, match="source_vocab_size"):
        s2s.build_model("gru", source_vocab_size=3, target_vocab_size=10)


def test_defaults_are_documented_and_applied():
    defaults = s2s.models.model_defaults("gru_attention")
    assert defaults["units"] == 512 and defaults["embedding_dim"] == 256 and defaults["bidirectional"] is True
    assert s2s.models.model_defaults("gru")["bidirectional"] is False
    model = s2s.build_model("gru_luong", source_vocab_size=10, target_vocab_size=12, units=16, embedding_dim=8)
    decoder = model.get_layer("decoder")
    assert decoder.attention == "luong" and decoder.luong_score == "general" and decoder.units == 16
    assert model.get_layer("encoder").bidirectional


def test_registry_rejects_duplicates():
    registry = ModelRegistry()
    registry.register("a", lambda **kw: None)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", lambda **kw: None)
