"""Mixed precision in training runs: the scoped global policy, `float32_copy`, `train(dtype_policy=...)`."""

import json
import os

import keras
import numpy as np
import pytest

from s2s_keras.models import build_model
from s2s_keras.training import float32_copy, global_dtype_policy
from s2s_keras.training.run import train
from s2s_keras.training.run_folder import RUN_FILE, load_run
from s2s_keras.training.settings import TrainSettings

SMALL = {"gru_attention": {"units": 16, "embedding_dim": 8}, "transformer_tiny": {}}


def test_the_global_policy_is_restored_even_after_an_error():
    assert keras.mixed_precision.dtype_policy().name == "float32"
    with pytest.raises(RuntimeError, match="inside"):
        with global_dtype_policy("mixed_bfloat16"):
            assert keras.mixed_precision.dtype_policy().name == "mixed_bfloat16"
            assert keras.layers.Dense(2).compute_dtype == "bfloat16"
            raise RuntimeError("inside")
    assert keras.mixed_precision.dtype_policy().name == "float32"


@pytest.mark.parametrize("name", sorted(SMALL))
def test_float32_copy_computes_exactly_as_the_float32_model_with_the_same_weights(name):
    keras.utils.set_random_seed(0)
    reference = build_model(name, source_vocab_size=30, target_vocab_size=20, **SMALL[name])
    with global_dtype_policy("mixed_bfloat16"):
        mixed = build_model(name, source_vocab_size=30, target_vocab_size=20, **SMALL[name])
    mixed.set_weights(reference.get_weights())
    rng = np.random.default_rng(0)
    x = {"source": rng.integers(1, 30, (3, 7)).astype("int32"),
         "target_in": rng.integers(3, 20, (3, 5)).astype("int32")}
    x["source"][0, 4:] = 0  # padding

    copy = float32_copy(mixed)
    assert mixed.get_layer("decoder").compute_dtype == "bfloat16"  # the original is untouched
    assert {layer.compute_dtype for layer in copy._flatten_layers()} == {"float32"}
    expected = keras.ops.convert_to_numpy(reference(x))
    np.testing.assert_allclose(keras.ops.convert_to_numpy(copy(x)), expected, atol=1e-5)
    bf16 = keras.ops.convert_to_numpy(mixed(x))  # bfloat16 differs, but only by rounding
    assert 0 < np.abs(bf16 - expected).max() < 0.1 * np.abs(expected).max()


@pytest.mark.parametrize("name", ["gru_attention", "lstm_luong", "transformer_tiny"])
def test_a_saved_mixed_model_loads_back_mixed_in_every_sublayer_outside_the_policy_scope(name, tmp_path):
    """Sublayers take their parent's policy, so a `.keras` file loads the same without the global policy."""
    sizes = SMALL.get(name, {"units": 16, "embedding_dim": 8})
    with global_dtype_policy("mixed_bfloat16"):
        model = build_model(name, source_vocab_size=30, target_vocab_size=20, **sizes)
    rng = np.random.default_rng(0)
    x = {"source": rng.integers(1, 30, (3, 7)).astype("int32"),
         "target_in": rng.integers(3, 20, (3, 5)).astype("int32")}
    x["source"][0, 4:] = 0  # padding
    expected = keras.ops.convert_to_numpy(model(x))
    model.save(tmp_path / "model.keras")

    assert keras.mixed_precision.dtype_policy().name == "float32"
    reloaded = keras.saving.load_model(tmp_path / "model.keras")

    def policies(model):
        return [(type(layer).__name__, layer.dtype_policy.name)
                for layer in model._flatten_layers(include_self=False)
                if not isinstance(layer, keras.layers.InputLayer)]

    assert policies(reloaded) == policies(model)
    assert {policy for _, policy in policies(model)} == {"mixed_bfloat16", "float32"}  # float32: the logits
    assert sum(policy == "mixed_bfloat16" for _, policy in policies(model)) > 10  # nested sublayers included
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(reloaded(x)), expected)


def tiny_settings(output, **changes):
    return TrainSettings(**{
        **dict(model="gru_attention", data="task:dates", output=str(output), tokenizer="char", epochs=2,
               batch_size=32, task_size=300, overrides={"units": 16, "embedding_dim": 8}),
        **changes})


def test_a_mixed_bfloat16_run_trains_saves_its_policy_and_cannot_resume_in_another(tmp_path):
    model, _, _, logs = train(tiny_settings(tmp_path, dtype_policy="mixed_bfloat16"))
    assert keras.mixed_precision.dtype_policy().name == "float32"  # the global policy is restored
    assert model.get_layer("decoder").compute_dtype == "bfloat16"
    assert all(w.dtype == "float32" for w in model.trainable_weights)
    assert np.isfinite(logs["loss"]).all() and logs["loss"][1] < logs["loss"][0]
    reloaded, _, _ = load_run(str(tmp_path))
    assert reloaded.get_layer("decoder").compute_dtype == "bfloat16"
    with open(tmp_path / RUN_FILE) as f:
        assert json.load(f)["dtype_policy"] == "mixed_bfloat16"
    with pytest.raises(ValueError, match=r"holds another run \(different dtype_policy\)"):
        train(tiny_settings(tmp_path, dtype_policy="float32"))
    _, _, _, again = train(tiny_settings(tmp_path))  # not given: the recorded policy, a finished run reopened
    assert again == {}


def test_a_run_file_from_before_dtype_policy_still_resumes(tmp_path):
    train(tiny_settings(tmp_path, epochs=1))
    path = tmp_path / RUN_FILE
    settings = json.loads(path.read_text())
    del settings["dtype_policy"]  # as written by older versions
    path.write_text(json.dumps(settings))
    _, _, _, logs = train(tiny_settings(tmp_path, epochs=1))  # finished: reopened, not refused
    assert logs == {}


def test_an_unknown_policy_fails_before_anything_is_written(tmp_path):
    output = tmp_path / "run"
    with pytest.raises(ValueError, match="dtype_policy must be auto or one of float32, mixed_bfloat16, mixed_float16"):
        train(tiny_settings(output, dtype_policy="bfloat16"))
    assert not os.path.exists(output)
