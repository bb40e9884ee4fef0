import json
import os
import subprocess
import sys

import numpy as np
import pytest

import s2s_keras as s2s
from s2s_keras import export
from s2s_keras.cpu_threads import decoding_loops
from s2s_keras.decoding import BeamSearch
from s2s_keras.training import global_dtype_policy
from s2s_keras.translator import Translator, pad_to_buckets

SENTENCES = ["3 mars 2021", "le 4 avril 1999", "März", ""]


@pytest.fixture(scope="module")
def translator():
    source = s2s.data.CharTokenizer.from_texts(["0123456789 marsleavilMäz."])
    target = s2s.data.CharTokenizer.from_texts(["0123456789-"])
    model = s2s.build_model("gru_attention", source_vocab_size=source.vocab_size,
                            target_vocab_size=target.vocab_size, units=16, embedding_dim=8)
    return Translator(model, source, target, search=BeamSearch(beam_size=3, n_best=2, max_length=12))


def test_strings_in_strings_out_with_scores_and_n_best(translator):
    texts, scores = translator(SENTENCES, return_scores=True)
    assert len(texts) == len(scores) == 4 and all(isinstance(t, str) for t in texts)
    assert texts[3] == "" and scores[3] == 0.0  # empty input: documented empty output
    assert set("".join(texts)) <= set("0123456789-")
    n_best, n_scores = translator(SENTENCES, return_scores=True, return_n_best=True)
    assert [row[0] for row in n_best] == texts and all(len(row) == 2 for row in n_best)
    assert all(a >= b for a, b in n_scores[:3])
    assert translator("3 mars 2021") == texts[0]


def test_a_batch_split_into_parallel_loops_translates_as_one_loop(translator):
    assert translator.parallel_loops == decoding_loops()
    one, three = (Translator(translator.model, translator.source_tokenizer, translator.target_tokenizer,
                             search=translator.search, parallel_loops=loops) for loops in (1, 3))
    assert three(SENTENCES, return_n_best=True) == one(SENTENCES, return_n_best=True)


def test_long_and_invalid_input_are_handled(translator):
    long_text = "3 mars 2021 " * 100
    assert isinstance(translator([long_text])[0], str)  # truncated to max_source_length
    short = Translator(translator.model, translator.source_tokenizer, translator.target_tokenizer,
                       search=translator.search, max_source_length=11)
    assert short([long_text]) == short(["3 mars 2021"])
    assert isinstance(translator([b"3 m\xffrs"])[0], str)


def test_sources_are_padded_to_a_few_shapes_for_xla():
    ids = np.arange(1, 16).reshape(3, 5).astype("int32")
    padded = np.asarray(pad_to_buckets(ids, 256))
    assert padded.shape == (4, 8)  # batch to a power of two, length to 8, 16, 32, ...
    np.testing.assert_array_equal(padded[:3, :5], ids)
    assert not padded[:, 5:].any()  # padding id 0
    np.testing.assert_array_equal(padded[3], padded[0])  # extra rows copy the first
    assert pad_to_buckets(np.ones((1, 9), "int32"), 256).shape == (1, 16)
    assert pad_to_buckets(np.ones((5, 40), "int32"), 50).shape == (8, 50)  # capped at max_source_length
    assert pad_to_buckets(np.ones((2, 50), "int32"), 50).shape == (2, 50)


def test_xla_translator_gives_the_plain_translators_output_in_memory_and_exported(translator, tmp_path):
    compiled = Translator(translator.model, translator.source_tokenizer, translator.target_tokenizer,
                          search=translator.search, jit_compile=True)
    sentences = SENTENCES + ["le 30 juillet 2020"]  # 5 rows: padded to 8 inside
    expected_texts, expected_scores = translator(sentences, return_scores=True)
    texts, scores = compiled(sentences, return_scores=True)
    assert texts == expected_texts
    np.testing.assert_allclose(scores, expected_scores, atol=1e-4)
    compiled.warm_up()
    served = export.load(export.save(compiled, str(tmp_path / "xla")), warm_up=True)
    assert served(sentences) == expected_texts
    assert served([sentences[0]]) == [expected_texts[0]]


def test_mismatched_vocabularies_are_rejected(translator):
    other = s2s.data.CharTokenizer.from_texts(["abc"])
    with pytest.raises(ValueError, match="do not match the model's vocabularies"):
        Translator(translator.model, other, translator.target_tokenizer)


def test_length_limits_follow_learned_positions(translator):
    source, target = translator.source_tokenizer, translator.target_tokenizer
    model = s2s.build_model("transformer_tiny", source_vocab_size=source.vocab_size,
                            target_vocab_size=target.vocab_size, positions="learned", max_length=12)
    fitted = Translator(model, source, target)  # defaults shrink to the 12 learned positions
    assert fitted.max_source_length == 12 and fitted.search.max_length == 12
    assert len(fitted(["1" * 40])[0]) <= 12  # a long source is truncated, not an index error
    with pytest.raises(ValueError, match="more than the model's 12 learned source positions"):
        Translator(model, source, target, max_source_length=20)
    with pytest.raises(ValueError, match="more than the model's 12 learned target positions"):
        Translator(model, source, target, search=BeamSearch(beam_size=2, max_length=13))
    sinusoidal = s2s.build_model("transformer_tiny", source_vocab_size=source.vocab_size,
                                 target_vocab_size=target.vocab_size)
    assert Translator(sinusoidal, source, target).max_source_length == 256


def test_export_is_versioned_atomic_and_loads_back(translator, tmp_path):
    base = tmp_path / "dates"
    first = export.save(translator, str(base))
    second = export.save(translator, str(base))
    assert [os.path.basename(first), os.path.basename(second)] == ["1", "2"]
    assert sorted(os.listdir(base)) == ["1", "2"]  # no staging folder left behind
    os.makedirs(tmp_path / "plain")  # a version folder is as readable as any folder the user makes
    assert os.stat(first).st_mode & 0o777 == os.stat(tmp_path / "plain").st_mode & 0o777
    with pytest.raises(ValueError, match="already exists"):
        export.save(translator, str(base), version=1)
    served = export.load(str(base))
    assert served.version == 2
    texts, scores = served.predict(SENTENCES)
    expected_texts, expected_scores = translator(SENTENCES, return_scores=True)
    assert texts == expected_texts
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_failed_export_leaves_existing_versions_untouched(translator, tmp_path, monkeypatch):
    base = tmp_path / "m"
    export.save(translator, str(base))
    before = sorted(os.listdir(base / "1"))

    def broken_save(translator, staging, **kwargs):  # fails half-way through writing
        with open(os.path.join(staging, "saved_model.pb"), "wb") as f:
            f.write(b"half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(export.tf.saved_model, "save", broken_save)
    with pytest.raises(RuntimeError, match="disk full"):
        export.save(translator, str(base))
    assert sorted(os.listdir(base)) == ["1"] and sorted(os.listdir(base / "1")) == before


@pytest.mark.parametrize("name, sizes, policy", [
    ("transformer_tiny", {}, "float32"), ("lstm_luong", {"units": 16, "embedding_dim": 8}, "float32"),
    ("transformer_tiny", {}, "mixed_bfloat16"),  # as `train(dtype_policy="mixed_bfloat16")` saves it
])
def test_other_architectures_export_and_load_back(translator, tmp_path, name, sizes, policy):
    source, target = translator.source_tokenizer, translator.target_tokenizer
    with global_dtype_policy(policy):
        model = s2s.build_model(name, source_vocab_size=source.vocab_size, target_vocab_size=target.vocab_size,
                                **sizes)
    assert model.get_layer("decoder").dtype_policy.name == policy
    beam = Translator(model, source, target, search=BeamSearch(beam_size=3, length_penalty=0.6, max_length=12))
    served = export.load(export.save(beam, str(tmp_path / name)))
    texts, scores = served.predict(SENTENCES)
    expected_texts, expected_scores = beam(SENTENCES, return_scores=True)
    assert texts == expected_texts and any(texts)  # random weights still produce some tokens
    np.testing.assert_allclose(scores, expected_scores, atol=1e-5)


def test_bad_folders_give_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="No such export folder"):
        export.load(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="is not a SavedModel"):
        export.load(str(tmp_path / "empty"))
    corrupt = tmp_path / "corrupt" / "1"
    corrupt.mkdir(parents=True)
    (corrupt / "saved_model.pb").write_bytes(b"not a protobuf")
    with pytest.raises(ValueError, match="corrupt"):
        export.load(str(tmp_path / "corrupt"))


def test_stray_folders_and_an_incomplete_version_do_not_hide_the_good_one(translator, tmp_path):
    base = tmp_path / "m"
    export.save(translator, str(base))
    (base / "²").mkdir()  # a digit to Python's str.isdigit, not a version
    (base / "2").mkdir()  # an empty (incomplete) newer version
    assert export.versions(str(base)) == [1, 2]
    with pytest.warns(UserWarning, match="Skipping version 2"):
        served = export.load(str(base))
    assert served.version == 1 and served.predict(SENTENCES)[0] == translator(SENTENCES)
    assert export.save(translator, str(base)).endswith("3")  # numbering goes on past the incomplete one


def test_the_next_export_removes_what_a_killed_export_left(translator, tmp_path):
    base = tmp_path / "m"
    export.save(translator, str(base))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = [base / ".export-2-abc123", base / f".export-2-{int(dead.stdout)}-abc123"]  # older and current naming
    working = base / f".export-9-{os.getpid()}-xyz"  # an export still running (this process)
    for folder in (*left, working):
        folder.mkdir()
        (folder / "saved_model.pb").write_bytes(b"half")
    export.save(translator, str(base))
    assert sorted(os.listdir(base)) == sorted(["1", "2", working.name])


def test_a_fresh_process_with_only_tensorflow_gives_the_same_output(translator, tmp_path):
    path = export.save(translator, str(tmp_path / "m"))
    script = (
        "import json, sys, tensorflow as tf, tensorflow_text\n"
        f"m = tf.saved_model.load({path!r})\n"
        f"out = m.signatures['serving_default'](inputs=tf.constant({SENTENCES!r}))\n"
        "assert not any(name.startswith('s2s_keras') for name in sys.modules)\n"
        "print(json.dumps({'t': [t.decode() for t in out['translations'].numpy()], 's': out['scores'].numpy().tolist()}))\n"
    )
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=str(tmp_path), env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    served = json.loads(result.stdout.strip().splitlines()[-1])
    expected_texts, expected_scores = translator(SENTENCES, return_scores=True)
    assert served["t"] == expected_texts
    np.testing.assert_allclose(served["s"], expected_scores, atol=1e-5)
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--dir", path, "--all"], capture_output=True, text=True, env=env, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "signature_def['serving_default']" in shown.stdout
    assert "inputs['inputs']" in shown.stdout and "outputs['translations']" in shown.stdout


def test_an_export_of_a_trained_model_holds_its_weights_and_not_its_optimizer_state(translator, tmp_path):
    import keras
    import tensorflow as tf

    model = keras.models.clone_model(translator.model)
    model.compile(optimizer="adam", loss=s2s.losses.masked_loss())
    x = {"source": np.ones((2, 5), "int32") * 5, "target_in": np.ones((2, 4), "int32") * 5}
    model.fit(x, np.ones((2, 4), "int32") * 6, epochs=1, verbose=0)  # creates Adam's moments
    assert len(model.optimizer.variables) > 2 * len(model.trainable_weights)
    path = export.save(Translator(model, translator.source_tokenizer, translator.target_tokenizer), str(tmp_path))
    reader = tf.train.load_checkpoint(os.path.join(path, "variables", "variables"))
    saved = [name for name in reader.get_variable_to_shape_map() if name.endswith("VARIABLE_VALUE")]
    assert not [name for name in saved if "optimizer" in name]
    assert len([name for name in saved if "lookup" not in name.lower()]) == len(model.variables)
