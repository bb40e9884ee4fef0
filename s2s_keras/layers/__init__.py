"""Custom Keras layers: attention, recurrent and Transformer encoders and decoders."""

from s2s_keras.layers.attention import BahdanauAttention, BaseAttention, LuongAttention
from s2s_keras.layers.conv_subsampling import ConvSubsampling
from s2s_keras.layers.ctc_auxiliary_loss import CTCAuxiliaryLoss
from s2s_keras.layers.dropout import FastDropout
from s2s_keras.layers.feed_forward import FeedForward
from s2s_keras.layers.layer_normalization import FusedLayerNormalization
from s2s_keras.layers.multi_head_attention import CachedMultiHeadAttention
from s2s_keras.layers.positional_embedding import PositionalEmbedding, sinusoids
from s2s_keras.layers.pyramidal_rnn_encoder import PyramidalRNNEncoder
from s2s_keras.layers.rnn_decoder import RNNDecoder
from s2s_keras.layers.rnn_encoder import RNNEncoder
from s2s_keras.layers.spec_augment import SpecAugment
from s2s_keras.layers.speech_front_end import SpeechFrontEnd
from s2s_keras.layers.speech_transformer_encoder import SpeechTransformerEncoder
from s2s_keras.layers.tied_output_projection import TiedOutputProjection
from s2s_keras.layers.transformer_block import TransformerBlock
from s2s_keras.layers.transformer_decoder import TransformerDecoder
from s2s_keras.layers.transformer_decoder_block import TransformerDecoderBlock
from s2s_keras.layers.transformer_encoder import TransformerEncoder
from s2s_keras.layers.transformer_encoder_block import TransformerEncoderBlock
from s2s_keras.layers.transformer_stack import TransformerStack

__all__ = [
    "BahdanauAttention",
    "BaseAttention",
    "CTCAuxiliaryLoss",
    "CachedMultiHeadAttention",
    "ConvSubsampling",
    "FastDropout",
    "FeedForward",
    "FusedLayerNormalization",
    "LuongAttention",
    "PositionalEmbedding",
    "PyramidalRNNEncoder",
    "RNNDecoder",
    "RNNEncoder",
    "SpecAugment",
    "SpeechFrontEnd",
    "SpeechTransformerEncoder",
    "TiedOutputProjection",
    "TransformerBlock",
    "TransformerDecoder",
    "TransformerDecoderBlock",
    "TransformerEncoder",
    "TransformerEncoderBlock",
    "TransformerStack",
    "sinusoids",
]
