"""Small helpers for masking scores in any floating dtype."""

from keras import ops


def large_negative(dtype):
    """A large negative score that softmax turns into exactly 0, safe in `dtype`.

    float16 cannot hold -1e9, so it gets -65000 (exp underflows to 0 all the same).
    """
    value = -6.5e4 if str(dtype) == "float16" else -1e9
    return ops.cast(value, dtype)
