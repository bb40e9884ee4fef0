"""The best epoch is kept: `KeepBestEpoch`, `train(keep="best")`, `--patience`, BLEU and curves in the run."""

import json
import os

import keras
import numpy as np
import pytest

from s2s_keras.training.callbacks import KeepBestEpoch, read_best_epoch
from s2s_keras.training.run import train
from s2s_keras.training.run_folder import CURVES_FILE, load_run
from s2s_keras.training.settings import TrainSettings


class SpoilFrom(keras.callbacks.Callback):
    """Scrambles the weights after every training batch from epoch `first` (1-based) on, so the validation
    loss of those epochs is far worse than before: the best epoch is not the last."""

    def __init__(self, first):
        super().__init__()
        self.first, self.epoch = first, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch >= self.first:
            rng = np.random.default_rng(batch)
            for weight in self.model.trainable_weights:
                weight.assign(weight.numpy() + rng.normal(0, 0.5, weight.shape).astype(weight.dtype))


def _tiny(output, **changes):
    return TrainSettings(**{**dict(model="gru_attention", data="task:dates", output=str(output), tokenizer="char",
                                   epochs=3, batch_size=32, task_size=300, dtype_policy="float32", bleu_sample=20,
                                   overrides={"units": 16, "embedding_dim": 8}), **changes})


def _weights(path, like):
    model = keras.models.clone_model(like)
    model.load_weights(path)
    return model.get_weights()


def test_the_saved_model_holds_the_epoch_with_the_lowest_validation_loss(tmp_path):
    model, _, _, logs = train(_tiny(tmp_path), callbacks=[SpoilFrom(3)])
    losses = logs["val_loss"]
    best = int(np.argmin(losses)) + 1
    assert best < 3 and losses[2] > losses[best - 1]
    record = read_best_epoch(str(tmp_path / "checkpoints"))
    assert record["epoch"] == best and record["val_loss"] == pytest.approx(losses[best - 1])
    saved, _, _ = load_run(str(tmp_path))
    expected = _weights(str(tmp_path / "checkpoints" / f"epoch-{best:03d}.weights.h5"), saved)
    last = _weights(str(tmp_path / "checkpoints" / "epoch-003.weights.h5"), saved)
    for got, want in zip(saved.get_weights(), expected):
        np.testing.assert_array_equal(got, want)
    assert any(not np.array_equal(a, b) for a, b in zip(saved.get_weights(), last))
    # the run reports validation BLEU/chrF each epoch and draws its curves
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history[0]["val_bleu"]) == 3 and len(history[0]["val_chrf"]) == 3
    assert all(0 <= v <= 100 for v in history[0]["val_bleu"] + history[0]["val_chrf"])
    assert os.path.getsize(tmp_path / CURVES_FILE) > 1000


def test_keep_last_keeps_the_last_weights_and_patience_stops_on_a_plateau(tmp_path):
    model, _, _, logs = train(_tiny(tmp_path / "last", keep="last", bleu_sample=0), callbacks=[SpoilFrom(3)])
    saved, _, _ = load_run(str(tmp_path / "last"))
    last = _weights(str(tmp_path / "last" / "checkpoints" / "epoch-003.weights.h5"), saved)
    for got, want in zip(saved.get_weights(), last):
        np.testing.assert_array_equal(got, want)
    _, _, _, logs = train(_tiny(tmp_path / "patient", epochs=8, patience=2, bleu_sample=0), callbacks=[SpoilFrom(2)])
    assert len(logs["val_loss"]) == 3  # epoch 1 the best, 2 and 3 worse: stopped
    assert read_best_epoch(str(tmp_path / "patient" / "checkpoints"))["epoch"] == 1


def test_patience_without_validation_data_is_refused_before_anything_is_written(tmp_path):
    (tmp_path / "train.tsv").write_text("a\tb\n", encoding="utf-8")
    with pytest.raises(ValueError, match="--patience needs validation data"):
        train(TrainSettings(model="gru", data=str(tmp_path / "train.tsv"), output=str(tmp_path / "run"), patience=2))
    assert not os.path.exists(tmp_path / "run")


def test_keep_best_epoch_survives_a_restart_and_rejects_a_damaged_record(tmp_path):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    folder = str(tmp_path / "checkpoints")
    first = KeepBestEpoch(folder)
    first.set_model(model)
    first.on_epoch_end(0, {"val_loss": 2.0})
    first.on_epoch_end(1, {"val_loss": 1.0})
    first.on_epoch_end(2, {"val_loss": 1.5})
    assert read_best_epoch(folder)["epoch"] == 2
    assert sorted(os.listdir(folder)) == ["best-epoch-002.weights.h5", "best.json"]  # the older best is removed
    second = KeepBestEpoch(folder, patience=2)  # a resumed run compares against the record on disk
    second.set_model(model)
    second.on_epoch_end(3, {"val_loss": 1.2})
    assert read_best_epoch(folder)["epoch"] == 2 and model.stop_training
    with open(os.path.join(folder, "best.json"), "w") as f:
        f.write("{broken")
    with pytest.raises(ValueError, match="is damaged"):
        KeepBestEpoch(folder)
    with pytest.raises(ValueError, match="patience"):
        KeepBestEpoch(folder + "2", patience=0)
