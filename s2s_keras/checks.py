"""Argument checks shared by the whole package; the floor under every other module (imports nothing).

Each check returns the value it accepted and raises a `ValueError` in Keras's style,
"`name` must be … Received: name=value", naming the argument the caller got wrong.
"""


def check_positive_int(name, value, allow_none=False):
    """Returns `value` if it is a positive `int` (not a bool), or None when `allow_none`.

    Args:
        name: the argument's name, for the message.
        value: what the caller passed.
        allow_none: whether None is accepted (and returned).

    Returns:
        `value`.

    Example:
    >>> check_positive_int("beam_size", 4)
    4
    >>> check_positive_int("top_k", None, allow_none=True) is None
    True
    """
    if value is None and allow_none:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        expected = "a positive integer or None" if allow_none else "a positive integer"
        raise ValueError(f"`{name}` must be {expected}. Received: {name}={value!r}")
    return value


def check_rate(name, value):
    """Returns `value` as a float if it lies in [0, 1) (a dropout rate), else raises.

    Example:
    >>> check_rate("dropout", 0.1)
    0.1
    """
    if not 0.0 <= float(value) < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1). Received: {name}={value!r}")
    return float(value)


def check_choice(name, value, choices):
    """Returns `value` if it is one of `choices`, else raises listing them.

    Example:
    >>> check_choice("keep", "best", ("best", "last"))
    'best'
    """
    if value not in choices:
        raise ValueError(f"`{name}` must be one of {', '.join(map(str, choices))}. Received: {name}={value!r}")
    return value
