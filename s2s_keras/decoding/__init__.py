"""Search strategies over the `encode` / `initial_state` / `decode_step` contract.

Strategies never see a model: they are called with the three inference
functions and the source ids, and run as `tf.while_loop`s. Each serializes
(`get_config` / `from_config`, `serialize_search` / `deserialize_search`).
"""

from s2s_keras.decoding.beam_search import BeamSearch, coverage_penalty, length_penalty
from s2s_keras.decoding.decode import decode
from s2s_keras.decoding.greedy import GreedySearch
from s2s_keras.decoding.result import DecodeResult
from s2s_keras.decoding.sampling import Sampling
from s2s_keras.decoding.search import SearchStrategy, deserialize_search, serialize_search
from s2s_keras.decoding.token_search import TokenSearch

__all__ = ["BeamSearch", "DecodeResult", "GreedySearch", "Sampling", "SearchStrategy", "TokenSearch", "coverage_penalty",
           "decode", "deserialize_search", "length_penalty", "serialize_search"]
