"""Ensembles: several trained models decoding as one, through the same inference contract."""

import tensorflow as tf

from s2s_keras.data.special_ids import model_special_ids
from s2s_keras.models.seq2seq import model_vocab_sizes


class Ensemble:
    """Models that read the same source ids and write the same target vocabulary, decoding as one model.

    It has the inference contract of a registered model (`encode`,
    `initial_state`, `decode_step`, and the special ids), so every search,
    `decode`, the `Translator` and the export work on it unchanged: each
    member's memory and state sit side by side (beam search reorders them all),
    and each step returns the mean of the members' log-probabilities, which
    the searches renormalize. Members may differ in architecture.

    Args:
        models: two or more registered models (one works too: the model
            itself) with the same source and target vocabularies and special ids.

    Raises:
        ValueError: no model, or members whose vocabularies or special ids differ.

    Example:
    >>> ensemble = Ensemble([load_run("runs/a")[0], load_run("runs/b")[0]])  # doctest: +SKIP
    >>> translator = Translator(ensemble, source_tokenizer, target_tokenizer, search=BeamSearch(beam_size=5))  # doctest: +SKIP
    """

    def __init__(self, models):
        self.members = list(models)
        if not self.members:
            raise ValueError("An Ensemble needs at least one model.")
        first = self.members[0]
        for index, model in enumerate(self.members[1:], start=1):
            sizes, first_sizes = model_vocab_sizes(model), model_vocab_sizes(first)
            for what, mine, theirs in (
                ("source vocabulary size", sizes[0], first_sizes[0]),
                ("target vocabulary size", sizes[1], first_sizes[1]),
                ("special ids", model_special_ids(model), model_special_ids(first)),
            ):
                if mine != theirs:
                    raise ValueError(f"Ensemble members must share their vocabularies: model {index} has {what} "
                                     f"{mine}, model 0 has {theirs}.")
        self.source_special_ids, self.target_special_ids = model_special_ids(first)

    @property
    def variables(self):
        """Every member's variables (what an export saves)."""
        return [v for model in self.members for v in model.variables]

    def get_layer(self, name):
        """The first member's layer `name` (the vocabularies are shared)."""
        return self.members[0].get_layer(name)

    def encode(self, source, training=False):
        """`source` ids -> a list with each member's memory."""
        return [model.encode(source, training=training) for model in self.members]

    def initial_state(self, memory, max_length=None, static_shapes=True):
        """A list with each member's state (see `Seq2SeqModel.initial_state`)."""
        return [model.initial_state(m, max_length, static_shapes=static_shapes)
                for model, m in zip(self.members, memory)]

    def decode_step(self, token_ids, state, memory, step=0, return_attention=False):
        """The mean of the members' next-token log-probabilities `(batch, vocab)`, and their states.

        With `return_attention`, also the mean of the members' attention
        weights (None if a member has none).
        """
        log_probs, states, weights = [], [], []
        for model, s, m in zip(self.members, state, memory):
            logits, s, w = model.decode_step(token_ids, s, m, step, return_attention=True)
            log_probs.append(tf.nn.log_softmax(tf.cast(logits, tf.float32), axis=-1))  # (batch, vocab)
            states.append(s)
            weights.append(w)
        mean = tf.add_n(log_probs) / len(log_probs)
        if not return_attention:
            return mean, states
        attention = None
        if all(w is not None for w in weights):
            attention = tf.add_n([tf.cast(w, tf.float32) for w in weights]) / len(weights)
        return mean, states, attention
