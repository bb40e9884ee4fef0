"""Search strategies over the `encode` / `initial_state` / `decode_step` contract."""

from s2s_keras.decoding.greedy import GreedySearch
from s2s_keras.decoding.result import DecodeResult, decode

__all__ = ["DecodeResult", "GreedySearch", "decode"]
