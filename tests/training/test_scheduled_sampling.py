import keras
import numpy as np
import pytest

import s2s_keras as s2s
from s2s_keras.training import ScheduledSampling, inverse_sigmoid_schedule, linear_schedule, mix_predictions

VOCAB = 12


def model_and_data():
    model = s2s.build_model("gru_attention", source_vocab_size=VOCAB, target_vocab_size=VOCAB, units=16, embedding_dim=8, dropout=0.0)
    x, y = s2s.data.pad_pairs(s2s.data.toy_pairs("reverse", 32, 2, 7, VOCAB, seed=0))
    return model, x, y


def test_probability_one_feeds_every_prediction_and_keeps_start_and_padding():
    model, x, y = model_and_data()
    mixed, _ = mix_predictions(model, (x, y), 1.0)
    predictions = np.argmax(model(x).numpy(), axis=-1)
    target_in = x["target_in"]
    expected = np.where(target_in == 0, 0, np.concatenate([target_in[:, :1], predictions[:, :-1]], axis=1))
    np.testing.assert_array_equal(mixed["target_in"], expected)
    np.testing.assert_array_equal(mixed["source"], x["source"])


def test_probability_zero_changes_nothing_and_a_half_changes_about_half():
    model, x, y = model_and_data()
    unchanged, _ = mix_predictions(model, (x, y), 0.0)
    np.testing.assert_array_equal(unchanged["target_in"], x["target_in"])
    target_in = x["target_in"]
    predictions = np.argmax(model(x).numpy(), axis=-1)
    shifted = np.concatenate([target_in[:, :1], predictions[:, :-1]], axis=1)
    eligible = (target_in != 0) & (np.arange(target_in.shape[1]) > 0) & (shifted != target_in)
    mixed, _ = mix_predictions(model, (x, y), 0.5, seed=3)
    replaced = (np.asarray(mixed["target_in"]) != target_in)[eligible].mean()
    assert 0.3 < replaced < 0.7


def test_fit_with_the_callback_follows_the_schedule_and_is_off_afterwards():
    model, x, y = model_and_data()
    model.compile(optimizer="adam", loss=s2s.losses.masked_loss())
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, callbacks=[ScheduledSampling(linear_schedule(0.0, 0.5, 2))])
    assert history.history["scheduled_sampling"] == [0.0, 0.5]
    assert np.all(np.isfinite(history.history["loss"]))
    assert model._train_batch_transform is None  # the next fit is plain teacher forcing


def test_probability_zero_trains_exactly_like_teacher_forcing_and_one_does_not():
    losses = []
    for callbacks in ([], [ScheduledSampling(0.0)], [ScheduledSampling(1.0)]):
        keras.utils.set_random_seed(5)
        model, x, y = model_and_data()
        model.compile(optimizer="adam", loss=s2s.losses.masked_loss())
        losses.append(model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False, callbacks=callbacks).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    # fed its own predictions, the same model on the same batches sees other inputs: other losses
    assert np.abs(np.array(losses[2]) - np.array(losses[0])).max() > 1e-4  # 40x the tolerance above


def test_schedules_and_bad_values():
    assert linear_schedule(0.0, 0.3, 4)(3) == pytest.approx(0.3)
    assert linear_schedule(0.0, 0.3, 4)(10) == pytest.approx(0.3)
    schedule = inverse_sigmoid_schedule(5)
    assert 0.0 < schedule(0) < schedule(10) < schedule(40) <= 1.0
    model, x, y = model_and_data()
    model.compile(optimizer="adam", loss=s2s.losses.masked_loss())
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ScheduledSampling(1.5)])
    with pytest.raises(ValueError, match="Seq2SeqModel"):
        ScheduledSampling(0.1).set_model(keras.Sequential([keras.layers.Dense(1)]))
