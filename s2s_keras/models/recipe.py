"""Training recipes: the settings that train each registered model well, kept beside its builder.

A recipe is data, like OpenNMT-tf's `auto_config`: `s2s-keras train`, `training.train()`
and the benchmarks read it for every setting the user does not give. What each value gave
on the Tatoeba benchmark is in docs/tuning.md; the figures are in docs/benchmarks.md.
"""

import dataclasses

from s2s_keras.checks import check_choice, check_positive_int

TOKENIZERS = ("wordpiece", "sentencepiece", "char")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
KEEP = ("best", "last")


@dataclasses.dataclass(frozen=True)
class CorpusRule:
    """Recipe changes for a smaller corpus: they apply when training sees at most `max_pairs` pairs.

    A fixed setting fits the corpus it was measured on: a corpus a tenth the
    size is read many more times in the same budget and overfits without
    dropout. `Recipe.for_corpus` picks the rule of the smallest `max_pairs`
    that still covers the corpus.

    Attributes:
        max_pairs: the largest number of training pairs the rule is for.
        changes: `Recipe` fields to change, e.g. `{"vocab_size": 2000}`;
            `"overrides"` merge key by key into the recipe's.
        note: the measurement behind the rule.

    Example:
    >>> rule = CorpusRule(max_pairs=50_000, changes={"overrides": {"dropout": 0.1}})
    >>> Recipe(overrides={"dropout": 0.0}, corpus_rules=(rule,)).for_corpus(29_000)[0].overrides
    {'dropout': 0.1}
    """

    max_pairs: int
    changes: dict
    note: str = ""

    def __post_init__(self):
        check_positive_int("max_pairs", self.max_pairs)
        fields = {f.name for f in dataclasses.fields(Recipe)} - {"note", "corpus_rules"}
        if not isinstance(self.changes, dict) or not self.changes or not set(self.changes) <= fields:
            raise ValueError(f"`changes` must be a non-empty dict of Recipe fields ({', '.join(sorted(fields))}). "
                             f"Received: changes={self.changes!r}")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How to train one model: data preparation, batching, optimisation, precision.

    Attributes:
        tokenizer: "sentencepiece", "wordpiece" or "char".
        vocab_size: largest vocabulary per side.
        tokens_per_batch: padded tokens per batch (source + target).
        max_length: most tokens per side; longer pairs are dropped (and counted).
        bucket_width: length buckets every this many tokens; None: buckets
            spaced 25% apart from 8 tokens.
        learning_rate: Adam's learning rate (the peak one with `warmup_steps`).
        warmup_steps: a linear warm-up over this many steps, then inverse
            square-root decay; None: a constant learning rate.
        label_smoothing: of the masked cross-entropy.
        overrides: model builder overrides, e.g. `{"units": 256}`.
        dtype_policy: "auto" (mixed_bfloat16 where this machine's bfloat16
            matmuls are fast, see `training.precision.auto_dtype_policy`),
            "float32", "mixed_bfloat16" or "mixed_float16".
        keep: "best" (the run's model holds the epoch with the lowest
            validation loss) or "last" (the weights training ended with).
        corpus_rules: `CorpusRule`s: changes for smaller corpora (`for_corpus`).
        note: where the values come from.

    Example:
    >>> from s2s_keras.models import get_recipe
    >>> recipe = get_recipe("transformer_small")
    >>> recipe.tokens_per_batch, recipe.warmup_steps
    (2048, 400)
    >>> bigger = recipe.replace(vocab_size=8000)
    """

    tokenizer: str = "wordpiece"
    vocab_size: int = 8000
    tokens_per_batch: int = 4096
    max_length: int = 100
    bucket_width: int = None
    learning_rate: float = 1e-3
    warmup_steps: int = None
    label_smoothing: float = 0.1
    overrides: dict = dataclasses.field(default_factory=dict)
    dtype_policy: str = "float32"
    keep: str = "last"
    corpus_rules: tuple = ()
    note: str = ""

    def __post_init__(self):
        check_choice("tokenizer", self.tokenizer, TOKENIZERS)
        check_choice("dtype_policy", self.dtype_policy, PRECISIONS)
        check_choice("keep", self.keep, KEEP)
        for key in ("vocab_size", "tokens_per_batch", "max_length"):
            check_positive_int(key, getattr(self, key))
        for key in ("bucket_width", "warmup_steps"):
            check_positive_int(key, getattr(self, key), allow_none=True)
        if not self.learning_rate > 0:
            raise ValueError(f"`learning_rate` must be positive. Received: learning_rate={self.learning_rate!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ValueError(f"`label_smoothing` must be in [0, 1). Received: label_smoothing={self.label_smoothing!r}")
        if not isinstance(self.overrides, dict):
            raise ValueError(f"`overrides` must be a dict. Received: overrides={self.overrides!r}")
        if not all(isinstance(rule, CorpusRule) for rule in self.corpus_rules):
            raise ValueError(f"`corpus_rules` must be CorpusRules. Received: corpus_rules={self.corpus_rules!r}")

    def replace(self, **changes):
        """A copy with `changes` applied (unknown fields raise `TypeError`)."""
        return dataclasses.replace(self, **changes)

    def settings(self):
        """The training settings as a dict (every field but `corpus_rules` and `note`)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values.pop("note")
        values.pop("corpus_rules")
        return {key: dict(value) if isinstance(value, dict) else value for key, value in values.items()}

    def for_corpus(self, pairs):
        """The recipe for a corpus of `pairs` training pairs, and the `CorpusRule` applied (or None).

        The rule of the smallest `max_pairs` at or above `pairs` applies; above
        every rule's `max_pairs`, the recipe is unchanged.
        """
        rules = sorted((r for r in self.corpus_rules if pairs <= r.max_pairs), key=lambda r: r.max_pairs)
        if not rules:
            return self, None
        changes = dict(rules[0].changes)
        if "overrides" in changes:
            changes["overrides"] = {**self.overrides, **changes["overrides"]}
        return self.replace(**changes), rules[0]


# The settings without a recipe (`s2s-keras train --recipe none`): the common starting point of
# the TensorFlow tutorials and peers' quickstarts, measured to train the RNNs poorly in 30 CPU minutes.
PLAIN = Recipe(note="plain settings: no model recipe")

# Both families, from the 30-minute Tatoeba runs on 2 CPU cores: 2,048-token batches (many more
# updates than 4,096 in a short budget), 4,000 SentencePiece pieces per side (BLEU over 8,000:
# transformer_small 37.9 -> 42.3, gru_attention 46.0 -> 47.1, lstm_luong 32.2 -> 38.1), bfloat16
# where it is fast (transformer_small 45.9 -> 51.0), and the best epoch kept.
# Pairs over `max_length` tokens are dropped: 64 for the RNNs (lstm_luong's 30-minute runs: validation loss
# after 2 epochs 2.88 and 3.01 over two seeds, against 3.11 and 3.09 with 100; beam-5 BLEU 51.0 against 42.5);
# 100 for the Transformers, measured there (transformer_small 50.4). Either keeps all but a few Tatoeba pairs.
_SHARED = dict(tokenizer="sentencepiece", vocab_size=4000, tokens_per_batch=2048, label_smoothing=0.1,
               dtype_policy="auto", keep="best")

RNN_RECIPE = Recipe(
    **_SHARED, max_length=64, learning_rate=2e-3, warmup_steps=None, bucket_width=None, overrides={"units": 256},
    note="RNN family, Tatoeba spa-eng, 30 min on 2 CPU cores: gru_attention BLEU 50.3, lstm_luong 51.9 "
         "(beam 5); constant learning rate 2e-3, units 256, buckets 25% apart, pairs up to 64 tokens",
)
TRANSFORMER_RECIPE = Recipe(
    **_SHARED, max_length=100, learning_rate=1e-3, warmup_steps=400, bucket_width=2, overrides={"dropout": 0.0},
    note="Transformer family, Tatoeba spa-eng, 30 min on 2 CPU cores: transformer_small BLEU 51.0 "
         "(beam 5); warm-up to 1e-3, no dropout (a few passes underfit), buckets 2 tokens wide",
)


# Speech models (waveforms in): character targets, batches in tokens of target only are not
# meaningful, so `training.train_speech` batches by seconds of audio (`seconds_per_batch`).
SPEECH_RECIPE = Recipe(
    tokenizer="char", vocab_size=64, tokens_per_batch=4096, max_length=200, learning_rate=1e-3, warmup_steps=None,
    label_smoothing=0.1, dtype_policy="float32", keep="best",
    note="speech models: character targets, Adam 1e-3 constant, float32",
)
# With SpecAugment and dropout 0.1 the speech Transformer did not learn to align in 20 minutes (FSDD: CER 74 %,
# 0.75 teacher-forced accuracy from epoch 5 on); on the tone task (400 utterances, 12 epochs) WER went
# 46.3 -> 36.3 (dropout 0) -> 26.3 (no SpecAugment) -> 1.3 (neither). It aligned on FSDD only once the builder
# added a CTC loss on the encoder (CER 72.5 -> 2.8 % in 20 minutes); with CTC, SpecAugment and dropout 0.1 still
# cost (CER 12.5 %, held-out speaker 47.0 against 34.1 %). docs/tuning.md.
SPEECH_TRANSFORMER_RECIPE = SPEECH_RECIPE.replace(
    warmup_steps=400, overrides={"dropout": 0.0, "spec_augment": False},
    note="speech Transformer: character targets, warm-up to 1e-3 over 400 steps, no dropout, no SpecAugment "
         "(short budgets), float32")
