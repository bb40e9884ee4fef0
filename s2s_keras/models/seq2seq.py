"""The encoder–decoder model: a functional Keras model plus the inference contract."""

import keras
import tensorflow as tf
from keras import ops

from s2s_keras.data.special_ids import SpecialIds
from s2s_keras.keras_compat import FirstReplicaSymbolicBuild

# The layer names every registered model uses, so the inference functions find them.
SOURCE_EMBEDDING = "source_embedding"
TARGET_EMBEDDING = "target_embedding"
ENCODER = "encoder"
DECODER = "decoder"
OUTPUT_PROJECTION = "output_projection"


def model_vocab_sizes(model):
    """`(source_vocab_size, target_vocab_size)` read off a registered model's layers."""
    source = model.get_layer(SOURCE_EMBEDDING)
    target = model.get_layer(OUTPUT_PROJECTION)
    source_size = getattr(source, "input_dim", None) or getattr(source, "vocab_size", None)
    target_size = getattr(target, "units", None) or getattr(target, "vocab_size", None)
    return source_size, target_size


@keras.saving.register_keras_serializable(package="s2s_keras")
class Seq2SeqModel(FirstReplicaSymbolicBuild, keras.Model):
    """A functional encoder–decoder that also exposes incremental decoding.

    Built with the functional API (see `assemble_seq2seq`):
    `{"source": (batch, src_len), "target_in": (batch, tgt_len)} -> logits
    (batch, tgt_len, target_vocab)`. Its inference functions reuse the same
    layers: `encode(source) -> memory`, `initial_state(memory, max_length) ->
    state` and `decode_step(token_ids, state, memory, step) -> (logits, state)`.
    It saves and loads as any functional model (`model.save("m.keras")`).

    `source_special_ids` and `target_special_ids` (`SpecialIds`) are the
    tokenizers' special ids the model was built for: the source padding id
    it masks, and the target start, end and padding ids the searches use.
    They are saved with the model; a model saved without them has the
    default ids 0-3.
    """

    def __init__(self, *args, source_special_ids=None, target_special_ids=None, **kwargs):
        super().__init__(*args, **kwargs)
        object.__setattr__(self, "_train_batch_transform", None)  # not tracked: no weight, not saved
        object.__setattr__(self, "source_special_ids", SpecialIds.from_config(source_special_ids))
        object.__setattr__(self, "target_special_ids", SpecialIds.from_config(target_special_ids))

    def get_config(self):
        config = super().get_config()
        config["special_ids"] = {"source": self.source_special_ids.to_config(),
                                 "target": self.target_special_ids.to_config()}
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        special_ids = config.pop("special_ids", None) or {}  # absent in models saved before they were recorded
        model = super().from_config(config, custom_objects=custom_objects)
        object.__setattr__(model, "source_special_ids", SpecialIds.from_config(special_ids.get("source")))
        object.__setattr__(model, "target_special_ids", SpecialIds.from_config(special_ids.get("target")))
        return model

    def set_train_batch_transform(self, transform):
        """Applies `transform(model, batch) -> batch` to every training batch inside the training step.

        Training installs it (the `ScheduledSampling` callback mixes the model's
        own predictions into `target_in`); None turns it off. The model itself
        knows nothing of what the transform does.
        """
        object.__setattr__(self, "_train_batch_transform", transform)
        self.train_function = None  # retrace the training step with (or without) it

    def train_step(self, data):
        if self._train_batch_transform is not None:
            data = self._train_batch_transform(self, data)
        return _rank_one_logs_for_multi_worker(super().train_step(data))

    def test_step(self, data):
        return _rank_one_logs_for_multi_worker(super().test_step(data))

    def _embed_target(self, token_ids, step):
        embedding = self.get_layer(TARGET_EMBEDDING)
        if hasattr(embedding, "embed_step"):
            return embedding.embed_step(token_ids, step)
        return embedding(token_ids)

    def encode(self, source, training=False):
        """Encodes source ids into the decoder's memory, computed once per sentence.

        Args:
            source: int32 `(batch, src_len)` ids, `source_special_ids.pad` on padding.
            training: whether dropout is active.

        Returns:
            A dict of tensors, batch first (the encoder outputs or, for a
            Transformer, each block's cross-attention keys and values, and the
            source mask), that a search tiles per beam and passes to every
            `decode_step`.

        Example:
        >>> memory = model.encode(source_ids)  # doctest: +SKIP
        >>> state = model.initial_state(memory, max_length=50)  # doctest: +SKIP
        >>> start = tf.fill([batch], model.target_special_ids.start)  # doctest: +SKIP
        >>> logits, state = model.decode_step(start, state, memory, step=0)  # doctest: +SKIP
        """
        source = ops.convert_to_tensor(source, dtype="int32")
        source_mask = ops.not_equal(source, self.source_special_ids.pad)  # (batch, src_len)
        embedded = self.get_layer(SOURCE_EMBEDDING)(source)
        encoder_result = self.get_layer(ENCODER)(embedded, mask=source_mask, training=training)
        return self.get_layer(DECODER).prepare_memory(encoder_result, source_mask)

    def initial_state(self, memory, max_length=None, static_shapes=True):
        """The decoder state before the first step.

        Args:
            memory: what `encode` returned.
            max_length: steps the search may take (sizes a Transformer's
                self-attention caches; RNNs ignore it).

        Returns:
            A nested structure of fixed-shape tensors, batch first: the RNN
            states (and attention context with input feeding), or a
            Transformer's key/value caches `(batch, heads, max_length, key_dim)`
            per block. Beam search reorders every tensor along the batch axis.

        Example: see `encode`.
        """
        return self.get_layer(DECODER).initial_state(memory, max_length, static_shapes=static_shapes)

    def generate(self, source_ids, search=None, static_shapes=True):
        """Decodes source ids with a search strategy (default: greedy, at most 100 tokens).

        The same as `decoding.decode(model, source_ids, search)`; on strings,
        use a `Translator`, which adds the tokenizers.

        Args:
            source_ids: int32 `(batch, src_len)`, padded with the source padding id.
            search: a search strategy, e.g. `BeamSearch(beam_size=5)`.
            static_shapes: keep every loop tensor's shape fixed (needed under
                XLA); False lets a Transformer's caches grow and finished
                sources leave the loop, which is faster (the same result).

        Returns:
            A `DecodeResult` (ids `(batch, n_best, max_length)`, scores, lengths, ...).

        Example:
        >>> result = model.generate(source_ids, BeamSearch(beam_size=5, length_penalty=0.6))  # doctest: +SKIP
        >>> result.ids[:, 0]  # the best hypothesis of each source  # doctest: +SKIP
        """
        from s2s_keras.decoding import GreedySearch, decode

        return decode(self, source_ids, GreedySearch(max_length=100) if search is None else search,
                      static_shapes=static_shapes)

    def decode_step(self, token_ids, state, memory, step=0, return_attention=False):
        """Logits `(batch, target_vocab)` for the next token after `token_ids` `(batch,)`.

        Returns `(logits, state)`, or `(logits, state, weights)` with
        `return_attention` (weights `(batch, src_len)`, None without attention).
        """
        token_ids = ops.convert_to_tensor(token_ids, dtype="int32")
        embedded = self._embed_target(token_ids, step)  # (batch, features)
        output, state, weights = self.get_layer(DECODER).step(embedded, state, memory, step=step, training=False)
        logits = self.get_layer(OUTPUT_PROJECTION)(output)  # (batch, target_vocab)
        if return_attention:
            return logits, state, weights
        return logits, state

    def attention_weights(self, source, target_in):
        """Teacher-forced attention weights `(batch, tgt_len, src_len)` for plotting."""
        source = ops.convert_to_tensor(source, dtype="int32")
        source_mask = ops.not_equal(source, self.source_special_ids.pad)  # (batch, src_len)
        encoder_result = self.get_layer(ENCODER)(self.get_layer(SOURCE_EMBEDDING)(source), mask=source_mask)
        embedded = self.get_layer(TARGET_EMBEDDING)(ops.convert_to_tensor(target_in, dtype="int32"))
        _, weights = self.get_layer(DECODER)(embedded, encoder_result, source_mask=source_mask, return_attention=True)
        return weights


def _rank_one_logs_for_multi_worker(logs):
    """Under MultiWorkerMirroredStrategy, logs as shape (1,) tensors, for Keras to average them.

    Keras 3 averages each log over the workers with `strategy.reduce("MEAN", value, axis=0)`,
    which fails on the scalars that metrics return (tensorflow/tensorflow#72388); a leading
    axis of 1 makes the same reduction give the scalar mean.
    """
    if not isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return logs
    return {name: tf.reshape(value, [1]) if tf.is_tensor(value) and value.shape.rank == 0 else value
            for name, value in logs.items()}


def assemble_seq2seq(source_embedding, target_embedding, encoder, decoder, output_projection, name,
                     source_special_ids=None, target_special_ids=None):
    """Wires the five named layers into a `Seq2SeqModel` with the functional API.

    `source_special_ids` / `target_special_ids`: the tokenizers' `SpecialIds`
    (default: ids 0-3); the source padding id is masked.
    """
    source_special_ids = SpecialIds.from_config(source_special_ids)
    for layer, expected in (
        (source_embedding, SOURCE_EMBEDDING),
        (target_embedding, TARGET_EMBEDDING),
        (encoder, ENCODER),
        (decoder, DECODER),
        (output_projection, OUTPUT_PROJECTION),
    ):
        if layer.name != expected:
            raise ValueError(f"The {expected} layer must be named {expected!r}. Received: name={layer.name!r}")
    source = keras.Input(shape=(None,), dtype="int32", name="source")
    target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")
    source_mask = ops.not_equal(source, source_special_ids.pad)  # (batch, src_len)
    encoder_result = encoder(source_embedding(source), mask=source_mask)
    decoded = decoder(target_embedding(target_in), encoder_result, source_mask=source_mask)  # (batch, tgt_len, units)
    logits = output_projection(decoded)  # (batch, tgt_len, target_vocab)
    return Seq2SeqModel(inputs={"source": source, "target_in": target_in}, outputs=logits, name=name,
                        source_special_ids=source_special_ids, target_special_ids=target_special_ids)
