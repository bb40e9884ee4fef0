"""Transformer layers: embeddings, attention, blocks and the cached decoder stack."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from s2s_keras.layers import (
    CachedMultiHeadAttention,
    FeedForward,
    PositionalEmbedding,
    TiedOutputProjection,
    TransformerDecoder,
    TransformerDecoderBlock,
    TransformerEncoder,
    TransformerEncoderBlock,
    sinusoids,
)
from tests.helpers import assert_config_round_trip

rng = np.random.default_rng(0)
D = 16
SOURCE = rng.normal(size=(2, 7, D)).astype("float32")
TARGET = rng.normal(size=(2, 5, D)).astype("float32")
MASK = np.array([[1] * 5 + [0] * 2, [1] * 7], bool)


# --- PositionalEmbedding -------------------------------------------------------------------


def test_sinusoids_follow_the_paper():
    table = np.asarray(sinusoids(np.arange(3, dtype="float32"), 8))
    assert table.shape == (3, 8)
    np.testing.assert_allclose(table[0], [0, 1, 0, 1, 0, 1, 0, 1], atol=1e-7)
    # PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(...)
    frequencies = 10000.0 ** (-np.arange(0, 8, 2) / 8)
    expected = np.stack([np.sin(2 * frequencies), np.cos(2 * frequencies)], -1).reshape(8)
    np.testing.assert_allclose(table[2], expected, atol=1e-6)


def test_positional_embedding_scales_tokens_and_adds_positions():
    embedding = PositionalEmbedding(10, 8, embeddings_initializer=keras.initializers.Constant(0.5))
    ids = np.array([[4, 5, 0]])
    out = np.asarray(embedding(ids))
    expected = 0.5 * np.sqrt(8) + np.asarray(sinusoids(np.arange(3, dtype="float32"), 8))
    np.testing.assert_allclose(out[0], expected, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(embedding.compute_mask(ids)), [[True, True, False]])
    assert PositionalEmbedding(10, 8, mask_zero=False).compute_mask(ids) is None


@pytest.mark.parametrize("positions", ["sinusoidal", "learned"])
def test_embed_step_is_the_full_call_at_that_position(positions):
    embedding = PositionalEmbedding(20, D, positions=positions, max_length=12)
    ids = rng.integers(1, 20, size=(3, 6)).astype("int32")
    full = np.asarray(embedding(ids))
    for step in range(6):
        np.testing.assert_array_equal(np.asarray(embedding.embed_step(ids[:, step], step)), full[:, step])
    traced = tf.function(embedding.embed_step)(ids[:, 4], tf.constant(4))
    np.testing.assert_array_equal(np.asarray(traced), full[:, 4])


def test_positional_embedding_config_round_trip():
    embedding = PositionalEmbedding(20, D, positions="learned", max_length=9, mask_zero=False)
    assert_config_round_trip(embedding, lambda l: l(np.array([[3, 4, 5, 0]])))


def test_positional_embedding_rejects_bad_arguments():
    with pytest.raises(ValueError, match="positions='absolute'"):
        PositionalEmbedding(10, 8, positions="absolute")
    with pytest.raises(ValueError, match="max_length=None"):
        PositionalEmbedding(10, 8, positions="learned")
    with pytest.raises(ValueError, match="embedding_dim=7"):
        PositionalEmbedding(10, 7)
    with pytest.raises(ValueError, match=r"Embedding\(10, 4\)"):
        PositionalEmbedding(10, 8, token_embedding=keras.layers.Embedding(10, 4))


# --- attention, feed-forward, tied projection ------------------------------------------------


def test_attention_matches_keras_multi_head_attention():
    ours = CachedMultiHeadAttention(num_heads=4)
    output, weights = ours(TARGET, SOURCE, attention_mask=MASK[:, None, :], return_attention_scores=True)
    reference = keras.layers.MultiHeadAttention(num_heads=4, key_dim=D // 4)
    reference(TARGET, SOURCE)  # builds it
    reference.set_weights(ours.get_weights())  # the same kernels: q, k, v, output (with biases)
    expected, expected_weights = reference(
        TARGET, SOURCE, attention_mask=MASK[:, None, :], return_attention_scores=True
    )
    np.testing.assert_allclose(np.asarray(output), np.asarray(expected), atol=1e-5)
    np.testing.assert_allclose(np.asarray(weights), np.asarray(expected_weights), atol=1e-6)
    assert weights.shape == (2, 4, 5, 7)
    assert np.all(np.asarray(weights)[0, :, :, 5:] == 0.0)


def test_attention_gradients_match_keras_multi_head_attention():
    # The projections run as 2-D matmuls (HeadsProjection), not Keras's einsum: same values and gradients.
    ours = CachedMultiHeadAttention(num_heads=4)
    ours(TARGET, SOURCE)
    reference = keras.layers.MultiHeadAttention(num_heads=4, key_dim=D // 4)
    reference(TARGET, SOURCE)
    reference.set_weights(ours.get_weights())
    gradients = []
    for layer in (ours, reference):
        with tf.GradientTape() as tape:
            output = layer(TARGET, SOURCE, attention_mask=MASK[:, None, :])
            loss = tf.reduce_sum(tf.square(output))
        gradients.append(tape.gradient(loss, layer.trainable_variables))
    assert [v.shape for v in ours.trainable_variables] == [v.shape for v in reference.trainable_variables]
    for got, expected in zip(*gradients):
        np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("jit_compile", [False, True])
def test_update_cache_writes_one_row_with_a_traced_step(jit_compile):
    cache = np.random.default_rng(0).normal(size=(2, 3, 4, 2)).astype("float32")  # (batch, heads, max_length, key_dim)
    update = np.random.default_rng(1).normal(size=(2, 3, 1, 2)).astype("float32")  # a different row per batch, head
    write = tf.function(CachedMultiHeadAttention.update_cache, jit_compile=jit_compile)
    written = write(cache, update, tf.constant(2))
    expected = cache.copy()
    expected[:, :, 2] = update[:, :, 0]
    np.testing.assert_array_equal(np.asarray(written), expected)


def test_attention_rejects_heads_that_do_not_divide_the_size():
    with pytest.raises(ValueError, match="output_dim=16, num_heads=3"):
        CachedMultiHeadAttention(num_heads=3)(TARGET)


def test_feed_forward_and_attention_config_round_trips():
    assert_config_round_trip(FeedForward(32, activation="gelu"), lambda l: l(TARGET))
    attention = CachedMultiHeadAttention(num_heads=2, key_dim=4, output_dim=6)
    assert_config_round_trip(attention, lambda l: l(TARGET, SOURCE, attention_mask=MASK[:, None, :]))


def test_tied_projection_uses_the_embedding_table():
    table = keras.layers.Embedding(11, D)
    table.build(None)
    projection = TiedOutputProjection(table)
    logits = np.asarray(projection(TARGET))
    projection.bias.assign(np.arange(11, dtype="float32"))
    expected = TARGET @ np.asarray(table.embeddings).T
    np.testing.assert_allclose(logits, expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(projection(TARGET)), expected + np.arange(11), atol=1e-5)
    assert len(projection.trainable_weights) == 2  # the shared table and its own bias
    with pytest.raises(ValueError, match="embedding size 16"):
        TiedOutputProjection(table)(np.ones((1, 3)))


# --- blocks and stacks -------------------------------------------------------------------------


@pytest.mark.parametrize("normalize_first", [False, True])
def test_encoder_ignores_padding(normalize_first):
    encoder = TransformerEncoder(2, num_heads=4, intermediate_dim=32, normalize_first=normalize_first)
    outputs = np.asarray(encoder(SOURCE, mask=MASK))
    alone = np.asarray(encoder(SOURCE[:1, :5]))
    np.testing.assert_allclose(outputs[0, :5], alone[0], atol=1e-5)
    changed = SOURCE.copy()
    changed[0, 5:] = 100.0  # padding content never matters
    np.testing.assert_allclose(np.asarray(encoder(changed, mask=MASK))[0, :5], outputs[0, :5], atol=1e-5)


def _decoder_pair(normalize_first):
    encoder = TransformerEncoder(2, num_heads=4, intermediate_dim=32, normalize_first=normalize_first)
    decoder = TransformerDecoder(3, num_heads=4, intermediate_dim=32, normalize_first=normalize_first)
    return encoder, decoder


@pytest.mark.parametrize("normalize_first", [False, True])
def test_decoder_step_reproduces_the_full_call_at_every_position(normalize_first):
    encoder, decoder = _decoder_pair(normalize_first)
    encoded = encoder(SOURCE, mask=MASK)
    full, weights = decoder(TARGET, encoded, source_mask=MASK, return_attention=True)
    assert full.shape == (2, 5, D) and weights.shape == (2, 5, 7)
    memory = decoder.prepare_memory(encoded, MASK)
    state = decoder.initial_state(memory, max_length=8)
    assert [k.shape for k in state["keys"]] == [(2, 4, 8, 4)] * 3  # (batch, heads, max_length, key_dim)
    for t in range(TARGET.shape[1]):
        output, state, step_weights = decoder.step(TARGET[:, t], state, memory, t)
        np.testing.assert_allclose(np.asarray(output), np.asarray(full[:, t]), atol=1e-5)
        np.testing.assert_allclose(np.asarray(step_weights), np.asarray(weights[:, t]), atol=1e-6)
        assert np.all(np.asarray(step_weights)[0, 5:] == 0.0)
        # Rows after `t` of every cache are still empty.
        assert np.all(np.asarray(state["keys"][0])[:, :, t + 1 :] == 0.0)


def test_decoder_step_in_a_while_loop_reproduces_the_full_call():
    encoder, decoder = _decoder_pair(False)
    encoded = encoder(SOURCE, mask=MASK)
    full = np.asarray(decoder(TARGET, encoded, source_mask=MASK))

    @tf.function
    def run(target):
        memory = decoder.prepare_memory(encoded, MASK)
        outputs = tf.TensorArray(tf.float32, size=5)

        def body(step, state, outputs):
            output, state, _ = decoder.step(target[:, step], state, memory, step)
            return step + 1, state, outputs.write(step, output)

        _, _, outputs = tf.while_loop(
            lambda step, *_: step < 5, body, (tf.constant(0), decoder.initial_state(memory, 5), outputs)
        )
        return tf.transpose(outputs.stack(), (1, 0, 2))

    np.testing.assert_allclose(np.asarray(run(TARGET)), full, atol=1e-5)


def test_decoder_is_causal():
    encoder, decoder = _decoder_pair(False)
    encoded = encoder(SOURCE, mask=MASK)
    full = np.asarray(decoder(TARGET, encoded, source_mask=MASK))
    for t in range(TARGET.shape[1] - 1):
        changed = TARGET.copy()
        changed[:, t + 1 :] = rng.normal(size=changed[:, t + 1 :].shape)
        out = np.asarray(decoder(changed, encoded, source_mask=MASK))
        np.testing.assert_allclose(out[:, : t + 1], full[:, : t + 1], atol=1e-6)
        assert not np.allclose(out[:, t + 1], full[:, t + 1], atol=1e-3)


def test_decoder_block_returns_per_head_cross_attention():
    block = TransformerDecoderBlock(num_heads=2, intermediate_dim=32)
    outputs, weights = block(TARGET, SOURCE, memory_mask=MASK, return_attention=True)
    assert outputs.shape == (2, 5, D) and weights.shape == (2, 2, 5, 7)
    np.testing.assert_allclose(np.asarray(weights).sum(-1), 1.0, atol=1e-5)
    assert np.all(np.asarray(weights)[0, ..., 5:] == 0.0)


def test_dropout_is_only_active_in_training():
    decoder = TransformerDecoder(1, num_heads=2, intermediate_dim=32, dropout=0.5, attention_dropout=0.5)
    inference = [np.asarray(decoder(TARGET, SOURCE)) for _ in range(2)]
    np.testing.assert_array_equal(inference[0], inference[1])
    assert not np.allclose(np.asarray(decoder(TARGET, SOURCE, training=True)), inference[0])


def test_block_and_stack_config_round_trips():
    assert_config_round_trip(
        TransformerEncoderBlock(2, 32, normalize_first=True, activation="gelu"), lambda l: l(SOURCE, mask=MASK)
    )
    assert_config_round_trip(TransformerDecoderBlock(2, 32), lambda l: l(TARGET, SOURCE, memory_mask=MASK))
    assert_config_round_trip(
        TransformerEncoder(2, 4, 32, normalize_first=True), lambda l: l(SOURCE, mask=MASK)
    )
    decoder = TransformerDecoder(2, 4, 32, normalize_first=True, max_length=12)
    assert_config_round_trip(decoder, lambda l: l(TARGET, SOURCE, source_mask=MASK))
    memory = decoder.prepare_memory(SOURCE, MASK)
    assert decoder.initial_state(memory)["keys"][0].shape == (2, 4, 12, 4)  # max_length is the default size


def test_stacks_reject_bad_arguments():
    with pytest.raises(ValueError, match="num_layers=0"):
        TransformerEncoder(0, 4, 32)
    with pytest.raises(ValueError, match="dropout=1.5"):
        TransformerDecoder(1, 4, 32, dropout=1.5)
    with pytest.raises(ValueError, match="num_heads=3"):
        TransformerEncoder(1, 3, 32)(SOURCE)
