"""Beam search with GNMT length and coverage penalties and n-best output, in-graph."""

import tensorflow as tf

from s2s_keras.checks import check_positive_int
from s2s_keras.data.special_ids import DEFAULT_SPECIAL_IDS, PAD_ID
from s2s_keras.decoding.finished_rows import beam_rows, keep_static_shapes, run_search_loop, take_rows, write_rows
from s2s_keras.decoding.logits import (NEG_INF, check_stop_ids, ending_ids, force_prefix, is_any_of,
                                       next_token_log_probs, prefix_lengths, top_k_by_blocks)
from s2s_keras.decoding.result import DecodeResult
from s2s_keras.decoding.search import SearchStrategy
from s2s_keras.decoding.source import as_source, attended_mask
from s2s_keras.decoding.token_search import check_max_length, start_state


def length_penalty(lengths, alpha):
    """GNMT length penalty (Wu et al. 2016): lp(Y) = ((5 + |Y|) / 6) ** α."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, alpha)


def coverage_penalty(coverage, source_mask, beta):
    """GNMT coverage penalty: β Σ_i log(min(Σ_t a_{t,i}, 1)) over real source positions.

    Args:
        coverage: `(..., src_len)` attention summed over the produced tokens.
        source_mask: bool `(..., src_len)`, False on padding (which is left out).
        beta: the penalty's weight.
    """
    clipped = tf.minimum(coverage, 1.0)
    logs = tf.math.log(tf.maximum(clipped, 1e-10))
    return beta * tf.reduce_sum(tf.where(source_mask, logs, 0.0), axis=-1)


def beam_candidates(step_log_probs, finished, pad_id):
    """Each beam's `beam` best next tokens, in token order: what a beam step ranks.

    A hypothesis's candidates rank in the order of their next-token
    log-probabilities (they share its log-probability, length and coverage),
    so a source's best `beam` continuations among beam × vocab are among these.
    They are put back in token order so that equal scores rank as over the
    full beam × vocab (lower token first). An ended hypothesis continues only
    with padding, at no cost; its other candidates are blocked.

    Args:
        step_log_probs: float32 `(batch, beam, vocab)`.
        finished: bool `(batch, beam)`.
        pad_id: the padding id.

    Returns:
        `(log_probs, tokens)`, float32 and int32 `(batch, beam, k)`, k = min(beam, vocab).
    """
    beam, vocab = step_log_probs.shape[1], step_log_probs.shape[2]
    k = beam if vocab is None else min(beam, vocab)
    top_log_probs, top_tokens = top_k_by_blocks(step_log_probs, k)  # (batch, beam, k)
    order = tf.argsort(top_tokens, axis=-1, stable=True)
    top_tokens = tf.gather(top_tokens, order, batch_dims=2)
    top_log_probs = tf.gather(top_log_probs, order, batch_dims=2)
    # An ended hypothesis: padding at 0, then the lowest other ids blocked, as top-k over beam × vocab would see them.
    ended_tokens = sorted([pad_id] + [i for i in range(k) if i != pad_id][: k - 1])
    ended_log_probs = [0.0 if i == pad_id else NEG_INF for i in ended_tokens]
    ended = finished[..., tf.newaxis]  # (batch, beam, 1)
    return (tf.where(ended, tf.constant(ended_log_probs, tf.float32), top_log_probs),
            tf.where(ended, tf.constant(ended_tokens, tf.int32), top_tokens))


def tile_beams(tree, beam_size):
    """Repeats every row `beam_size` times: `(batch, ...)` -> `(batch * beam, ...)`, beams adjacent."""
    return tf.nest.map_structure(lambda t: tf.repeat(t, beam_size, axis=0), tree)


def gather_beams(tree, flat_indices):
    """Reorders rows `(batch * beam, ...)` by their beam origin."""
    return tf.nest.map_structure(lambda t: tf.gather(t, flat_indices, axis=0), tree)


class BeamSearch(SearchStrategy):
    """Keeps the `beam_size` best hypotheses per source and returns the n best.

    Works on `batch × beam` rows: memory and state are tiled once; at each step
    the state rows are reordered by beam origin with a gather while the memory,
    which never changes, is left alone. A hypothesis that produced `[END]` stays
    in the beam with its score frozen (its only continuation is padding with
    log-probability 0) and competes with the live ones; the loop stops when
    every beam of every row has ended, or at `max_length`. With
    `early_stopping`, it stops as soon as the `n_best` best-ranked hypotheses
    of every row have ended, without waiting for the weaker live ones.

    Hypotheses are ranked by  s(Y) = log P(Y|X) / lp(Y) + cp(X; Y)  with the
    GNMT length penalty lp(Y) = ((5 + |Y|) / 6)^α (|Y| counts `[END]`) and,
    when `coverage_penalty` β > 0 and the model returns attention weights, the
    coverage penalty cp = β Σ_i log(min(Σ_t a_{t,i}, 1)) over real source
    positions. With α = β = 0 the score is the sum of log-probabilities and
    `BeamSearch(beam_size=1)` is exactly `GreedySearch`.

    Args:
        beam_size: hypotheses kept per source.
        length_penalty: α ≥ 0 (0: none; GNMT used 0.6–0.7).
        coverage_penalty: β ≥ 0 (needs `decode_step(..., return_attention=True)`).
        n_best: hypotheses returned per source (≤ beam_size).
        max_length: most tokens per hypothesis, `[END]` included.
        min_length: fewest tokens per hypothesis, counted as `max_length` is (the
            ending token included): the end id and stop ids are blocked before.
        stop_ids: more ids that end a hypothesis as the end id does.
        alignment_history: also return each hypothesis's attention weights at
            every step (`DecodeResult.alignments`; zeros for a model without
            attention).
        temperature: divides the logits before the log-softmax (> 0; 1: the
            model's distribution; above 1 flattens it, which favours longer
            and more varied hypotheses).
        early_stopping: stop once the `n_best` best-ranked hypotheses of every
            row have ended. Exact when α = β = 0 (a live hypothesis's score
            can only fall, so none can overtake them); with a penalty, one
            could still have (a longer hypothesis divides by a larger lp), so
            this is then the usual heuristic (OpenNMT-py stops the same way).
            Saves the steps the weaker beams would take to end.

    Call arguments:
        encode, initial_state, decode_step: the model's inference functions.
        source_ids: int32 `(batch, src_len)`.
        source_pad_id: the source padding id (left out of the coverage penalty).
        target_special_ids: the target vocabulary's `SpecialIds`; `decode`
            passes the model's.
        static_shapes, prefix_ids: as for `TokenSearch` (a forced prefix
            keeps one live beam until it ends).

    Returns:
        A `DecodeResult`: ids `(batch, n_best, max_length)`, scores
        `(batch, n_best)` (the ranking score above, best first), lengths,
        log_probs (log P(Y|X) without penalties), token_log_probs and valid.
        When fewer than `n_best` distinct hypotheses exist (a tiny vocabulary),
        the missing ones score about -1e9 and are not valid.

    Example:
    >>> search = BeamSearch(beam_size=5, length_penalty=0.6, n_best=3, max_length=50)
    >>> result = decode(model, source_ids, search)  # doctest: +SKIP
    >>> result.ids.shape, result.scores.shape  # (batch, 3, 50), (batch, 3)  # doctest: +SKIP
    >>> fast = BeamSearch(beam_size=4, length_penalty=0.6, early_stopping=True)  # for serving
    """

    rows_decode_alike_anywhere = True  # a batch may shrink or split as the search goes (decode's parallel_loops)

    def __init__(self, beam_size=4, length_penalty=0.0, coverage_penalty=0.0, n_best=1, max_length=50, min_length=0,
                 early_stopping=False, stop_ids=(), temperature=1.0, alignment_history=False):
        check_positive_int("beam_size", beam_size)
        if not isinstance(n_best, int) or not 0 < n_best <= beam_size:
            raise ValueError(f"`n_best` must be an integer in [1, beam_size]. Received: n_best={n_best!r}")
        if float(length_penalty) < 0.0:
            raise ValueError(f"`length_penalty` must be >= 0. Received: length_penalty={length_penalty!r}")
        if float(coverage_penalty) < 0.0:
            raise ValueError(f"`coverage_penalty` must be >= 0. Received: coverage_penalty={coverage_penalty!r}")
        self.max_length = check_max_length(max_length)
        if not isinstance(min_length, int) or not 0 <= min_length <= max_length:
            raise ValueError(f"`min_length` must be an integer in [0, max_length]. Received: min_length={min_length!r}")
        self.beam_size = beam_size
        self.length_penalty = float(length_penalty)
        self.coverage_penalty = float(coverage_penalty)
        self.n_best = n_best
        self.min_length = min_length
        self.early_stopping = bool(early_stopping)
        self.stop_ids = check_stop_ids(stop_ids)
        if not float(temperature) > 0.0:
            raise ValueError(f"`temperature` must be > 0. Received: temperature={temperature!r}")
        self.temperature = float(temperature)
        self.alignment_history = bool(alignment_history)

    def get_config(self):
        return {"beam_size": self.beam_size, "length_penalty": self.length_penalty,
                "coverage_penalty": self.coverage_penalty, "n_best": self.n_best, "max_length": self.max_length,
                "min_length": self.min_length, "early_stopping": self.early_stopping, "stop_ids": self.stop_ids,
                "temperature": self.temperature, "alignment_history": self.alignment_history}

    def _rank(self, log_probs, lengths, coverage, source_mask):
        """The ranking score s(Y) of hypotheses `(batch, beam[, vocab])`."""
        scores = log_probs
        if self.length_penalty > 0.0:
            scores = scores / length_penalty(lengths, self.length_penalty)
        if coverage is not None:
            scores = scores + coverage_penalty(coverage, source_mask, self.coverage_penalty)
        return scores

    def _settled(self, log_probs, lengths, finished, coverage, source_mask):
        """bool `(batch, 1)`: rows whose n best hypotheses can no longer change (exact stopping).

        A row is settled when its `n_best` best-ranked hypotheses have ended
        and no live one can reach the `n_best`-th of them: a live hypothesis's
        log-probability L < 0 only falls, lp grows at most to lp(max_length)
        and the coverage penalty is at most 0, so none of its continuations
        scores above L / lp(max_length). Nothing it can become ranks above the
        ended ones, so they stay in the beam and come out as the full search
        would return them; the row's live beams are frozen.
        """
        ranking = self._rank(log_probs, lengths, coverage, source_mask)  # (batch, beam)
        ended = tf.where(finished, ranking, -float("inf"))
        nth_ended = tf.math.top_k(ended, k=self.n_best).values[:, -1:]  # (batch, 1)
        best_possible = log_probs
        if self.length_penalty > 0.0:
            best_possible = log_probs / length_penalty(self.max_length, self.length_penalty)
        live_bound = tf.reduce_max(tf.where(finished, -float("inf"), best_possible), axis=1, keepdims=True)
        return nth_ended > live_bound

    def __call__(self, encode, initial_state, decode_step, source_ids, *, source_pad_id=PAD_ID,
                 target_special_ids=DEFAULT_SPECIAL_IDS, static_shapes=True, prefix_ids=None):
        special = target_special_ids
        ending = ending_ids(special, self.stop_ids)
        source_ids = as_source(source_ids)
        beam = self.beam_size
        batch_size = tf.shape(source_ids)[0]
        use_coverage = self.coverage_penalty > 0.0
        drop_finished = not static_shapes  # finished sources leave the loop (finished_rows.py)

        memory = tile_beams(encode(source_ids), beam)  # (batch * beam, ...)
        state = start_state(initial_state, memory, self.max_length, static_shapes)
        forced = {}
        if prefix_ids is not None:
            forced_ids = tile_beams(tf.convert_to_tensor(prefix_ids, dtype=tf.int32), beam)  # (batch * beam, width)
            forced = {"ids": forced_ids, "lengths": prefix_lengths(forced_ids, special.pad)}
        source_mask = attended_mask(memory, lambda: tile_beams(source_ids, beam), source_pad_id)
        source_mask = tf.reshape(source_mask, [batch_size, beam, tf.shape(source_mask)[-1]])  # (batch, beam, src_len)
        history_length = self.max_length if self.alignment_history else 0
        history_sources = tf.shape(source_mask)[2] if self.alignment_history else 0
        hypotheses = {  # per source and beam
            "ids": tf.fill([batch_size, beam, self.max_length], special.pad),
            "token_log_probs": tf.zeros([batch_size, beam, self.max_length], tf.float32),
            # Only beam 0 is live at first: the others are copies and would give duplicates.
            "log_probs": tf.tile(tf.concat([[0.0], tf.fill([beam - 1], NEG_INF)], 0)[tf.newaxis], [batch_size, 1]),
            "lengths": tf.zeros([batch_size, beam], tf.int32),
            "coverage": tf.zeros(tf.shape(source_mask), tf.float32),  # (batch, beam, src_len)
            "alignments": tf.zeros([batch_size, beam, history_length, history_sources], tf.float32),
        }
        # What the loop carries: per source, and per row (source × beam). Sources leave both when dropped.
        sources = {"index": tf.range(batch_size), "source_mask": source_mask, "hypotheses": hypotheses,
                   "finished": tf.zeros([batch_size, beam], tf.bool)}
        rows = {"tokens": tf.fill([batch_size * beam], special.start), "state": state, "memory": memory,
                "forced": forced}
        outputs = hypotheses if drop_finished else {}  # the dropped sources' hypotheses, in their batch rows
        positions = tf.range(self.max_length)

        def condition(step, carried, outputs):
            return tf.logical_and(step < self.max_length, tf.logical_not(tf.reduce_all(carried["sources"]["finished"])))

        def body(step, carried, outputs):
            sources, rows = carried["sources"], carried["rows"]
            hypotheses, finished, source_mask = sources["hypotheses"], sources["finished"], sources["source_mask"]
            log_probs, lengths, coverage = hypotheses["log_probs"], hypotheses["lengths"], hypotheses["coverage"]
            memory, forced = rows["memory"], rows["forced"]
            active = tf.shape(finished)[0]  # sources still decoded
            if use_coverage or self.alignment_history:
                logits, state, weights = decode_step(rows["tokens"], rows["state"], memory, step,
                                                     return_attention=True)
                if weights is None and use_coverage:
                    raise ValueError("`coverage_penalty` needs attention weights, and this model returns none "
                                     "(a model without attention: rnn, lstm, gru). Use coverage_penalty=0.")
                weights = (tf.zeros(tf.shape(coverage)) if weights is None  # a model without attention
                           else tf.reshape(tf.cast(weights, tf.float32), tf.shape(coverage)))  # (active, beam, src)
            else:
                logits, state = decode_step(rows["tokens"], rows["state"], memory, step)[:2]
            if self.temperature != 1.0:
                logits = tf.cast(logits, tf.float32) / self.temperature
            vocab = tf.shape(logits)[-1]
            step_log_probs = next_token_log_probs(logits, step, self.min_length - 1, special, self.stop_ids)
            if forced:
                step_log_probs = force_prefix(step_log_probs, step, forced["ids"], forced["lengths"])
            step_log_probs = tf.reshape(step_log_probs, [active, beam, vocab])
            # Within a beam the ranking grows with the next token's log-probability (the beam's log-probability,
            # length and coverage are shared), so the best `beam` of beam × vocab are among each beam's `beam`
            # best tokens: only those are ranked.
            top_log_probs, top_tokens = beam_candidates(step_log_probs, finished, special.pad)  # (active, beam, k)
            candidate_log_probs = log_probs[..., tf.newaxis] + top_log_probs  # (active, beam, k)
            candidate_lengths = (lengths + tf.cast(tf.logical_not(finished), tf.int32))[..., tf.newaxis]
            candidate_coverage = None
            if use_coverage:
                live = tf.cast(tf.logical_not(finished), tf.float32)[..., tf.newaxis]
                candidate_coverage = (coverage + live * weights)[:, :, tf.newaxis, :]  # (active, beam, 1, src_len)
            ranking = self._rank(
                candidate_log_probs, candidate_lengths, candidate_coverage, source_mask[:, :, tf.newaxis, :]
            )
            # Best `beam` candidates per source.
            candidates = tf.shape(top_tokens)[2]
            _, flat_choice = tf.math.top_k(tf.reshape(ranking, [active, beam * candidates]), k=beam)
            origin = flat_choice // candidates  # (active, beam): which beam each survivor extends
            next_tokens = tf.gather(tf.reshape(top_tokens, [active, -1]), flat_choice, batch_dims=1)
            log_probs = tf.gather(tf.reshape(candidate_log_probs, [active, -1]), flat_choice, batch_dims=1)
            was_finished = tf.gather(finished, origin, batch_dims=1)
            lengths = tf.gather(lengths, origin, batch_dims=1) + tf.cast(tf.logical_not(was_finished), tf.int32)
            at_step = tf.equal(positions, step)[tf.newaxis, tf.newaxis, :]  # (1, 1, max_length)
            ids = tf.where(at_step, next_tokens[..., tf.newaxis], tf.gather(hypotheses["ids"], origin, batch_dims=1))
            chosen = tf.gather(tf.reshape(top_log_probs, [active, -1]), flat_choice, batch_dims=1)  # (active, beam)
            token_log_probs = tf.where(at_step, chosen[..., tf.newaxis],
                                       tf.gather(hypotheses["token_log_probs"], origin, batch_dims=1))
            finished = tf.logical_or(was_finished, is_any_of(next_tokens, ending))
            finished = tf.logical_or(finished, log_probs <= NEG_INF / 2)  # dead copies never revive
            if use_coverage:
                coverage = tf.gather(coverage + live * weights, origin, batch_dims=1)
            alignments = hypotheses["alignments"]
            if self.alignment_history:  # the step's weights of the beam each survivor extends, at row `step`
                step_weights = tf.where(was_finished[..., tf.newaxis], 0.0, tf.gather(weights, origin, batch_dims=1))
                alignments = tf.where(at_step[..., tf.newaxis], step_weights[:, :, tf.newaxis],
                                      tf.gather(alignments, origin, batch_dims=1))
            if self.early_stopping:
                # Beams are sorted by rank (top_k): a row whose first n_best have ended is done, and its live
                # beams are frozen too, so that a row decodes the same alone as in any batch.
                row_done = tf.reduce_all(finished[:, : self.n_best], axis=1, keepdims=True)  # (active, 1)
            else:
                row_done = self._settled(log_probs, lengths, finished, coverage if use_coverage else None,
                                         source_mask)
            finished = tf.logical_or(finished, row_done)
            hypotheses = {"ids": ids, "token_log_probs": token_log_probs, "log_probs": log_probs, "lengths": lengths,
                          "coverage": coverage, "alignments": alignments}
            sources = {**sources, "hypotheses": hypotheses, "finished": finished}
            # Each survivor's row of the model state is the row of the beam it extends.
            flat_origin = tf.reshape(origin + (tf.range(active) * beam)[:, tf.newaxis], [active * beam])
            next_tokens = tf.reshape(next_tokens, [active * beam])
            if drop_finished:
                done = tf.reduce_all(finished, axis=1)  # (active,): every beam ended or frozen
                kept = tf.cast(tf.reshape(tf.where(tf.logical_not(done)), [-1]), tf.int32)
                kept_rows = beam_rows(kept, beam)
                flat_origin, next_tokens = tf.gather(flat_origin, kept_rows), tf.gather(next_tokens, kept_rows)
                outputs, sources, memory, forced = tf.cond(  # memory is only copied when a source leaves
                    tf.reduce_any(done),
                    lambda: (write_rows(outputs, done, sources["index"], hypotheses), take_rows(sources, kept),
                             take_rows(memory, kept_rows), take_rows(forced, kept_rows)),
                    lambda: (outputs, sources, memory, forced))
            rows = {"tokens": next_tokens, "state": gather_beams(state, flat_origin), "memory": memory,
                    "forced": forced}
            return step + 1, keep_static_shapes({"sources": sources, "rows": rows}, carried), outputs

        outputs = run_search_loop(condition, body, {"sources": sources, "rows": rows}, outputs, drop_finished,
                                  lambda carried: (carried["sources"]["index"], carried["sources"]["hypotheses"]))
        scores = self._rank(outputs["log_probs"], outputs["lengths"], outputs["coverage"] if use_coverage else None,
                            source_mask)
        scores, order = tf.math.top_k(scores, k=self.n_best)  # best first
        best = {key: tf.gather(value, order, batch_dims=1) for key, value in outputs.items()}
        return DecodeResult(
            ids=best["ids"],
            scores=scores,
            lengths=best["lengths"],
            log_probs=best["log_probs"],
            token_log_probs=best["token_log_probs"],
            valid=best["log_probs"] > NEG_INF / 2,
            alignments=best["alignments"],
        )
