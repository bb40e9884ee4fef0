"""`inference_copy`: a trained model in float32, bfloat16 arithmetic or weights, or with int8 weights, exported too."""

import keras
import numpy as np
import pytest

from s2s_keras import export
from s2s_keras.data import CharTokenizer
from s2s_keras.decoding import BeamSearch, decode
from s2s_keras.models import build_model, fastest_exact_precision, inference_copy
from s2s_keras.training.precision import global_dtype_policy

SIZES = {"units": 32, "embedding_dim": 16}


def _inputs():
    rng = np.random.default_rng(0)
    x = {"source": rng.integers(4, 40, (3, 7)).astype("int32"),
         "target_in": rng.integers(4, 40, (3, 5)).astype("int32")}
    x["source"][0, 4:] = 0  # padding
    return x


def test_int8_quantizes_the_dense_and_embedding_weights_and_keeps_the_logits_close():
    model = build_model("lstm_luong", source_vocab_size=40, target_vocab_size=40, **SIZES)
    copy = inference_copy(model, "int8")
    int8 = {layer.name for layer in copy._flatten_layers() if any(w.dtype == "int8" for w in layer.weights)}
    assert {"source_embedding", "target_embedding", "output_projection", "attention_projection"} <= int8
    assert all(w.dtype == "float32" for w in model.weights)  # the original is untouched
    expected = keras.ops.convert_to_numpy(model(_inputs()))
    logits = keras.ops.convert_to_numpy(copy(_inputs()))
    assert logits.dtype == np.float32
    error = np.abs(logits - expected).max()
    assert 0 < error < 0.02 * np.abs(expected).max()  # rounding to 256 levels per output, no more


@pytest.mark.parametrize("name", ["gru_attention", "transformer_tiny"])
def test_mixed_bfloat16_computes_in_bfloat16_and_keeps_float32_weights_and_logits(name):
    model = build_model(name, source_vocab_size=40, target_vocab_size=40, **({} if "transformer" in name else SIZES))
    copy = inference_copy(model, "mixed_bfloat16")
    assert copy.get_layer("decoder").compute_dtype == "bfloat16"
    assert copy.get_layer("output_projection").compute_dtype == "float32"
    assert {w.dtype for w in copy.weights} == {"float32"}
    expected = keras.ops.convert_to_numpy(model(_inputs()))
    logits = keras.ops.convert_to_numpy(copy(_inputs()))
    assert logits.dtype == np.float32 and 0 < np.abs(logits - expected).max() < 0.1 * np.abs(expected).max()
    back = inference_copy(copy, "float32")  # the weights went through unchanged
    np.testing.assert_allclose(keras.ops.convert_to_numpy(back(_inputs())), expected, atol=1e-5)


def test_bfloat16_weights_give_exactly_the_mixed_bfloat16_logits_at_half_the_size():
    model = build_model("transformer_tiny", source_vocab_size=40, target_vocab_size=40)
    rng = np.random.default_rng(1)  # as trained: layer norms not 1 and 0, biases not 0
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()])
    copy = inference_copy(model, "bfloat16")
    assert copy.get_layer("decoder").compute_dtype == "bfloat16"
    dtypes = {w.dtype for w in copy.get_layer("decoder").weights if w.name not in ("gamma", "beta")}
    assert dtypes == {"bfloat16"}  # the layer norms' stay float32, as under mixed_bfloat16
    assert {w.dtype for w in copy.get_layer("output_projection").weights} == {"float32"}
    mixed = keras.ops.convert_to_numpy(inference_copy(model, "mixed_bfloat16")(_inputs()))
    logits = keras.ops.convert_to_numpy(copy(_inputs()))
    assert logits.dtype == np.float32
    np.testing.assert_array_equal(logits, mixed)  # the weights are rounded once instead of at every use
    search = BeamSearch(beam_size=3, max_length=10)
    source = _inputs()["source"]
    expected = decode(inference_copy(model, "mixed_bfloat16"), source, search)
    result = decode(copy, source, search)
    np.testing.assert_array_equal(result.ids, expected.ids)
    np.testing.assert_array_equal(result.scores, expected.scores)
    recurrent = build_model("gru_attention", source_vocab_size=40, target_vocab_size=40, **SIZES)
    with pytest.raises(ValueError, match="recurrent cells.*mixed_bfloat16"):
        inference_copy(recurrent, "bfloat16")


def test_bfloat16_logits_rounds_the_output_projection_too_and_keeps_the_logits_close():
    model = build_model("transformer_tiny", source_vocab_size=40, target_vocab_size=40)
    rng = np.random.default_rng(2)
    model.set_weights([w + rng.normal(0, 0.05, w.shape).astype(w.dtype) for w in model.get_weights()])
    copy = inference_copy(model, "bfloat16_logits")
    assert {w.dtype for w in copy.get_layer("output_projection").weights} == {"bfloat16"}
    assert {w.dtype for w in copy.get_layer("decoder").weights if w.name not in ("gamma", "beta")} == {"bfloat16"}
    exact = keras.ops.convert_to_numpy(inference_copy(model, "bfloat16")(_inputs()))
    logits = keras.ops.convert_to_numpy(copy(_inputs())).astype("float32")
    error = np.abs(logits - exact).max()
    assert 0 < error < 0.02 * np.abs(exact).max()  # bfloat16 keeps 8 bits of each logit and weight
    source = _inputs()["source"]
    result = decode(copy, source, BeamSearch(beam_size=3, max_length=10))
    assert result.scores.dtype == "float32" and np.all(np.isfinite(result.scores.numpy()))
    recurrent = build_model("gru_attention", source_vocab_size=40, target_vocab_size=40, **SIZES)
    with pytest.raises(ValueError, match="recurrent cells"):
        inference_copy(recurrent, "bfloat16_logits")


def test_the_fastest_exact_precision_is_bfloat16_weights_for_a_mixed_bfloat16_transformer_only():
    def built(name, policy):
        with global_dtype_policy(policy):
            return build_model(name, source_vocab_size=40, target_vocab_size=40,
                               **({} if "transformer" in name else SIZES))

    assert fastest_exact_precision(built("transformer_tiny", "mixed_bfloat16")) == "bfloat16"
    assert fastest_exact_precision(built("transformer_tiny", "float32")) is None
    assert fastest_exact_precision(built("gru_attention", "mixed_bfloat16")) is None


def test_a_translator_decodes_the_fastest_exact_copy_unless_told_not_to():
    from s2s_keras.models import Ensemble
    from s2s_keras.training import BleuCallback
    from s2s_keras.translator import Translator

    tokenizer = CharTokenizer(list("abcdefghijk "))
    with global_dtype_policy("mixed_bfloat16"):
        model = build_model("transformer_tiny", source_vocab_size=tokenizer.vocab_size,
                            target_vocab_size=tokenizer.vocab_size)
    for variable in model.trainable_variables:  # weights that bfloat16 does not hold exactly (see above)
        variable.assign(variable + np.random.default_rng(1).normal(0.0, 0.05, variable.shape))
    search = BeamSearch(beam_size=3, max_length=8)
    fast = Translator(model, tokenizer, tokenizer, search=search)
    itself = Translator(model, tokenizer, tokenizer, search=search, fastest_precision=False)
    assert fast.model is not model and fast.model.get_layer("decoder").dtype_policy.name == "bfloat16"
    assert itself.model is model
    sentences = ["abc", "hig fed", "k", "abcdefghijk"]
    assert fast(sentences) == itself(sentences)
    assert Translator(Ensemble([model]), tokenizer, tokenizer, search=search).model.members[0] is model
    callback = BleuCallback(lambda m: Translator(m, tokenizer, tokenizer, search=search), ["abc"], ["abc"])
    callback.set_model(model)
    with pytest.raises(ValueError, match="fastest_precision=False"):
        callback.on_train_begin()


def test_an_unknown_precision_is_refused():
    model = build_model("gru", source_vocab_size=10, target_vocab_size=10, units=8, embedding_dim=4)
    with pytest.raises(ValueError, match="precision.*'int4'"):
        inference_copy(model, "int4")


@pytest.mark.parametrize("name, precision", [("gru_attention", "int8"), ("transformer_tiny", "bfloat16"),
                                             ("transformer_tiny", "bfloat16_logits")])
def test_an_export_translates_as_the_copy_in_this_process(tmp_path, name, precision):
    from s2s_keras.translator import Translator

    tokenizer = CharTokenizer(list("abcdefghijk "))
    size = tokenizer.vocab_size
    sizes = {} if "transformer" in name else SIZES
    model = build_model(name, source_vocab_size=size, target_vocab_size=size, **sizes)
    search = BeamSearch(beam_size=3, max_length=8)
    translator = Translator(inference_copy(model, precision), tokenizer, tokenizer, search=search)
    sentences = ["abc", "hig fed", ""]
    expected = translator(sentences)
    assert decode(translator.model, np.asarray([[5, 6, 7]]), search).ids.shape[0] == 1
    served = export.load(export.save(translator, str(tmp_path / "m")))
    assert served(sentences) == expected
