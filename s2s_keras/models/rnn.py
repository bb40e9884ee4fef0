"""The classic recurrent encoder–decoders, with and without attention.

Registered names and what they are:

| name | cell | attention | encoder |
|---|---|---|---|
| rnn, lstm, gru | SimpleRNN / LSTM / GRU | none: the decoder starts from the encoder's final state (Cho et al. 2014; Sutskever et al. 2014) | unidirectional |
| rnn_attention, lstm_attention, gru_attention | SimpleRNN / LSTM / GRU | Bahdanau (additive), input feeding | bidirectional |
| lstm_luong, gru_luong | LSTM / GRU | Luong "general", attention after the cells | bidirectional |

Defaults shared by all: embedding_dim=256, units=512, num_layers=1,
dropout=0.1, residual=False. Overrides: any argument of `build_rnn_seq2seq`
except the vocabulary sizes, cell and attention.
"""

import keras

from s2s_keras.layers import RNNDecoder, RNNEncoder
from s2s_keras.models.recipe import RNN_RECIPE
from s2s_keras.models.registry import REGISTRY, variant_builder
from s2s_keras.models.seq2seq import (
    DECODER,
    ENCODER,
    OUTPUT_PROJECTION,
    SOURCE_EMBEDDING,
    TARGET_EMBEDDING,
    assemble_seq2seq,
)


def build_rnn_seq2seq(
    *,
    source_vocab_size,
    target_vocab_size,
    cell,
    attention,
    name,
    embedding_dim=256,
    units=512,
    num_layers=1,
    bidirectional=False,
    dropout=0.1,
    residual=False,
    attention_units=None,
    luong_score="general",
    input_feeding=None,
    source_special_ids=None,
    target_special_ids=None,
):
    """Builds a recurrent encoder–decoder `Seq2SeqModel`.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes.
        cell: "rnn", "lstm" or "gru", for encoder and decoder.
        attention: None, "bahdanau" or "luong".
        name: the model's name.
        embedding_dim: size of the source and target embeddings.
        units: encoder output size (split between directions) and decoder size.
        num_layers: layers in the encoder and in the decoder.
        bidirectional: whether the encoder is bidirectional.
        dropout: dropout between encoder layers, on decoder inputs and outputs.
        residual: residual connections between stacked layers.
        attention_units: Bahdanau scoring size (defaults to `units`).
        luong_score: "dot", "general" or "concat" for Luong attention.
        input_feeding: see `RNNDecoder` (default: on for Bahdanau, off for Luong).
        source_special_ids, target_special_ids: the tokenizers' `SpecialIds` (default: ids 0-3).

    Returns:
        A `Seq2SeqModel`.
    """
    # The encoder gets the source mask explicitly (`assemble_seq2seq`), whatever the padding id.
    source_embedding = keras.layers.Embedding(source_vocab_size, embedding_dim, name=SOURCE_EMBEDDING)
    # The decoder is causal and the loss masks padding, so the target embedding carries no mask.
    target_embedding = keras.layers.Embedding(target_vocab_size, embedding_dim, name=TARGET_EMBEDDING)
    encoder = RNNEncoder(
        cell, units, num_layers=num_layers, bidirectional=bidirectional, dropout=dropout,
        residual=residual, name=ENCODER,
    )
    decoder = RNNDecoder(
        cell, units, num_layers=num_layers, attention=attention, attention_units=attention_units,
        luong_score=luong_score, input_feeding=input_feeding, dropout=dropout, residual=residual, name=DECODER,
    )
    output_projection = keras.layers.Dense(target_vocab_size, dtype="float32", name=OUTPUT_PROJECTION)
    return assemble_seq2seq(source_embedding, target_embedding, encoder, decoder, output_projection, name=name,
                            source_special_ids=source_special_ids, target_special_ids=target_special_ids)


def _register(name, cell, attention, bidirectional):  # every RNN model trains with the family's recipe
    doc = f"Builds {name!r}: {cell} cells, attention={attention!r}, bidirectional encoder={bidirectional}."
    builder = variant_builder(build_rnn_seq2seq, name, fixed={"cell": cell, "attention": attention, "name": name},
                              defaults={"bidirectional": bidirectional}, doc=doc)
    REGISTRY.register(name, builder, recipe=RNN_RECIPE)


for _cell in ("rnn", "lstm", "gru"):
    _register(_cell, _cell, None, bidirectional=False)
    _register(f"{_cell}_attention", _cell, "bahdanau", bidirectional=True)
for _cell in ("lstm", "gru"):
    _register(f"{_cell}_luong", _cell, "luong", bidirectional=True)
