"""Runs one training process for the distribution tests and prints a JSON line of results.

    python distributed_run.py mirrored OUTPUT          # 2 logical CPU devices, every registered model
    python distributed_run.py single OUTPUT MODEL      # one device, the reference run
    python distributed_run.py multi-worker OUTPUT MODEL [--all-models]
        # one worker; the cluster comes from TF_CONFIG. With --all-models it then also trains
        # the other decoder kind (`one_per_architecture`) for one step under the same
        # MultiWorkerMirroredStrategy.
"""

import contextlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

STEPS_DATA = dict(data="task:reverse", tokenizer="char", task_size=320, batch_size=32, epochs=1, seed=1)
TINY = {"units": 16, "embedding_dim": 8}
COMPARED = ("gru_attention", "transformer_tiny")  # also trained on one device, to compare


def one_per_architecture():
    """The decoder kind that the main run (`gru_attention`, a recurrent decoder) does not cover: the Transformer.
    Cells, attention kinds and sizes add no code path under a strategy (the Mirrored test trains every
    registered model)."""
    return ["transformer_tiny"]


def _settings(model, output, strategy, **extra):
    from s2s_keras.training.settings import TrainSettings

    overrides = {"dropout": 0.0} if model.startswith("transformer") else {**TINY, "dropout": 0.0}
    return TrainSettings(model=model, output=output, strategy=strategy, overrides=overrides,
                         deterministic=True, dtype_policy="float32", **{**STEPS_DATA, **extra})


def _loss_on_first_batch(model, source_tokenizer, target_tokenizer):
    """The model's masked loss on a fixed batch, the same in every process."""
    from s2s_keras.data import make_dataset, task_source
    from s2s_keras.training.losses import masked_loss

    batch = make_dataset(task_source("reverse", 64, seed=7), source_tokenizer, target_tokenizer, batch_size=64,
                         max_length=100, shuffle=False, log=False)
    inputs, target_out = next(iter(batch))
    return float(masked_loss()(target_out, model(inputs, training=False)))


def _every_model_under(strategy, names=None, compared=COMPARED, batches=2, eager=True):
    """Builds, compiles and fits each of `names` (default: every registered model) on a global batch of 4
    under `strategy`.

    Returns the replicas and, per model, the losses under the strategy and, for the
    `compared` ones (trained on `batches` batches), on one device from the same initial weights.
    """
    from s2s_keras.models import build_model, list_models, model_source_kind
    from s2s_keras.training.distribute import distribute_options
    from s2s_keras.training.losses import masked_loss

    rng = np.random.default_rng(0)
    source = rng.integers(1, 20, (8, 7)).astype("int32")
    target = rng.integers(3, 20, (8, 6)).astype("int32")
    source[:, 5:] = 0  # padding
    target[:4, 4:] = 0
    dataset = tf.data.Dataset.from_tensor_slices(({"source": source, "target_in": target}, target)).batch(4)
    # One batch is enough to build, compile and train; a compared model takes a second so that its
    # logged loss depends on the first update. (Each further batch also costs seconds of waiting in
    # eager distributed iteration, which dominates this test's time.)
    datasets = {n: distribute_options(dataset.take(n), strategy) for n in {1, batches}}
    results = {"replicas": strategy.num_replicas_in_sync}
    for name in names or [n for n in list_models() if model_source_kind(n) == "tokens"]:  # text batches
        overrides = {"dropout": 0.0} if name.startswith("transformer") else {**TINY, "dropout": 0.0}
        if name == "transformer":  # its defaults with 2 + 2 blocks: the code paths do not depend on depth
            overrides.update(num_encoder_layers=2, num_decoder_layers=2)
        losses = {}
        scopes = [("strategy", strategy.scope())]
        if name in compared:
            scopes.append(("one_device", contextlib.nullcontext()))
        for label, scope in scopes:
            keras.utils.set_random_seed(0)  # the same initial weights for both
            with scope:
                model = build_model(name, source_vocab_size=20, target_vocab_size=20, **overrides)
                model.compile(optimizer=keras.optimizers.Adam(1e-4), loss=masked_loss(), run_eagerly=eager)
            steps = batches if name in compared else 1
            losses[label] = model.fit(datasets[steps], epochs=1, verbose=0).history["loss"]
        results[name] = losses
    return results


def main():
    mode, output = sys.argv[1], sys.argv[2]
    from s2s_keras.training.distribute import make_strategy
    from s2s_keras.training.run import train

    if mode == "mirrored":
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        print("RESULT " + json.dumps(_every_model_under(make_strategy("mirrored"), sys.argv[3:])))
        return
    name = sys.argv[3]
    model, src, tgt, logs = train(_settings(name, output, None if mode == "single" else mode))
    weights = [np.asarray(w) for w in model.weights]
    result = {"loss": _loss_on_first_batch(model, src, tgt), "train_loss": logs["loss"],
              "weight_norm": float(sum(np.sum(w.astype("float64") ** 2) for w in weights))}
    if "--all-models" in sys.argv:
        result["every_model"] = _every_model_under(make_strategy(mode), names=one_per_architecture(), compared=())
    print("RESULT " + json.dumps(result))


if __name__ == "__main__":
    main()
