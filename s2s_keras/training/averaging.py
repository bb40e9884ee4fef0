"""Checkpoint averaging: the mean of the last N checkpoints often translates better than the last."""

import numpy as np


def average_checkpoints(model, paths):
    """Sets `model`'s weights to the element-wise mean of the weight files `paths`.

    Args:
        model: a built model of the architecture the checkpoints were saved from.
        paths: `.weights.h5` files (e.g. `epoch_checkpoints(folder)[-5:]`).

    Returns:
        The model, with averaged weights.

    Raises:
        ValueError: without checkpoints, or when a checkpoint does not fit the model.

    Example:
    >>> average_checkpoints(model, epoch_checkpoints("runs/spa-eng/checkpoints")[-5:])  # doctest: +SKIP
    """
    paths = list(paths)
    if not paths:
        raise ValueError("No checkpoints to average.")
    total = None
    for path in paths:
        try:
            model.load_weights(path)
        except Exception as error:  # h5py and Keras raise various types for a mismatch
            raise ValueError(f"Checkpoint {path!r} does not fit the model: {str(error).splitlines()[0][:200]}") from None
        weights = [np.asarray(w, dtype="float64") for w in model.get_weights()]
        total = weights if total is None else [t + w for t, w in zip(total, weights)]
    dtypes = [w.dtype for w in model.get_weights()]
    model.set_weights([(t / len(paths)).astype(d) for t, d in zip(total, dtypes)])
    return model
