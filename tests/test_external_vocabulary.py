"""A SentencePiece model trained elsewhere, with `spm_train`'s default ids, end to end.

`spm_train` reserves unk 0, bos 1, eos 2 and no padding piece; the tokenizer
keeps those ids and gives padding the id after the pieces. The ids travel to
the model, its saved file, every search and the export, and a model trained
with them learns a small task.
"""

import io
import json
import zipfile

import keras
import numpy as np
import pytest
import sentencepiece
import tensorflow as tf

import s2s_keras as s2s
from s2s_keras.data import SentencePieceTokenizer, Tokenizer, make_dataset
from s2s_keras.data.special_ids import SpecialIds
from s2s_keras.decoding import BeamSearch, GreedySearch
from s2s_keras.export import load, save
from s2s_keras.translator import Translator

WORDS = ["bad", "cafe", "dab", "fade", "bead", "face", "deaf", "cab"]  # few letters: each word becomes a piece


def sentences(count, seed):
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(2, 6)))) for _ in range(count)]


def reverse_pairs(count, seed):
    return [(s, " ".join(reversed(s.split()))) for s in sentences(count, seed)]


def spm_train_defaults(texts):
    """A model as `spm_train --input=... --vocab_size=18` makes it: default special ids, no padding piece."""
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(texts), model_writer=model, vocab_size=18,
                                             minloglevel=2)
    return model.getvalue()


@pytest.fixture(scope="module")
def tokenizer():
    return SentencePieceTokenizer(spm_train_defaults(sentences(2000, seed=0)))


def test_the_tokenizer_keeps_the_models_ids_and_adds_a_padding_id(tokenizer, tmp_path):
    pieces = sentencepiece.SentencePieceProcessor(model_proto=tokenizer._model_bytes).get_piece_size()
    assert tokenizer.special_ids == SpecialIds(pad=pieces, unk=0, start=1, end=2)
    assert tokenizer.vocab_size == pieces + 1 == len(tokenizer.tokens)
    assert tokenizer.tokens[:3] == ["<unk>", "<s>", "</s>"] and tokenizer.tokens[-1] == "[PAD]"
    texts = sentences(50, seed=1)
    ids = tokenizer.tokenize(texts)
    assert not {tokenizer.pad_id, tokenizer.start_id, tokenizer.end_id} & set(ids.flat_values.numpy().tolist())
    assert [t.decode() for t in tokenizer.detokenize(ids).numpy()] == texts
    # reading stops at the end id; padding and start ids are dropped
    row = [tokenizer.start_id, *ids[0].numpy(), tokenizer.end_id, *ids[1].numpy(), tokenizer.pad_id]
    assert tokenizer.detokenize([row]).numpy()[0].decode() == texts[0]
    tokenizer.save(str(tmp_path / "tok"))
    loaded = Tokenizer.load(str(tmp_path / "tok"))
    assert loaded.special_ids == tokenizer.special_ids and loaded.vocab_size == tokenizer.vocab_size
    with open(tmp_path / "tok" / "tokenizer.json") as f:
        assert json.load(f)["special_ids"] == tokenizer.special_ids.to_config()


def test_a_model_without_an_end_piece_is_a_clear_error():
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(sentence_iterator=iter(sentences(500, 0)), model_writer=model,
                                             vocab_size=16, hard_vocab_limit=False, eos_id=-1, minloglevel=2)
    with pytest.raises(ValueError, match="end-of-sentence"):
        SentencePieceTokenizer(model.getvalue())


def test_batches_use_the_tokenizers_ids(tokenizer):
    ds = make_dataset(reverse_pairs(64, 2), tokenizer, tokenizer, batch_size=64, max_length=16, shuffle=False)
    inputs, target_out = next(iter(ds))
    target_in = inputs["target_in"].numpy()
    assert (target_in[:, 0] == tokenizer.start_id).all()
    assert (np.sum(target_out.numpy() == tokenizer.end_id, axis=1) == 1).all()
    assert (inputs["source"].numpy() == tokenizer.pad_id).any() and not (inputs["source"].numpy() == 0).all()


def sequence_accuracy(translator, pairs):
    translations = translator([s for s, _ in pairs])
    return np.mean([t == r for t, (_, r) in zip(translations, pairs)])


@pytest.mark.slow
def test_a_model_trained_with_spm_ids_learns_decodes_reloads_and_exports(tokenizer, tmp_path):
    keras.utils.set_random_seed(0)
    train = make_dataset(reverse_pairs(12_000, 3), tokenizer, tokenizer, batch_size=64, max_length=16, seed=0)
    model = s2s.build_model("gru_attention", source_vocab_size=tokenizer.vocab_size,
                            target_vocab_size=tokenizer.vocab_size, source_special_ids=tokenizer.special_ids,
                            target_special_ids=tokenizer.special_ids, embedding_dim=32, units=64, dropout=0.0)
    pad_id = tokenizer.pad_id
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=s2s.losses.masked_loss(pad_id=pad_id),
                  metrics=[s2s.metrics.MaskedAccuracy(pad_id=pad_id)])
    model.fit(train, epochs=1, verbose=0)

    test_pairs = reverse_pairs(200, 4)
    greedy = Translator(model, tokenizer, tokenizer, search=GreedySearch(max_length=20))
    assert sequence_accuracy(greedy, test_pairs) >= 0.95
    sources = [s for s, _ in test_pairs[:40]]
    beam_one = Translator(model, tokenizer, tokenizer, search=BeamSearch(beam_size=1, max_length=20))
    assert beam_one(sources) == greedy(sources)

    # padded = unpadded: the padding id (not 0) is masked
    one = tokenizer.tokenize(sources[:1]).to_tensor()
    padded = tf.pad(one, [[0, 0], [0, 5]], constant_values=pad_id)
    search = GreedySearch(max_length=20)
    np.testing.assert_array_equal(s2s.decoding.decode(model, one, search).ids,
                                  s2s.decoding.decode(model, padded, search).ids)

    path = str(tmp_path / "model.keras")
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert reloaded.source_special_ids == reloaded.target_special_ids == tokenizer.special_ids
    assert Translator(reloaded, tokenizer, tokenizer, search=GreedySearch(max_length=20))(sources) == greedy(sources)

    beam = Translator(model, tokenizer, tokenizer, search=BeamSearch(beam_size=3, max_length=20))
    served = load(save(beam, str(tmp_path / "export")))
    assert served(sources) == beam(sources)
    assert served.metadata["special_ids"]["target"] == tokenizer.special_ids.to_config()


def test_tokenizers_with_other_special_ids_than_the_model_are_a_clear_error(tokenizer):
    model = s2s.build_model("gru", source_vocab_size=tokenizer.vocab_size, target_vocab_size=tokenizer.vocab_size,
                            units=8, embedding_dim=8)  # built for the default ids 0-3
    with pytest.raises(ValueError, match="special ids"):
        Translator(model, tokenizer, tokenizer)


def test_a_model_saved_before_special_ids_were_recorded_loads_with_the_default_ids(tmp_path):
    model = s2s.build_model("transformer_tiny", source_vocab_size=20, target_vocab_size=20)
    source = tf.constant([[5, 6, 7, 0, 0]])
    expected = s2s.decoding.decode(model, source, GreedySearch(max_length=6)).ids
    path = tmp_path / "model.keras"
    model.save(path)
    old = tmp_path / "old.keras"  # the same file with the special ids taken out of its config
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(old, "w") as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                assert config["config"].pop("special_ids")
                data = json.dumps(config).encode()
            dst.writestr(item, data)
    reloaded = keras.models.load_model(old)
    assert reloaded.source_special_ids == reloaded.target_special_ids == SpecialIds()
    np.testing.assert_array_equal(s2s.decoding.decode(reloaded, source, GreedySearch(max_length=6)).ids, expected)
