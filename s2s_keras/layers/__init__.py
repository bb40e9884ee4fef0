"""Custom Keras layers: attention, recurrent encoders and decoders."""

from s2s_keras.layers.attention import BahdanauAttention, BaseAttention, LuongAttention
from s2s_keras.layers.rnn_decoder import RNNDecoder
from s2s_keras.layers.rnn_encoder import RNNEncoder

__all__ = ["BahdanauAttention", "BaseAttention", "LuongAttention", "RNNDecoder", "RNNEncoder"]
