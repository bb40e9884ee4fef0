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

    def replace(self, **changes):
        """A copy with `changes` applied (unknown fields raise `TypeError`)."""
        return dataclasses.replace(self, **changes)

    def settings(self):
        """The training settings as a dict (every field but `note`)."""
        values = dataclasses.asdict(self)
        values.pop("note")
        return values


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

