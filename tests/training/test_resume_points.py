"""A run stopped at any point resumes to the same weights, bit for bit, as a run never stopped.

Each model trains two epochs on a TSV corpus with a WordPiece vocabulary built from it, backing up
every 4 batches. One run is never stopped; the other is stopped (an exception right after the callbacks of
that point, as a kill would leave it) and resumed after each stop by the same call. The Transformer is
stopped inside the first epoch before any backup, at a backup, at an epoch's end, and inside the second
epoch; the recurrent model, whose resuming differs only in its dropout, one batch
after a backup and inside the second epoch.
"""

import os

import keras
import numpy as np
import pytest

from s2s_keras.training.run import train
from s2s_keras.training.settings import TrainSettings

SAVE_EVERY, EPOCHS = 4, 2


class Stopped(Exception):
    pass


class StopAt(keras.callbacks.Callback):
    """Raises after the callbacks of global step `step` (counted by the restored optimizer) or of epoch `epoch`."""

    def __init__(self, step=None, epoch=None):
        super().__init__()
        self.step, self.epoch = step, epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.step is not None and int(self.model.optimizer.iterations) == self.step:
            raise Stopped(f"step {self.step}")

    def on_epoch_end(self, epoch, logs=None):
        if self.epoch is not None and epoch == self.epoch:
            raise Stopped(f"end of epoch {epoch}")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    rng = np.random.default_rng(0)
    words = ["casa", "perro", "gato", "rojo", "azul", "come", "duerme", "el", "la", "un", "muy", "grande"]
    lines = []
    for _ in range(150):
        sentence = " ".join(rng.choice(words, size=int(rng.integers(2, 7))))
        lines.append(f"{sentence}\t{' '.join(reversed(sentence.split()))}\n")
    path = tmp_path_factory.mktemp("corpus") / "train.tsv"
    path.write_text("".join(lines), encoding="utf-8")
    return str(path)


def settings(corpus, output, model, overrides):
    return TrainSettings(model=model, data=corpus, output=str(output), recipe="none", tokenizer="wordpiece",
                         vocab_size=60, batch_size=16, epochs=EPOCHS, overrides=overrides,
                         save_every=SAVE_EVERY, deterministic=True, bleu_sample=0, dtype_policy="float32")


def final_weights(output):
    model = keras.saving.load_model(os.path.join(output, "model.keras"))
    return [np.asarray(v) for v in model.weights]


MODELS = [
    ("gru_attention", {"units": 16, "embedding_dim": 8, "dropout": 0.1}, "few"),
    ("transformer_tiny", {"dropout": 0.1}, "all"),
]


@pytest.mark.slow
@pytest.mark.parametrize("model, overrides, stop_points", MODELS, ids=[name for name, *_ in MODELS])
def test_stopped_anywhere_and_resumed_ends_bit_identical(corpus, tmp_path, model, overrides, stop_points):
    _, _, _, logs = train(settings(corpus, tmp_path / "whole", model, overrides))
    steps_per_epoch = int(keras.saving.load_model(str(tmp_path / "whole" / "model.keras")).optimizer.iterations) // EPOCHS
    assert steps_per_epoch > 2 * SAVE_EVERY
    stops = [StopAt(step=3), StopAt(step=SAVE_EVERY), StopAt(epoch=0), StopAt(step=steps_per_epoch + 6)]
    if stop_points == "few":
        stops = [StopAt(step=SAVE_EVERY + 1), StopAt(step=steps_per_epoch + 6)]
    stopped = settings(corpus, tmp_path / "stopped", model, overrides)
    for stop in stops:
        with pytest.raises(Stopped):
            train(stopped, callbacks=[stop])
        assert os.path.exists(tmp_path / "stopped" / "backup") or stop.step == 3
    train(stopped)
    for whole, resumed in zip(final_weights(tmp_path / "whole"), final_weights(tmp_path / "stopped"), strict=True):
        np.testing.assert_array_equal(whole, resumed)
