"""Evaluation with sacreBLEU (BLEU, chrF, TER), a BLEU callback, and plots."""

from typing import NamedTuple

import keras
import numpy as np
from sacrebleu.metrics import BLEU, CHRF, TER

from s2s_keras.data.tokens import RESERVED_TOKENS
from s2s_keras.plotting import plot_attention_matrix


class EvaluationResult(NamedTuple):
    """Corpus scores with sacreBLEU's signatures (which say exactly how they were computed)."""

    bleu: float
    chrf: float
    ter: float
    signatures: dict
    hypotheses: list

    def summary(self):
        return (f"BLEU {self.bleu:.2f} ({self.signatures['bleu']})\n"
                f"chrF {self.chrf:.2f} ({self.signatures['chrf']})\n"
                f"TER  {self.ter:.2f} ({self.signatures['ter']})")


def reference_streams(references):
    """One reference per source (`list[str]`) or several (`list[list[str]]`) -> sacreBLEU's streams.

    Sources with fewer references than the most get `None` (sacreBLEU's
    variable-reference convention).
    """
    if all(isinstance(r, str) for r in references):
        return [list(references)]
    per_source = [[r] if isinstance(r, str) else list(r) for r in references]
    if any(len(refs) == 0 for refs in per_source):
        raise ValueError("Every source needs at least one reference.")
    width = max(len(refs) for refs in per_source)
    return [[refs[k] if k < len(refs) else None for refs in per_source] for k in range(width)]


def score_corpus(hypotheses, references):
    """BLEU, chrF and TER of `hypotheses` against `references` (see `reference_streams`)."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references.")
    streams = reference_streams(references)
    metrics = {"bleu": BLEU(), "chrf": CHRF(), "ter": TER()}
    scores = {name: metric.corpus_score(list(hypotheses), streams).score for name, metric in metrics.items()}
    signatures = {name: str(metric.get_signature()) for name, metric in metrics.items()}
    return EvaluationResult(scores["bleu"], scores["chrf"], scores["ter"], signatures, list(hypotheses))


def translate_all(translator, sources, batch_size=64, progress=False):
    """Translations of `sources` in batches, with an optional Keras progress bar."""
    bar = keras.utils.Progbar(len(sources), unit_name="sentence") if progress else None
    hypotheses = []
    for start in range(0, len(sources), batch_size):
        hypotheses.extend(translator(list(sources[start : start + batch_size])))
        if bar is not None:
            bar.update(len(hypotheses))
    return hypotheses


def evaluate(translator, sources, references, batch_size=64, progress=False):
    """Translates `sources` and scores them with sacreBLEU.

    Args:
        translator: a `Translator` (or any `list[str] -> list[str]` callable).
        sources: source sentences.
        references: one reference per source, or a list of references per source.
        batch_size: sentences per translation call.
        progress: show a progress bar.

    Returns:
        An `EvaluationResult` (bleu, chrf, ter, signatures, hypotheses).

    Example:
    >>> result = evaluate(translator, ["¿Dónde está?"], [["Where is it?", "Where's it?"]])  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """
    if len(sources) != len(references):
        raise ValueError(f"{len(sources)} sources but {len(references)} references.")
    return score_corpus(translate_all(translator, sources, batch_size, progress), references)


class BleuCallback(keras.callbacks.Callback):
    """Logs corpus BLEU and chrF on a validation subset every `every` epochs (as `val_bleu`, `val_chrf`).

    Keras's progress bar and `History` come after user callbacks, so the scores
    show in the epoch's progress line and in `history.history`. Put it before
    `keras.callbacks.TensorBoard` in the callback list so they reach TensorBoard.

    Args:
        make_translator: `model -> Translator`, e.g.
            `lambda m: Translator(m, src_tok, tgt_tok, search=GreedySearch(max_length=60))`.
        sources, references: the validation subset (see `group_references`).
        every: evaluate every this many epochs (and on the last one).
        name: the key of BLEU in the logs.
        chrf_name: the key of chrF in the logs (None: not logged).
        batch_size: sentences per translation call.

    Example:
    >>> bleu = BleuCallback(lambda m: Translator(m, src, tgt), val_sources, val_refs, every=2)  # doctest: +SKIP
    >>> model.fit(train_ds, epochs=10, callbacks=[bleu])  # doctest: +SKIP
    """

    def __init__(self, make_translator, sources, references, every=1, name="val_bleu", batch_size=64,
                 chrf_name="val_chrf"):
        super().__init__()
        if not isinstance(every, int) or every <= 0:
            raise ValueError(f"`every` must be a positive integer. Received: every={every!r}")
        if len(sources) != len(references) or not sources:
            raise ValueError(f"BleuCallback needs as many references as sources, at least one. "
                             f"Received: {len(sources)} sources, {len(references)} references")
        self.make_translator = make_translator
        self.sources, self.references = list(sources), list(references)
        self.every, self.name, self.chrf_name, self.batch_size = every, name, chrf_name, batch_size
        self._translator = None

    def on_train_begin(self, logs=None):
        self._translator = self.make_translator(self.model)

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") == epoch + 1 if self.params else False
        if (epoch + 1) % self.every and not last and not self.model.stop_training:
            return
        result = evaluate(self._translator, self.sources, self.references, self.batch_size)
        if logs is not None:
            logs[self.name] = result.bleu
            if self.chrf_name:
                logs[self.chrf_name] = result.chrf


def group_references(pairs):
    """`(sources, references)` from `(source, reference)` pairs: each distinct source once, in first-seen
    order, with all its references (sources repeated on several lines are scored multi-reference).

    Example:
    >>> group_references([("hola", "hi"), ("adiós", "bye"), ("hola", "hello")])
    (['hola', 'adiós'], [['hi', 'hello'], ['bye']])
    """
    grouped = {}
    for source, reference in pairs:
        grouped.setdefault(source, []).append(reference)
    return list(grouped), list(grouped.values())


def spread_sample(items, size):
    """At most `size` of `items`, evenly spread over the list (files are often sorted by length)."""
    items = list(items)
    if size >= len(items):
        return items
    return [items[i * len(items) // size] for i in range(size)]


def _token_labels(tokenizer, ids):
    vocabulary = tokenizer.vocabulary
    first = len(RESERVED_TOKENS)
    return [vocabulary[i - first] if first <= i < first + len(vocabulary) else RESERVED_TOKENS[i] if i < first else "?"
            for i in ids]


def plot_attention(translator, sentence, translation=None, head=None, path=None):
    """A heatmap of output × source attention for one sentence.

    Works for RNN attention and Transformer cross-attention; for weights with a
    head axis, `head=None` averages the heads and an integer picks one.

    Args:
        translator: a `Translator`.
        sentence: the source sentence.
        translation: the output to explain (default: the translator's own).
        head: which attention head (Transformer), or None for the average.
        path: save the figure as PNG here.

    Returns:
        The matplotlib `Figure`.
    """
    weights, source_ids, target_ids = translator.attention(sentence, translation)
    if weights.ndim == 3:  # (heads, tgt_len, src_len)
        weights = weights.mean(0) if head is None else weights[head]
    source_labels = _token_labels(translator.source_tokenizer, source_ids)
    target_labels = _token_labels(translator.target_tokenizer, target_ids) + ["[END]"]
    return plot_attention_matrix(weights, source_labels, target_labels, path=path, title=sentence)


def plot_history(history, path=None):
    """Loss (and BLEU, when logged) per epoch from a Keras `History` or its dict."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    logs = history.history if hasattr(history, "history") else dict(history)
    bleu_keys = [k for k in logs if "bleu" in k]
    fig, axes = plt.subplots(1, 2 if bleu_keys else 1, figsize=(10 if bleu_keys else 5, 3.5), squeeze=False)
    for key in (k for k in logs if "loss" in k):
        axes[0, 0].plot(np.arange(1, len(logs[key]) + 1), logs[key], label=key)
    axes[0, 0].set_xlabel("epoch")
    axes[0, 0].legend()
    for key in bleu_keys:
        axes[0, 1].plot(np.arange(1, len(logs[key]) + 1), logs[key], marker="o", label=key)
        axes[0, 1].set_xlabel("epoch")
        axes[0, 1].legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
