"""Tiny tasks learned to a stated accuracy: the seeds' point about attention.

On 2 CPU cores each model trains for about 15 s (400 steps of 64 sequences; attention reached 1.0 and the
fixed-vector model 0.0 when this was written).
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

import s2s_keras as s2s
from s2s_keras.data import END_ID

VOCAB, MIN_LEN, MAX_LEN, STEPS, BATCH = 16, 10, 20, 400, 64


def sequence_accuracy(model, pairs):
    source, _ = s2s.data.pad_pairs(pairs)
    search = s2s.decoding.GreedySearch(max_length=MAX_LEN + 2)
    result = tf.function(lambda s: s2s.decoding.decode(model, s, search))(source["source"])
    ids = result.ids.numpy()[:, 0]
    correct = []
    for row, (_, target) in enumerate(pairs):
        expected = np.zeros(MAX_LEN + 2, "int32")
        expected[: len(target) + 1] = [*target, END_ID]
        correct.append(np.array_equal(ids[row], expected))
    return np.array(correct)


def train_reverse(name):
    keras.utils.set_random_seed(0)
    x, y = s2s.data.pad_pairs(s2s.data.toy_pairs("reverse", STEPS * BATCH, MIN_LEN, MAX_LEN, VOCAB, seed=1))
    model = s2s.build_model(
        name, source_vocab_size=VOCAB, target_vocab_size=VOCAB, embedding_dim=32, units=64, dropout=0.0
    )
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=s2s.losses.masked_loss())
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
    return model


@pytest.mark.slow
def test_attention_learns_to_reverse_and_the_fixed_vector_model_does_not():
    test_pairs = s2s.data.toy_pairs("reverse", 300, MIN_LEN, MAX_LEN, VOCAB, seed=2)
    longest = np.array([len(s) for s, _ in test_pairs]) >= 18

    attention = sequence_accuracy(train_reverse("gru_attention"), test_pairs)
    assert attention.mean() >= 0.99, attention.mean()

    fixed_vector = sequence_accuracy(train_reverse("gru"), test_pairs)
    # Without attention the whole source must fit one vector: long sequences fail.
    assert fixed_vector[longest].mean() <= attention[longest].mean() - 0.5, (fixed_vector[longest].mean(), attention[longest].mean())
