"""Evaluation with sacreBLEU: corpus BLEU, chrF and TER of a translator's output.

The BLEU callback for training is `s2s_keras.training.BleuCallback`; the plots are in
`s2s_keras.plotting`.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import keras
from sacrebleu.metrics import BLEU, CHRF, TER

from s2s_keras.plotting import plot_attention, plot_history  # noqa: F401  (importable from here too)


class EvaluationResult(NamedTuple):
    """Corpus scores with sacreBLEU's signatures (which say exactly how they were computed)."""

    bleu: float
    chrf: float
    ter: float
    signatures: dict
    hypotheses: list
    seconds: float = None  # spent translating (`evaluate`), tracing of first calls included

    def summary(self):
        lines = [f"BLEU {self.bleu:.2f} ({self.signatures['bleu']})",
                 f"chrF {self.chrf:.2f} ({self.signatures['chrf']})",
                 f"TER  {self.ter:.2f} ({self.signatures['ter']})"]
        if self.seconds:
            lines.append(f"{len(self.hypotheses) / self.seconds:.1f} sentences/s "
                         f"({len(self.hypotheses)} in {self.seconds:.1f} s)")
        return "\n".join(lines)


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


def translate_all(translator, sources, batch_size=128, progress=False, sort_by_length=True):
    """Translations of `sources` in batches, in their order, with an optional Keras progress bar.

    With `sort_by_length` (as CTranslate2 does), batches are made of sources
    of similar length, so little of each batch is padding and a batch ends
    when its sentences do; the translations come back in the sources' order.
    Every model gives a source the same translation whatever it is batched
    with (its padding is masked), up to rounding: in bfloat16 a near-tie
    can rarely go the other way (one long sentence in 3,000 in our tests).

    A `Translator` with several search loops (`parallel_loops`, one per core
    on a 2-core machine) gets `batch_size / parallel_loops` sources at a time
    on each of as many threads, each through its one-loop copy
    (`Translator.one_loop_copy`): a loop that ends its batch starts the next
    instead of waiting for the other half of the same batch (about 1.1× the
    sentences/s on 2 cores, docs/tuning.md).

    Args:
        translator: a `Translator`, or any `list[str] -> list[str]` callable.
        sources: the sentences to translate.
        batch_size: sentences decoded at once (split between the search loops).
        progress: show a progress bar.
        sort_by_length: batch sources of similar length together.

    Returns:
        One translation per source, in the sources' order.

    Example:
    >>> translate_all(translator, ["Hola.", "¿Dónde está la biblioteca?"])  # doctest: +SKIP
    ['Hello.', "Where's the library?"]
    """
    worker = translator.one_loop_copy() if hasattr(translator, "one_loop_copy") else translator
    loops = translator.parallel_loops if worker is not translator else 1
    size = max(1, batch_size // loops)  # each search loop gets the sources it got from one split batch
    order = list(range(len(sources)))
    if sort_by_length:
        order.sort(key=lambda i: len(sources[i]))
    chunks = [order[start : start + size] for start in range(0, len(order), size)]
    bar = keras.utils.Progbar(len(sources), unit_name="sentence") if progress else None
    hypotheses, done = [None] * len(sources), 0

    def translate(chunk):
        return worker([sources[i] for i in chunk])

    pool = ThreadPoolExecutor(loops) if loops > 1 else None
    try:  # results in the chunks' order; each thread takes the next chunk when it is free
        for chunk, translations in zip(chunks, pool.map(translate, chunks) if pool else map(translate, chunks)):
            for index, hypothesis in zip(chunk, translations):
                hypotheses[index] = hypothesis
            done += len(chunk)
            if bar is not None:
                bar.update(done)
    finally:
        if pool is not None:  # after an error (or Ctrl-C) the chunks not started are dropped
            pool.shutdown(wait=True, cancel_futures=True)
    return hypotheses


def evaluate(translator, sources, references, batch_size=128, progress=False):
    """Translates `sources` and scores them with sacreBLEU.

    Args:
        translator: a `Translator` (or any `list[str] -> list[str]` callable).
        sources: source sentences.
        references: one reference per source, or a list of references per source.
        batch_size: sentences decoded at once (128: on a 2-core machine, 64 per search loop;
            `translate_all`).
        progress: show a progress bar.

    Returns:
        An `EvaluationResult` (bleu, chrf, ter, signatures, hypotheses, and
        the seconds spent translating).

    Example:
    >>> result = evaluate(translator, ["¿Dónde está?"], [["Where is it?", "Where's it?"]])  # doctest: +SKIP
    >>> print(result.summary())  # doctest: +SKIP
    """
    if len(sources) != len(references):
        raise ValueError(f"{len(sources)} sources but {len(references)} references.")
    started = time.perf_counter()
    hypotheses = translate_all(translator, sources, batch_size, progress)
    seconds = time.perf_counter() - started  # translating only: scoring (TER above all) takes a second more
    return score_corpus(hypotheses, references)._replace(seconds=seconds)


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
