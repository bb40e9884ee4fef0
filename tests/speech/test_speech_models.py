"""Speech models keep the inference contract: padded = unpadded, step = full, beam 1 = greedy, reloaded = original."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.decoding import BeamSearch, GreedySearch, decode
from s2s_keras.layers import ConvSubsampling, PyramidalRNNEncoder, SpecAugment, SpeechFrontEnd
from s2s_keras.models import build_model, inference_copy, model_source_kind

TINY = {
    "las": dict(units=16, embedding_dim=8, num_layers=3, reductions=2, num_mel_bins=20),
    "speech_transformer": dict(d_model=16, num_heads=2, intermediate_dim=32, filters=4, num_encoder_layers=1,
                               num_decoder_layers=1, num_mel_bins=20),
}


def waveforms(batch=3, samples=4000, seed=0):
    rng = np.random.default_rng(seed)
    audio = (0.1 * rng.normal(size=(batch, samples))).astype("float32")
    lengths = np.linspace(samples, samples // 3, batch).astype(int)
    for row, length in enumerate(lengths):
        audio[row, length:] = 0.0
    return audio, lengths


@pytest.fixture(scope="module", params=sorted(TINY))
def model(request):
    keras.utils.set_random_seed(1)
    return build_model(request.param, target_vocab_size=12, **TINY[request.param])


def test_registry_knows_speech_models():
    assert model_source_kind("las") == "audio" and model_source_kind("gru_attention") == "tokens"
    with pytest.raises(ValueError, match="takes no source vocabulary"):
        build_model("las", source_vocab_size=10, target_vocab_size=12)
    with pytest.raises(ValueError, match="source_vocab_size"):
        build_model("gru_attention", target_vocab_size=12)


def test_padded_batch_equals_each_utterance_alone(model):
    audio, lengths = waveforms()
    target_in = np.array([[2, 5, 6, 7]] * 3, "int32")
    batch_logits = model({"source": audio, "target_in": target_in})
    for row, length in enumerate(lengths):
        alone = model({"source": audio[row:row + 1, :length], "target_in": target_in[row:row + 1]})
        np.testing.assert_allclose(batch_logits[row], alone[0], atol=1e-4)


def test_decode_step_equals_full_call(model):
    audio, _ = waveforms()
    target_in = np.array([[2, 5, 6, 7, 8]] * 3, "int32")
    full = model({"source": audio, "target_in": target_in})
    memory = model.encode(audio)
    state = model.initial_state(memory, max_length=8)
    steps = []
    for t in range(target_in.shape[1]):
        logits, state = model.decode_step(target_in[:, t], state, memory, step=t)
        steps.append(logits)
    np.testing.assert_allclose(np.stack(steps, axis=1), full, atol=1e-4)


def test_searches_run_on_waveforms(model):
    audio, _ = waveforms()
    greedy = decode(model, audio, GreedySearch(max_length=6))
    beam_one = decode(model, audio, BeamSearch(beam_size=1, max_length=6))
    np.testing.assert_array_equal(greedy.ids, beam_one.ids)
    beam = decode(model, audio, BeamSearch(beam_size=3, n_best=2, max_length=6, alignment_history=True))
    steps = model.encode(audio)["mask"].shape[1]
    assert beam.ids.shape == (3, 2, 6) and beam.alignments.shape == (3, 2, 6, steps)


def test_reloaded_equals_original(model, tmp_path):
    audio, _ = waveforms()
    target_in = np.array([[2, 5, 6]] * 3, "int32")
    model.save(tmp_path / "speech.keras")
    reloaded = keras.saving.load_model(tmp_path / "speech.keras")
    np.testing.assert_allclose(reloaded({"source": audio, "target_in": target_in}),
                               model({"source": audio, "target_in": target_in}), atol=1e-6)
    assert reloaded.sample_rate == 8000


def test_front_end_features_are_normalised_and_masked():
    front_end = SpeechFrontEnd(sample_rate=8000, num_mel_bins=20)
    audio, lengths = waveforms(samples=8000)
    features, mask = front_end(audio)
    frames = mask.numpy().sum(axis=1)
    np.testing.assert_array_equal(frames, [front_end.frames(n) for n in lengths])
    for row, count in enumerate(frames):
        valid = features[row, :count].numpy()
        np.testing.assert_allclose(valid.mean(axis=0), 0.0, atol=1e-4)
        np.testing.assert_allclose(valid.std(axis=0), 1.0, atol=1e-2)
        assert not features[row, count:].numpy().any()
    empty_features, empty_mask = front_end(np.zeros((1, 50), "float32"))  # shorter than a frame
    assert empty_mask.numpy().tolist() == [[True]] and not empty_features.numpy().any()


def test_spec_augment_masks_only_while_training():
    augment = SpecAugment(freq_masks=2, freq_mask_width=5, time_masks=2, time_mask_width=10, time_mask_ratio=0.5,
                          seed=3)
    features = np.ones((4, 60, 20), "float32")
    np.testing.assert_array_equal(augment(features), features)
    masked = augment(features, training=True).numpy()
    assert 0 < (masked == 0).mean() < 0.6
    zero_bins = (masked == 0).all(axis=1)  # (batch, bins): bins masked over every frame
    assert (zero_bins.sum(axis=1) <= 10).all()
    with pytest.raises(ValueError, match="freq_masks"):
        SpecAugment(freq_masks=-1)


def test_encoders_subsample_the_mask():
    mask = np.arange(40)[None] < np.array([[40], [13]])
    (outputs, _), out_mask = PyramidalRNNEncoder("gru", units=8, num_layers=3, reductions=2)(
        np.ones((2, 40, 4), "float32"), mask=mask)
    assert outputs.shape == (2, 10, 8) and out_mask.numpy().sum(axis=1).tolist() == [10, 4]
    _, conv_mask = ConvSubsampling(d_model=8, filters=2)(np.ones((2, 40, 20), "float32"), mask=mask)
    assert conv_mask.numpy().sum(axis=1).tolist() == [9, 2]  # ((L - 3) // 2 - 2) // 2 + 1
    with pytest.raises(ValueError, match="reductions"):
        PyramidalRNNEncoder(num_layers=2, reductions=2)


@pytest.mark.parametrize("name", sorted(TINY))
def test_bfloat16_keeps_front_end_logits_and_loss_float32(name):
    keras.mixed_precision.set_dtype_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        model = build_model(name, target_vocab_size=12, **TINY[name])
    finally:
        keras.mixed_precision.set_dtype_policy("float32")
    assert model.get_layer("source_embedding").compute_dtype == "float32"
    assert model.get_layer("decoder").compute_dtype == "bfloat16"
    audio, _ = waveforms()
    x = {"source": audio, "target_in": np.array([[2, 5, 6]] * 3, "int32")}
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    assert model(x).dtype == "float32"
    loss = model.fit(x, np.array([[5, 6, 3]] * 3, "int32"), epochs=1, verbose=0).history["loss"][0]
    assert np.isfinite(loss)


def test_inference_copies_keep_the_front_end_float32_and_bfloat16_weights_give_the_mixed_logits():
    keras.utils.set_random_seed(2)
    transformer = build_model("speech_transformer", target_vocab_size=12, **TINY["speech_transformer"])
    audio, _ = waveforms()
    x = {"source": audio, "target_in": np.array([[2, 5, 6]] * 3, "int32")}
    mixed, weights = inference_copy(transformer, "mixed_bfloat16"), inference_copy(transformer, "bfloat16")
    assert weights.get_layer("source_embedding").compute_dtype == "float32"
    np.testing.assert_array_equal(weights(x), mixed(x))
    las = build_model("las", target_vocab_size=12, **TINY["las"])
    expected = keras.ops.convert_to_numpy(las(x))
    int8 = keras.ops.convert_to_numpy(inference_copy(las, "int8")(x))
    assert 0 < np.abs(int8 - expected).max() < 0.05 * np.abs(expected).max()
