"""Fault tolerance: a run killed with SIGKILL resumes to the same weights as an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from s2s_keras.data import EpochOrder, make_dataset
from s2s_keras.data.char_tokenizer import CharTokenizer
from s2s_keras.training.backup import ResumableBackup

TRAIN = [sys.executable, "-m", "s2s_keras.cli", "train", "gru_attention", "--data", "task:reverse",
         "--tokenizer", "char", "--task-size", "480", "--batch-size", "16", "--epochs", "2",
         "--set", "units=32", "--set", "embedding_dim=16", "--save-every", "4", "--deterministic"]


def _pairs(n=40):
    return [(f"{i} {'x' * (i % 7)}", f"{'y' * (i % 5)} {i}") for i in range(n)]


def _batches(dataset):
    return [inputs["source"].numpy().tolist() for inputs, _ in dataset]


def test_epoch_order_depends_on_the_epoch_alone_and_skips_batches():
    pairs = _pairs()
    tokenizer = CharTokenizer.from_texts([s for p in pairs for s in p])
    order = EpochOrder(seed=3)
    dataset = make_dataset(pairs, tokenizer, tokenizer, batch_size=4, max_length=16, order=order, log=False)
    passes = []
    for epoch in range(3):
        order.start(epoch)
        passes.append(_batches(dataset))
    assert passes[0] != passes[1] != passes[2]
    order.start(1)  # epoch 1 again, after other passes: the same order
    assert _batches(dataset) == passes[1]
    order.start(1, skip_batches=4)
    assert _batches(dataset) == passes[1][4:]
    fresh = EpochOrder(seed=3)  # another process at epoch 2: the same order
    fresh.start(2)
    assert _batches(make_dataset(pairs, tokenizer, tokenizer, batch_size=4, max_length=16, order=fresh,
                                 log=False)) == passes[2]
    with pytest.raises(ValueError, match=">= 0"):
        order.start(-1)


def _tiny_model(units):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(units), keras.layers.Dropout(0.5),
                              keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return model


def test_backup_restores_weights_optimizer_and_position_and_rejects_another_model(tmp_path):
    x, y = np.ones((8, 3), "float32"), np.ones((8, 1), "float32")
    model = _tiny_model(4)
    backup = ResumableBackup(str(tmp_path), save_freq=1)
    backup.set_model(model)
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    backup._save(epoch=2, batches_done=5)
    restored = _tiny_model(4)
    again = ResumableBackup(str(tmp_path))
    again.set_model(restored)
    again.on_train_begin()
    assert restored._initial_epoch == 2 and again._skipped == 5
    for a, b in zip(model.variables + model.optimizer.variables, restored.variables + restored.optimizer.variables):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert int(restored.optimizer.iterations) == 2
    other = ResumableBackup(str(tmp_path))
    other.set_model(_tiny_model(5))
    with pytest.raises(ValueError, match="cannot be restored.*another model"):
        other.on_train_begin()


def _position(path):
    try:
        with np.load(path) as state:
            return tuple(int(v) for v in state["position"])
    except (OSError, ValueError, KeyError):  # not there yet
        return None


def _final_weights(output):
    model = keras.saving.load_model(os.path.join(output, "model.keras"))
    return [np.asarray(v) for v in model.weights]  # the seed generators restart on loading


@pytest.mark.slow
def test_a_run_killed_mid_epoch_ends_identical_to_an_uninterrupted_one(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    whole, killed = str(tmp_path / "whole"), str(tmp_path / "killed")
    subprocess.run(TRAIN + ["--output", whole], env=env, check=True, capture_output=True, timeout=300)

    process = subprocess.Popen(TRAIN + ["--output", killed], env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    state = os.path.join(killed, "backup", "state.npz")
    deadline = time.time() + 240
    try:
        while time.time() < deadline and process.poll() is None:  # kill in epoch 2, after a backup in it
            position = _position(state)
            if position and position[0] == 1 and position[1] > 0:
                break
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        process.kill()
    position = _position(state)
    assert position is not None and position[0] == 1 and position[1] > 0, position  # killed mid-epoch 2
    assert not os.path.exists(os.path.join(killed, "model.keras"))

    resumed = subprocess.run(TRAIN + ["--output", killed], env=env, check=True, capture_output=True, text=True,
                             timeout=300)
    assert f"Resuming from the backup: epoch 2, after {position[1]} batches" in resumed.stdout
    for a, b in zip(_final_weights(whole), _final_weights(killed), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not os.path.exists(os.path.join(killed, "backup"))
