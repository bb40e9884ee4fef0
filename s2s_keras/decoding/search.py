"""What every search strategy shares: its constructor arguments as a config, and `repr` from them."""


class SearchStrategy:
    """Base of the search strategies: `get_config` / `from_config`, and a `repr` showing every argument.

    A subclass lists its constructor arguments in `get_config()`; `from_config`
    rebuilds it, so a run or an export can record the search it was made with
    (`serialize_search`) and make it again (`deserialize_search`).
    """

    # Whether a row's result is the same in any batch and at any place in it (then a batch may be split or
    # shrunk as the search goes). A strategy that keys anything by the row's place says False.
    rows_decode_alike_anywhere = False

    def get_config(self):
        """The constructor arguments, a dict of JSON-friendly values."""
        raise NotImplementedError

    @classmethod
    def from_config(cls, config):
        """The strategy `get_config()` describes."""
        return cls(**config)

    def __repr__(self):
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({arguments})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):  # equal configs, equal hashes (a strategy is not changed after it is made)
        return hash((type(self), tuple(sorted(self.get_config().items()))))


def serialize_search(search):
    """`{"class_name": ..., "config": {...}}` of a search strategy (a JSON-friendly dict).

    Example:
    >>> serialize_search(GreedySearch(max_length=20))["class_name"]  # doctest: +SKIP
    'GreedySearch'
    """
    config = {key: list(value) if isinstance(value, tuple) else value for key, value in search.get_config().items()}
    return {"class_name": type(search).__name__, "config": config}


def deserialize_search(serialized):
    """The search strategy `serialize_search` described (one of this package's strategies).

    Raises:
        ValueError: for an unknown class name.
    """
    from s2s_keras.decoding.beam_search import BeamSearch
    from s2s_keras.decoding.greedy import GreedySearch
    from s2s_keras.decoding.sampling import Sampling

    known = {cls.__name__: cls for cls in (BeamSearch, GreedySearch, Sampling)}
    name = serialized.get("class_name") if isinstance(serialized, dict) else None
    if name not in known:
        raise ValueError(f"Unknown search strategy {name!r}; known: {sorted(known)}.")
    config = dict(serialized.get("config", {}))
    if "stop_ids" in config:
        config["stop_ids"] = tuple(config["stop_ids"])
    return known[name].from_config(config)
