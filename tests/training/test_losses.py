import keras
import numpy as np
import pytest

from s2s_keras.training import MaskedAccuracy, MaskedSparseCategoricalCrossentropy, masked_accuracy, masked_loss

Y_TRUE = np.array([[4, 5, 3, 0], [6, 3, 0, 0]], "int32")
LOGITS = np.random.default_rng(0).normal(size=(2, 4, 7)).astype("float32")


def log_softmax(x):
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def test_masked_loss_is_the_mean_over_real_tokens():
    log_probs = log_softmax(LOGITS)
    real = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    expected = -np.mean([log_probs[b, t, Y_TRUE[b, t]] for b, t in real])
    np.testing.assert_allclose(float(masked_loss()(Y_TRUE, LOGITS)), expected, rtol=1e-6)


def test_padding_logits_never_matter():
    changed = LOGITS.copy()
    changed[Y_TRUE == 0] = 100.0
    loss = masked_loss(label_smoothing=0.1)
    np.testing.assert_allclose(float(loss(Y_TRUE, changed)), float(loss(Y_TRUE, LOGITS)), rtol=1e-6)


def test_label_smoothing_matches_the_formula():
    eps, log_probs = 0.2, log_softmax(LOGITS)
    real = [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    expected = np.mean(
        [-(1 - eps) * log_probs[b, t, Y_TRUE[b, t]] - eps * log_probs[b, t].mean() for b, t in real]
    )
    np.testing.assert_allclose(float(masked_loss(label_smoothing=eps)(Y_TRUE, LOGITS)), expected, rtol=1e-6)


@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_gradient_is_softmax_minus_the_smoothed_target_over_real_tokens(eps):
    import tensorflow as tf

    logits = tf.constant(LOGITS)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = masked_loss(label_smoothing=eps)(Y_TRUE, logits)
    probs = np.exp(log_softmax(LOGITS))
    target = np.eye(LOGITS.shape[-1])[Y_TRUE] * (1 - eps) + eps / LOGITS.shape[-1]
    mask = (Y_TRUE != 0)[..., None]
    expected = (probs - target) * mask / mask.sum()
    np.testing.assert_allclose(np.asarray(tape.gradient(loss, logits)), expected, atol=1e-6)


def test_all_padding_gives_zero_not_nan():
    assert float(masked_loss()(np.zeros((1, 3), "int32"), LOGITS[:1, :3])) == 0.0


def test_sample_weight_weighs_sequences():
    loss = masked_loss()
    only_first = float(loss(Y_TRUE, LOGITS, sample_weight=np.array([1.0, 0.0])))
    np.testing.assert_allclose(only_first, float(loss(Y_TRUE[:1], LOGITS[:1])), rtol=1e-6)


def test_loss_serializes():
    loss = MaskedSparseCategoricalCrossentropy(label_smoothing=0.1)
    clone = keras.losses.deserialize(keras.losses.serialize(loss))
    assert clone.label_smoothing == 0.1
    with pytest.raises(ValueError, match="label_smoothing"):
        masked_loss(label_smoothing=1.0)


def test_masked_accuracy_counts_real_tokens_only():
    logits = np.full((2, 4, 7), -5.0, "float32")
    for b, t, v in [(0, 0, 4), (0, 1, 1), (0, 2, 3), (0, 3, 2), (1, 0, 6), (1, 1, 1), (1, 2, 2), (1, 3, 2)]:
        logits[b, t, v] = 5.0  # right on (0,0), (0,2), (1,0); wrong on (0,1), (1,1); padding ignored
    metric = MaskedAccuracy()
    metric.update_state(Y_TRUE, logits)
    np.testing.assert_allclose(float(metric.result()), 3 / 5)
    np.testing.assert_allclose(float(masked_accuracy(Y_TRUE, logits)), 3 / 5)
    metric.update_state(Y_TRUE[1:], logits[1:])  # 1 of 2 more
    np.testing.assert_allclose(float(metric.result()), 4 / 7)
