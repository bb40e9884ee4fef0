"""The one-hypothesis-per-row loop shared by greedy search and sampling."""

import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.data.special_ids import DEFAULT_SPECIAL_IDS, PAD_ID
from s2s_keras.decoding.finished_rows import keep_static_shapes, run_search_loop, take_rows, write_rows
from s2s_keras.decoding.logits import (check_stop_ids, ending_ids, force_prefix, is_any_of, next_token_log_probs,
                                       prefix_lengths)
from s2s_keras.decoding.result import DecodeResult
from s2s_keras.decoding.search import SearchStrategy
from s2s_keras.decoding.source import as_source, attended_mask


def check_max_length(max_length):
    """Returns `max_length`, the most tokens a search produces, if it is a positive integer."""
    return check_positive_int("max_length", max_length)


def start_state(initial_state, memory, max_length, static_shapes):
    """The model's state before the first step: with `static_shapes`, sized for `max_length` steps (XLA needs
    it); without, state that may grow step by step (a Transformer's caches), which only costs what is written."""
    if static_shapes:
        return initial_state(memory, max_length)
    return initial_state(memory, max_length, static_shapes=False)


class TokenSearch(SearchStrategy):
    """Produces one token per row and step until the end id (or a stop id) or `max_length`.

    Subclasses choose the token (`pick`); the loop is a `tf.while_loop` with
    static shapes that stops as soon as every row has produced `[END]`, so it
    runs eagerly, under `tf.function`, with `jit_compile=True` and inside a
    SavedModel. The strategy never sees a model, only its three functions.

    Args:
        max_length: most tokens per row, the ending token included.
        min_length: fewest tokens per hypothesis, counted as `max_length` is (the
            ending token included): the end id and stop ids are blocked before.
        stop_ids: more ids that end a row as the end id does (e.g. a
            sentence-end piece); the row keeps the stop token.
        alignment_history: also return the attention weights of every step
            (`DecodeResult.alignments`; zeros for a model without attention).

    Call arguments:
        encode: `source_ids -> memory`.
        initial_state: `(memory, max_length) -> state`.
        decode_step: `(token_ids (batch,), state, memory, step) -> (logits (batch, vocab), state)`.
        source_ids: int32 `(batch, src_len)`.
        source_pad_id: the source padding id (unused here; beam search masks with it).
        target_special_ids: the target vocabulary's `SpecialIds` (start,
            end, padding); `decode` passes the model's.
        static_shapes: keep every loop tensor's shape (XLA needs it); False
            lets the model's state grow step by step and finished rows leave
            the loop (faster, same result; `finished_rows.py`).
        prefix_ids: optional int32 `(batch, width)`, right-padded with the
            target padding id: each row's output starts with its prefix
            (forced, scored as the model scores it) and continues from there.

    Returns:
        A `DecodeResult` with `n_best` = 1; scores (and log_probs) are the sum
        of the chosen tokens' log-probabilities (with the padding and start
        ids blocked), token_log_probs each token's.
    """

    def __init__(self, max_length=50, min_length=0, stop_ids=(), alignment_history=False):
        self.max_length = check_max_length(max_length)
        if not isinstance(min_length, int) or not 0 <= min_length <= max_length:
            raise ValueError(f"`min_length` must be an integer in [0, max_length]. Received: min_length={min_length!r}")
        self.min_length = min_length
        self.stop_ids = check_stop_ids(stop_ids)
        self.alignment_history = bool(alignment_history)

    def get_config(self):
        return {"max_length": self.max_length, "min_length": self.min_length, "stop_ids": self.stop_ids,
                "alignment_history": self.alignment_history}

    # Whether a row's picks depend only on the row (not on where it sits in the batch), so that finished rows
    # may leave the loop without changing the others' outputs.
    rows_decode_alike_anywhere = True

    def pick(self, log_probs, step, seed):
        """Chooses next tokens `(batch,)` from log-probabilities `(batch, vocab)`."""
        raise NotImplementedError

    def call_seed(self):
        """A per-call seed tensor (sampling only); None for deterministic strategies."""
        return None

    def __call__(self, encode, initial_state, decode_step, source_ids, *, source_pad_id=PAD_ID,
                 target_special_ids=DEFAULT_SPECIAL_IDS, static_shapes=True, prefix_ids=None):
        special = target_special_ids
        ending = ending_ids(special, self.stop_ids)
        source_ids = as_source(source_ids)
        batch_size = tf.shape(source_ids)[0]
        memory = encode(source_ids)
        state = start_state(initial_state, memory, self.max_length, static_shapes)
        seed = self.call_seed()
        # Finished rows leave the loop (finished_rows.py), unless a row's draws depend on its place in the batch.
        drop_finished = not static_shapes and self.rows_decode_alike_anywhere
        forced = {}
        if prefix_ids is not None:
            forced_ids = tf.convert_to_tensor(prefix_ids, dtype=tf.int32)
            forced = {"ids": forced_ids, "lengths": prefix_lengths(forced_ids, special.pad)}

        history_shape = [batch_size, self.max_length, tf.shape(attended_mask(memory, source_ids, source_pad_id))[1]] \
            if self.alignment_history else [batch_size, 0, 0]
        hypotheses = {
            "ids": tf.fill([batch_size, self.max_length], special.pad),  # (batch, max_length)
            "token_log_probs": tf.zeros([batch_size, self.max_length], tf.float32),
            "alignments": tf.zeros(history_shape, tf.float32),  # (batch, max_length, src_len) on request
            "scores": tf.zeros([batch_size], tf.float32),
            "lengths": tf.zeros([batch_size], tf.int32),
        }
        # What the loop carries per row; rows leave it when dropped.
        carried = {"index": tf.range(batch_size), "finished": tf.zeros([batch_size], tf.bool),
                   "hypotheses": hypotheses, "tokens": tf.fill([batch_size], special.start), "state": state,
                   "memory": memory, "forced": forced}
        outputs = hypotheses if drop_finished else {}  # the dropped rows' hypotheses, in their batch rows
        positions = tf.range(self.max_length)

        def condition(step, carried, outputs):
            return tf.logical_and(step < self.max_length, tf.logical_not(tf.reduce_all(carried["finished"])))

        def body(step, carried, outputs):
            hypotheses, finished, memory = carried["hypotheses"], carried["finished"], carried["memory"]
            alignments = hypotheses["alignments"]
            if self.alignment_history:
                logits, state, weights = decode_step(carried["tokens"], carried["state"], memory, step,
                                                     return_attention=True)
                weights = (tf.zeros(tf.shape(alignments)[::2]) if weights is None  # (rows, src_len)
                           else tf.cast(weights, tf.float32))
                alignments = tf.where(tf.equal(positions, step)[tf.newaxis, :, tf.newaxis],
                                      tf.where(finished[:, tf.newaxis], 0.0, weights)[:, tf.newaxis], alignments)
            else:
                logits, state = decode_step(carried["tokens"], carried["state"], memory, step)[:2]  # (rows, vocab)
            log_probs = next_token_log_probs(logits, step, self.min_length - 1, special, self.stop_ids)
            if carried["forced"]:
                log_probs = force_prefix(log_probs, step, carried["forced"]["ids"], carried["forced"]["lengths"])
            next_tokens = tf.where(finished, special.pad, self.pick(log_probs, step, seed))  # (rows,)
            chosen = tf.where(finished, 0.0, tf.gather(log_probs, next_tokens, batch_dims=1))  # (rows,)
            at_step = tf.equal(positions, step)[tf.newaxis, :]  # (1, max_length)
            hypotheses = {
                "ids": tf.where(at_step, next_tokens[:, tf.newaxis], hypotheses["ids"]),
                "token_log_probs": tf.where(at_step, chosen[:, tf.newaxis], hypotheses["token_log_probs"]),
                "alignments": alignments,
                "scores": hypotheses["scores"] + chosen,
                "lengths": hypotheses["lengths"] + tf.cast(tf.logical_not(finished), tf.int32),
            }
            finished = tf.logical_or(finished, is_any_of(next_tokens, ending))
            new = {**carried, "finished": finished, "hypotheses": hypotheses, "tokens": next_tokens, "state": state}
            if drop_finished:
                def drop():  # the state and memory are only copied at a step where a row leaves
                    kept = tf.cast(tf.reshape(tf.where(tf.logical_not(finished)), [-1]), tf.int32)
                    return write_rows(outputs, finished, new["index"], hypotheses), take_rows(new, kept)

                outputs, new = tf.cond(tf.reduce_any(finished), drop, lambda: (outputs, new))
            return step + 1, keep_static_shapes(new, carried), outputs

        outputs = run_search_loop(condition, body, carried, outputs, drop_finished,
                                  lambda carried: (carried["index"], carried["hypotheses"]))
        scores = outputs["scores"][:, tf.newaxis]
        return DecodeResult(ids=outputs["ids"][:, tf.newaxis, :], scores=scores,
                            lengths=outputs["lengths"][:, tf.newaxis], log_probs=scores,
                            token_log_probs=outputs["token_log_probs"][:, tf.newaxis, :],
                            valid=tf.ones([batch_size, 1], tf.bool), alignments=outputs["alignments"][:, tf.newaxis])
