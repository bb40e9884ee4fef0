"""tf.distribute strategies by name, for `train(strategy=...)` and `s2s-keras train --strategy`.

    "mirrored"      `tf.distribute.MirroredStrategy` over this machine's GPUs, or over its
                    logical CPU devices when it has no GPU (one replica per device).
    "multi-worker"  `tf.distribute.MultiWorkerMirroredStrategy`; the cluster and this
                    process's role come from the `TF_CONFIG` environment variable.

Batches are global: a batch of the training dataset is split between the
replicas (and workers), and the gradients are averaged, so a run on N replicas
takes the same steps as a run on one, up to float rounding.
"""

import functools
import json
import os

import tensorflow as tf

STRATEGIES = ("mirrored", "multi-worker")


@functools.lru_cache(maxsize=None)
def make_strategy(name):
    """The strategy called `name` (one of `STRATEGIES`), or None for `None`.

    A process makes each strategy once and reuses it (TensorFlow allows one
    multi-worker strategy per process, and two mirrored ones would share
    collective-op keys).

    Args:
        name: "mirrored", "multi-worker" or None.

    Returns:
        A `tf.distribute.Strategy`, or None.

    Example:
    >>> strategy = make_strategy("mirrored")  # doctest: +SKIP
    >>> with strategy.scope():  # doctest: +SKIP
    ...     model = build_model("gru_attention", source_vocab_size=8000, target_vocab_size=8000)
    ...     model.compile(optimizer="adam", loss=masked_loss())
    """
    if name is None:
        return None
    if name == "mirrored":
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])
    if name == "multi-worker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("The multi-worker strategy needs the TF_CONFIG environment variable (the cluster "
                             "and this worker's task), e.g. '{\"cluster\": {\"worker\": [\"host1:2222\", "
                             "\"host2:2222\"]}, \"task\": {\"type\": \"worker\", \"index\": 0}}'.")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"Unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}.")


def is_chief(strategy=None):
    """Whether this process writes the run's files: always, except on non-chief workers.

    The chief is the `chief` task or, when the cluster has none, worker 0.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return True
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    task = config.get("task", {})
    if "chief" in config.get("cluster", {}):
        return task.get("type") == "chief"
    return task.get("type", "worker") == "worker" and int(task.get("index", 0)) == 0


def distribute_options(dataset, strategy=None):
    """Shards a dataset by batch between workers (there is often a single data file to shard by)."""
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return dataset.with_options(options)
