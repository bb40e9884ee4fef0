"""The CTC loss beside the decoder's: TensorFlow's own CTC per token, padding-free, training only, never infinite."""

import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.layers import CTCAuxiliaryLoss
from s2s_keras.models import build_model

VOCAB, START, PAD = 7, 2, 0


def layer_and_inputs(seed=0):
    rng = np.random.default_rng(seed)
    layer = CTCAuxiliaryLoss(vocab_size=VOCAB, weight=0.5)
    encoder_result = rng.normal(size=(2, 9, 5)).astype("float32")
    mask = np.arange(9)[None] < np.array([[9], [6]])  # (batch, steps)
    target_in = np.array([[START, 4, 5, 5, 6], [START, 6, 6, PAD, PAD]], "int32")
    return layer, encoder_result, mask, target_in


def test_loss_is_tensorflows_ctc_per_token_times_weight():
    layer, encoder_result, mask, target_in = layer_and_inputs()
    layer(encoder_result, mask, target_in, training=True)
    logits = layer.projection(encoder_result)  # (batch, steps, VOCAB + 1), blank last
    reference = [
        tf.nn.ctc_loss(labels=target_in[row:row + 1, 1:1 + count], logits=logits[row:row + 1, :steps],
                       label_length=[count], logit_length=[steps], logits_time_major=False, blank_index=-1)[0] / count
        for row, (count, steps) in enumerate(((4, 9), (2, 6)))
    ]
    np.testing.assert_allclose(float(layer.losses[0]), 0.5 * np.mean(reference), rtol=1e-5)


def test_passes_the_encoder_result_on_and_adds_nothing_at_inference():
    layer, encoder_result, mask, target_in = layer_and_inputs()
    np.testing.assert_array_equal(layer(encoder_result, mask, target_in), encoder_result)
    assert layer.losses == []


def test_utterance_too_short_for_its_transcript_adds_zero_not_infinity():
    layer, encoder_result, _, target_in = layer_and_inputs()
    too_short = np.arange(9)[None] < np.array([[9], [2]])  # row 1: two steps for 6 _ 6
    layer(encoder_result, too_short, target_in, training=True)
    row_0 = float(layer.ctc_loss(encoder_result[:1], too_short[:1], target_in[:1]))
    assert np.isfinite(float(layer.losses[0]))
    np.testing.assert_allclose(float(layer.losses[0]), 0.5 * (row_0 + 0.0) / 2, rtol=1e-5)


def test_weight_must_be_positive():
    with pytest.raises(ValueError, match="weight"):
        CTCAuxiliaryLoss(vocab_size=VOCAB, weight=0.0)


def test_speech_transformer_trains_with_ctc_and_las_without():
    tiny = dict(num_mel_bins=20)
    transformer = build_model("speech_transformer", target_vocab_size=12, d_model=16, num_heads=2,
                              intermediate_dim=32, filters=4, num_encoder_layers=1, num_decoder_layers=1, **tiny)
    las = build_model("las", target_vocab_size=12, units=16, embedding_dim=8, num_layers=2, reductions=1, **tiny)
    assert transformer.get_layer("ctc").weight == 0.3
    assert "ctc" not in [layer.name for layer in las.layers]
    off = build_model("speech_transformer", target_vocab_size=12, d_model=16, num_heads=2, intermediate_dim=32,
                      filters=4, num_encoder_layers=1, num_decoder_layers=1, ctc_weight=0, **tiny)
    assert "ctc" not in [layer.name for layer in off.layers]
