"""The Transformer encoder–decoder (Vaswani et al. 2017), with cached incremental decoding.

Registered names and their defaults (every argument of `build_transformer_seq2seq`
except the vocabulary sizes and name is an override):

| name | d_model | layers (enc + dec) | heads | intermediate_dim | dropout | notes |
|---|---|---|---|---|---|---|
| transformer | 512 | 6 + 6 | 8 | 2048 | 0.1 | Vaswani et al.'s base model |
| transformer_small | 256 | 3 + 3 | 8 | 512 | 0.1 | the size peers use on Multi30k / Tatoeba |
| transformer_tiny | 64 | 2 + 2 | 4 | 128 | 0.1 | for tests and toy tasks |

Shared defaults: attention_dropout and activation_dropout = dropout,
activation="relu", normalize_first=False (post-norm, as in the paper),
positions="sinusoidal", max_length=256 (learned-position rows and the default
cache size), share_embeddings=False, tie_output_projection=False. Logits are
float32 under any mixed-precision policy.
"""

import keras

from s2s_keras.layers import PositionalEmbedding, TiedOutputProjection, TransformerDecoder, TransformerEncoder
from s2s_keras.models.recipe import TRANSFORMER_RECIPE
from s2s_keras.models.registry import REGISTRY, variant_builder
from s2s_keras.models.seq2seq import (
    DECODER,
    ENCODER,
    OUTPUT_PROJECTION,
    SOURCE_EMBEDDING,
    TARGET_EMBEDDING,
    assemble_seq2seq,
)


def build_transformer_seq2seq(
    *,
    source_vocab_size,
    target_vocab_size,
    name,
    d_model=512,
    num_encoder_layers=6,
    num_decoder_layers=6,
    num_heads=8,
    intermediate_dim=2048,
    dropout=0.1,
    attention_dropout=None,
    activation_dropout=None,
    activation="relu",
    normalize_first=False,
    positions="sinusoidal",
    max_length=256,
    share_embeddings=False,
    tie_output_projection=False,
    source_special_ids=None,
    target_special_ids=None,
):
    """Builds a Transformer encoder–decoder `Seq2SeqModel`.

    Args:
        source_vocab_size, target_vocab_size: vocabulary sizes.
        name: the model's name.
        d_model: size of the embeddings and of every block.
        num_encoder_layers, num_decoder_layers: blocks in the encoder and decoder.
        num_heads: attention heads (d_model must divide by it).
        intermediate_dim: feed-forward hidden size (d_ff).
        dropout: rate on the embeddings and on every sublayer output.
        attention_dropout: rate on the attention weights (default: `dropout`).
        activation_dropout: rate on the feed-forward activations (default: `dropout`).
        activation: feed-forward activation.
        normalize_first: pre-norm blocks instead of the paper's post-norm.
        positions: "sinusoidal" or "learned" position embeddings.
        max_length: learned-position rows; also the decoder's default cache size.
        share_embeddings: one token table for source and target (the
            vocabularies must then be the same size, i.e. one joint vocabulary).
        tie_output_projection: the output projection is the target token table,
            transposed (plus a bias).
        source_special_ids, target_special_ids: the tokenizers' `SpecialIds` (default: ids 0-3).

    Returns:
        A `Seq2SeqModel`.
    """
    if share_embeddings and source_vocab_size != target_vocab_size:
        raise ValueError(
            "`share_embeddings` needs one vocabulary for source and target. Received: "
            f"source_vocab_size={source_vocab_size}, target_vocab_size={target_vocab_size}"
        )
    attention_dropout = dropout if attention_dropout is None else attention_dropout
    activation_dropout = dropout if activation_dropout is None else activation_dropout

    def token_table(vocab_size, table_name):
        return keras.layers.Embedding(
            vocab_size, d_model, embeddings_initializer=keras.initializers.RandomNormal(stddev=d_model**-0.5),
            name=table_name,
        )

    # A table made here (rather than inside PositionalEmbedding) can be shared and tied.
    target_table = source_table = None
    if share_embeddings:
        target_table = source_table = token_table(target_vocab_size, "shared_tokens")
    elif tie_output_projection:
        target_table = token_table(target_vocab_size, "target_tokens")
    embedding_args = dict(positions=positions, max_length=max_length if positions == "learned" else None)
    source_embedding = PositionalEmbedding(
        source_vocab_size, d_model, token_embedding=source_table, name=SOURCE_EMBEDDING, **embedding_args
    )
    # The decoder is causal and the loss masks padding, so the target embedding carries no mask.
    target_embedding = PositionalEmbedding(
        target_vocab_size, d_model, mask_zero=False, token_embedding=target_table, name=TARGET_EMBEDDING,
        **embedding_args,
    )
    stack_args = dict(
        num_heads=num_heads, intermediate_dim=intermediate_dim, dropout=dropout, attention_dropout=attention_dropout,
        activation_dropout=activation_dropout, activation=activation, normalize_first=normalize_first,
    )
    encoder = TransformerEncoder(num_encoder_layers, name=ENCODER, **stack_args)
    decoder = TransformerDecoder(num_decoder_layers, max_length=max_length, name=DECODER, **stack_args)
    if tie_output_projection:
        output_projection = TiedOutputProjection(target_table, dtype="float32", name=OUTPUT_PROJECTION)
    else:
        output_projection = keras.layers.Dense(target_vocab_size, dtype="float32", name=OUTPUT_PROJECTION)
    return assemble_seq2seq(source_embedding, target_embedding, encoder, decoder, output_projection, name=name,
                            source_special_ids=source_special_ids, target_special_ids=target_special_ids)


def _register(name, description, recipe, **sizes):
    doc = f"Builds {name!r}: {description} (see `build_transformer_seq2seq` for the overrides)."
    defaults = {"d_model": sizes["d_model"], "num_encoder_layers": sizes["num_layers"],
                "num_decoder_layers": sizes["num_layers"], "num_heads": sizes["num_heads"],
                "intermediate_dim": sizes["intermediate_dim"], "max_length": 256}
    builder = variant_builder(build_transformer_seq2seq, name, fixed={"name": name}, defaults=defaults, doc=doc)
    REGISTRY.register(name, builder, recipe=recipe)


# The base model keeps the paper's dropout: its recipe is the family's otherwise (not measured at this size).
_register("transformer", "Vaswani et al.'s base model, d 512, 6 + 6 layers, 8 heads, d_ff 2048",
          TRANSFORMER_RECIPE.replace(overrides={}, note="Transformer family recipe with the paper's dropout 0.1 "
                                     "(the base size was not measured on the CPU benchmark)"),
          d_model=512, num_layers=6, num_heads=8, intermediate_dim=2048)
_register("transformer_small", "d 256, 3 + 3 layers, 8 heads, d_ff 512", TRANSFORMER_RECIPE,
          d_model=256, num_layers=3, num_heads=8, intermediate_dim=512)
_register("transformer_tiny", "d 64, 2 + 2 layers, 4 heads, d_ff 128, for tests", TRANSFORMER_RECIPE,
          d_model=64, num_layers=2, num_heads=4, intermediate_dim=128)
