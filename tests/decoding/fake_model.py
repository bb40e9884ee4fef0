"""Fake inference functions for search tests: logits from a random table keyed by the prefix."""

import itertools

import numpy as np
import tensorflow as tf

from s2s_keras.data.special_ids import DEFAULT_SPECIAL_IDS


class PrefixTableModel:
    """Next-token logits depend on the whole prefix, through a random lookup table.

    The state is the prefix's code (base `vocab` digits, modulo a prime that
    exceeds every code of the exhaustive tests), so beam search must reorder it
    correctly to get the right logits. No Keras model is involved.
    `special_ids` are the target vocabulary's (default: ids 0-3); like a
    model, the fake exposes them as `target_special_ids` for `decode`.
    """

    TABLE_ROWS = 100_003

    def __init__(self, vocab, max_length, seed, special_ids=DEFAULT_SPECIAL_IDS):
        self.vocab = vocab
        self.target_special_ids = special_ids
        self.start_tokens_seen = []
        rng = np.random.default_rng(seed)
        rows = min(vocab ** (max_length + 1), self.TABLE_ROWS)
        self.table = rng.normal(scale=2.0, size=(rows, vocab)).astype("float32")
        self.calls = 0

    def encode(self, source_ids):
        return {"source_ids": source_ids}

    def initial_state(self, memory, max_length):
        return {"code": tf.fill([tf.shape(memory["source_ids"])[0]], self.target_special_ids.start)}

    def decode_step(self, token_ids, state, memory, step, return_attention=False):
        self.calls += 1
        if tf.executing_eagerly() and step == 0:
            self.start_tokens_seen.append(token_ids.numpy().tolist())
        rows = self.table.shape[0]
        code = tf.where(tf.equal(step, 0), state["code"], (state["code"] * self.vocab + token_ids) % rows)
        logits = tf.gather(tf.constant(self.table), code)
        return logits, {"code": code}

    def functions(self):
        return self.encode, self.initial_state, self.decode_step

    # --- the same model in numpy, for exhaustive search -----------------------------------
    def log_probs(self, prefix):
        special = self.target_special_ids
        code = special.start
        for token in prefix:
            code = (code * self.vocab + token) % self.table.shape[0]
        logits = self.table[code].astype("float64")
        logits[[special.pad, special.start]] = -np.inf
        return logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()

    def all_hypotheses(self, max_length):
        """Every hypothesis: sequences ending in [END], or max_length tokens without it."""
        special = self.target_special_ids
        tokens = [t for t in range(self.vocab) if t not in (special.pad, special.start)]
        for length in range(1, max_length + 1):
            for seq in itertools.product(tokens, repeat=length):
                if special.end in seq[:-1]:
                    continue
                if seq[-1] != special.end and length < max_length:
                    continue
                yield list(seq), sum(self.log_probs(seq[:i])[seq[i]] for i in range(length))
