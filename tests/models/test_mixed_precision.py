"""Every registered model trains under mixed_float16 (loss scaling); each family under mixed_bfloat16.

XLA: tests/models/test_models.py::test_fit_with_jit_compile_matches_the_loss_without.
"""

import keras
import numpy as np
import pytest

from s2s_keras.models import build_model, list_models, model_source_kind
from s2s_keras.training.losses import masked_loss

VOCAB = 20


def _small(name):
    """Registered defaults, with fewer units or blocks for the big ones (sizes do not change code paths)."""
    if name == "transformer":
        return {"num_encoder_layers": 2, "num_decoder_layers": 2}
    return {} if name.startswith("transformer") else {"units": 16, "embedding_dim": 8}


def _batch():
    rng = np.random.default_rng(0)
    source = rng.integers(1, VOCAB, (8, 7)).astype("int32")
    target = rng.integers(3, VOCAB, (8, 6)).astype("int32")
    source[:3, 5:] = 0  # padding
    target[:4, 4:] = 0
    return {"source": source, "target_in": target}, target


@pytest.fixture
def policy(request):
    keras.mixed_precision.set_dtype_policy(request.param)
    try:
        yield request.param
    finally:
        keras.mixed_precision.set_dtype_policy("float32")


CASES = [(name, "mixed_float16") for name in list_models() if model_source_kind(name) == "tokens"] + [  # bf16: one per family (and test_transformer.py)
    ("gru_attention", "mixed_bfloat16"), ("lstm_luong", "mixed_bfloat16"), ("transformer_small", "mixed_bfloat16")]


@pytest.mark.parametrize("name, policy", CASES, indirect=["policy"])
def test_mixed_precision_keeps_logits_and_loss_float32(name, policy):
    keras.utils.set_random_seed(0)
    model = build_model(name, source_vocab_size=VOCAB, target_vocab_size=VOCAB, **_small(name))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=masked_loss(label_smoothing=0.1), run_eagerly=True)
    if policy == "mixed_float16":
        assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)  # loss scaling
    assert model.get_layer("decoder").compute_dtype == policy.split("_")[1]
    x, y = _batch()
    assert model(x).dtype == "float32"
    losses = model.fit(x, y, batch_size=4, epochs=1, verbose=0).history["loss"]
    assert all(np.isfinite(losses))
    assert all(w.dtype == "float32" for w in model.trainable_weights)  # variables stay float32
    memory = model.encode(x["source"])
    logits, _ = model.decode_step(x["target_in"][:, 0], model.initial_state(memory, 6), memory, 0)
    assert logits.dtype == "float32"
