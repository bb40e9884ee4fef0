import keras
import numpy as np
import pytest

from s2s_keras.training import NoamSchedule


def test_noam_warms_up_linearly_then_decays_as_inverse_square_root():
    schedule = NoamSchedule(d_model=256, warmup_steps=100, scale=2.0)
    rates = np.array([float(schedule(step)) for step in range(1000)])
    n = np.arange(1, 1001)
    expected = 2.0 * 256**-0.5 * np.minimum(n**-0.5, n * 100**-1.5)
    np.testing.assert_allclose(rates, expected, rtol=1e-6)
    assert rates.argmax() == 99  # n = warmup_steps
    np.testing.assert_allclose(rates[99], 2.0 / np.sqrt(256 * 100), rtol=1e-6)
    np.testing.assert_allclose(rates[399] / rates[99], 0.5, rtol=1e-6)  # 4x the steps, half the rate


def test_noam_serializes_with_the_optimizer():
    schedule = NoamSchedule(d_model=64, warmup_steps=10)
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert isinstance(restored, NoamSchedule)
    assert restored.get_config() == {"d_model": 64, "warmup_steps": 10, "scale": 1.0}
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(keras.optimizers.Adam(schedule)))
    assert optimizer.get_config()["learning_rate"]["class_name"] == "NoamSchedule"
    np.testing.assert_allclose(float(optimizer.learning_rate), float(schedule(0)), rtol=1e-6)


def test_noam_rejects_bad_arguments():
    with pytest.raises(ValueError, match="warmup_steps=0"):
        NoamSchedule(d_model=64, warmup_steps=0)
    with pytest.raises(ValueError, match="scale=-1"):
        NoamSchedule(d_model=64, scale=-1)
