"""Speech-to-text encoder–decoders: waveforms in, target tokens out, on the same inference contract.

Registered names and their defaults (every argument of the builders but the
target vocabulary is an override):

| name | front end | encoder | decoder |
|---|---|---|---|
| las | 40 log-mel bins, 25 ms frames every 10 ms, SpecAugment | 4 bidirectional LSTM layers of 256, the last 3 halving time (frames / 8) | LSTM 256, Bahdanau attention fed back into the cell |
| speech_transformer | the same | 2 convolutions 3×3 stride 2 (frames / 4), 4 Transformer blocks, d 144, 4 heads, d_ff 576; a CTC loss on its steps while training (weight 0.3) | 2 Transformer blocks |

The source is a float32 waveform `(batch, samples)` at `sample_rate`, zero
padded on the right; `encode` turns it into log-mel frames and their mask, and
everything after it (`initial_state`, `decode_step`, every search) is the text
models' own. Targets are characters or subwords from the project's tokenizers.
"""

import keras
from keras import ops

from s2s_keras.data.special_ids import SpecialIds
from s2s_keras.layers import (
    CTCAuxiliaryLoss,
    PositionalEmbedding,
    PyramidalRNNEncoder,
    RNNDecoder,
    SpeechFrontEnd,
    SpeechTransformerEncoder,
    TransformerDecoder,
)
from s2s_keras.models.recipe import SPEECH_RECIPE, SPEECH_TRANSFORMER_RECIPE
from s2s_keras.models.registry import REGISTRY, variant_builder
from s2s_keras.models.seq2seq import (
    DECODER,
    ENCODER,
    OUTPUT_PROJECTION,
    SOURCE_EMBEDDING,
    TARGET_EMBEDDING,
    Seq2SeqModel,
)


@keras.saving.register_keras_serializable(package="s2s_keras")
class SpeechSeq2SeqModel(Seq2SeqModel):
    """A `Seq2SeqModel` whose source is a waveform: `{"source": float32 (batch, samples), "target_in"}`.

    Its `source_embedding` layer is a `SpeechFrontEnd` (waveforms to log-mel
    frames and their mask) and its `encoder` returns `(encoder_result,
    mask)`, the mask of its (subsampled) output steps, which the decoder's
    attention and the searches use. Everything else is `Seq2SeqModel`'s.
    """

    source_kind = "audio"

    @property
    def sample_rate(self):
        """Samples per second the model's front end expects."""
        return self.get_layer(SOURCE_EMBEDDING).sample_rate

    def _encoded(self, source, training=False):
        waveforms = ops.convert_to_tensor(source, dtype="float32")  # (batch, samples)
        frames, frame_mask = self.get_layer(SOURCE_EMBEDDING)(waveforms, training=training)
        return self.get_layer(ENCODER)(frames, mask=frame_mask, training=training)  # (result, mask)

    def encode(self, source, training=False):
        """Encodes waveforms into the decoder's memory.

        Args:
            source: float32 `(batch, samples)`, zero-padded on the right.
            training: whether dropout and SpecAugment are active.

        Returns:
            The decoder's memory dict; its `mask` `(batch, steps)` marks the
            encoder's output steps (not the samples).

        Example:
        >>> memory = model.encode(waveforms)  # doctest: +SKIP
        """
        encoder_result, mask = self._encoded(source, training)
        return self.get_layer(DECODER).prepare_memory(encoder_result, mask)

    def attention_weights(self, source, target_in):
        """Teacher-forced attention weights `(batch, tgt_len, encoder steps)` for plotting."""
        encoder_result, mask = self._encoded(source)
        embedded = self.get_layer(TARGET_EMBEDDING)(ops.convert_to_tensor(target_in, dtype="int32"))
        _, weights = self.get_layer(DECODER)(embedded, encoder_result, source_mask=mask, return_attention=True)
        return weights


def assemble_speech_seq2seq(front_end, target_embedding, encoder, decoder, output_projection, name,
                            target_special_ids=None, ctc_weight=0.0):
    """Wires the five named layers into a `SpeechSeq2SeqModel` with the functional API.

    `front_end` (named "source_embedding") maps waveforms to `(frames,
    mask)`; `encoder` maps them to `(encoder_result, mask)`. With
    `ctc_weight` > 0 a `CTCAuxiliaryLoss` (named "ctc") between encoder and
    decoder adds that much of a CTC loss while training.
    """
    for layer, expected in ((front_end, SOURCE_EMBEDDING), (target_embedding, TARGET_EMBEDDING), (encoder, ENCODER),
                            (decoder, DECODER), (output_projection, OUTPUT_PROJECTION)):
        if layer.name != expected:
            raise ValueError(f"The {expected} layer must be named {expected!r}. Received: name={layer.name!r}")
    source = keras.Input(shape=(None,), dtype="float32", name="source")
    target_in = keras.Input(shape=(None,), dtype="int32", name="target_in")
    frames, frame_mask = front_end(source)  # (batch, frames, mel), (batch, frames)
    encoder_result, mask = encoder(frames, mask=frame_mask)
    if ctc_weight:
        special_ids = SpecialIds.from_config(target_special_ids)
        ctc = CTCAuxiliaryLoss(output_projection.units, weight=ctc_weight, pad_id=special_ids.pad, name="ctc")
        encoder_result = ctc(encoder_result, mask, target_in)
    decoded = decoder(target_embedding(target_in), encoder_result, source_mask=mask)  # (batch, tgt_len, units)
    logits = output_projection(decoded)  # (batch, tgt_len, target_vocab)
    return SpeechSeq2SeqModel(inputs={"source": source, "target_in": target_in}, outputs=logits, name=name,
                              target_special_ids=SpecialIds.from_config(target_special_ids))


def _front_end(sample_rate, num_mel_bins, spec_augment, seed):
    masks = dict(freq_masks=2, freq_mask_width=num_mel_bins // 5, time_masks=2, time_mask_width=20,
                 time_mask_ratio=0.1) if spec_augment else {}
    return SpeechFrontEnd(sample_rate=sample_rate, num_mel_bins=num_mel_bins, seed=seed, name=SOURCE_EMBEDDING,
                          **masks)


def build_las(*, target_vocab_size, name="las", sample_rate=8000, num_mel_bins=40, spec_augment=True,
              embedding_dim=64, units=256, num_layers=4, reductions=3, cell="lstm", attention="bahdanau",
              dropout=0.1, seed=None, target_special_ids=None):
    """Builds Listen, Attend and Spell (Chan et al. 2016) as a `SpeechSeq2SeqModel`.

    Args:
        target_vocab_size: target vocabulary size.
        name: the model's name.
        sample_rate: samples per second of the input waveforms.
        num_mel_bins: log-mel features per frame.
        spec_augment: SpecAugment while training (2 frequency bands of up to
            a fifth of the bins, 2 time bands of up to 20 frames or 10 %).
        embedding_dim: target embedding size.
        units: encoder output size (both directions) and decoder size.
        num_layers: encoder layers (the decoder has one).
        reductions: encoder layers that halve the time axis.
        cell: "lstm", "gru" or "rnn", for encoder and decoder.
        attention: "bahdanau" (the context enters the cell, as in LAS) or "luong".
        dropout: between encoder layers and on decoder inputs and outputs.
        seed: SpecAugment's seed.
        target_special_ids: the target tokenizer's `SpecialIds` (default: ids 0-3).

    Returns:
        A `SpeechSeq2SeqModel`.
    """
    encoder = PyramidalRNNEncoder(cell, units, num_layers=num_layers, reductions=reductions, dropout=dropout,
                                  name=ENCODER)
    decoder = RNNDecoder(cell, units, attention=attention, dropout=dropout, name=DECODER)
    target_embedding = keras.layers.Embedding(target_vocab_size, embedding_dim, name=TARGET_EMBEDDING)
    output_projection = keras.layers.Dense(target_vocab_size, dtype="float32", name=OUTPUT_PROJECTION)
    return assemble_speech_seq2seq(_front_end(sample_rate, num_mel_bins, spec_augment, seed), target_embedding,
                                   encoder, decoder, output_projection, name, target_special_ids)


def build_speech_transformer(*, target_vocab_size, name="speech_transformer", sample_rate=8000, num_mel_bins=40,
                             spec_augment=True, d_model=144, num_encoder_layers=4, num_decoder_layers=2,
                             num_heads=4, intermediate_dim=576, filters=64, dropout=0.1, max_length=256,
                             ctc_weight=0.3, seed=None, target_special_ids=None):
    """Builds a speech Transformer (Dong et al. 2018) as a `SpeechSeq2SeqModel`.

    Args:
        target_vocab_size: target vocabulary size.
        name: the model's name.
        sample_rate, num_mel_bins, spec_augment, seed: see `build_las`.
        d_model: size of every block.
        num_encoder_layers, num_decoder_layers: Transformer blocks.
        num_heads: attention heads.
        intermediate_dim: feed-forward hidden size.
        filters: channels of the two subsampling convolutions.
        dropout: on embeddings, sublayer outputs, attention and activations.
        max_length: the decoder's default cache size.
        ctc_weight: the weight of a CTC loss on the encoder's steps added
            while training (`CTCAuxiliaryLoss`; 0 turns it off). It makes the
            attention align: without it the model did not learn FSDD.
        target_special_ids: the target tokenizer's `SpecialIds` (default: ids 0-3).

    Returns:
        A `SpeechSeq2SeqModel`.
    """
    stack_args = dict(num_heads=num_heads, intermediate_dim=intermediate_dim, dropout=dropout,
                      attention_dropout=dropout, activation_dropout=dropout)
    encoder = SpeechTransformerEncoder(d_model, num_encoder_layers, filters=filters, name=ENCODER, **stack_args)
    decoder = TransformerDecoder(num_decoder_layers, max_length=max_length, name=DECODER, **stack_args)
    target_embedding = PositionalEmbedding(target_vocab_size, d_model, mask_zero=False, name=TARGET_EMBEDDING)
    output_projection = keras.layers.Dense(target_vocab_size, dtype="float32", name=OUTPUT_PROJECTION)
    return assemble_speech_seq2seq(_front_end(sample_rate, num_mel_bins, spec_augment, seed), target_embedding,
                                   encoder, decoder, output_projection, name, target_special_ids, ctc_weight)


for _name, _build, _recipe, _doc in (
    ("las", build_las, SPEECH_RECIPE, "Builds 'las': Listen, Attend and Spell (see `build_las` for the overrides)."),
    ("speech_transformer", build_speech_transformer, SPEECH_TRANSFORMER_RECIPE,
     "Builds 'speech_transformer': conv subsampling and Transformer blocks (see `build_speech_transformer`)."),
):
    REGISTRY.register(_name, variant_builder(_build, _name, fixed={"name": _name}, doc=_doc), recipe=_recipe,
                      source="audio")
