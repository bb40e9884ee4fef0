"""Matplotlib figures: attention heatmaps of a translation, and training curves."""

import numpy as np



def plot_attention_matrix(weights, source_tokens, target_tokens, path=None, title=None):
    """Draws target × source attention weights as a heatmap.

    Args:
        weights: `(tgt_len, src_len)` array, rows = produced tokens.
        source_tokens: labels of the source positions (`src_len` strings).
        target_tokens: labels of the target positions (`tgt_len` strings).
        path: where to save the figure as PNG (optional).
        title: the figure's title (optional).

    Returns:
        The matplotlib `Figure`.

    Example:
    >>> fig = plot_attention_matrix(np.eye(3), list("abc"), list("xyz"), path="attention.png")
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    weights = np.asarray(weights)[: len(target_tokens), : len(source_tokens)]
    width = max(4.0, 0.32 * len(source_tokens) + 1.5)
    height = max(3.0, 0.32 * len(target_tokens) + 1.5)
    fig, ax = plt.subplots(figsize=(width, height))
    image = ax.imshow(weights, cmap="viridis", vmin=0.0, aspect="auto")
    ax.set_xticks(range(len(source_tokens)), [repr(t)[1:-1] if t == " " else t for t in source_tokens])
    ax.set_yticks(range(len(target_tokens)), target_tokens)
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.04)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _token_labels(tokenizer, ids):
    """The tokens of `ids` as strings: special ids by name, ids outside the vocabulary as "?"."""
    tokens = tokenizer.tokens
    return [tokens[i] if 0 <= i < len(tokens) else "?" for i in ids]


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

    Example:
    >>> fig = plot_attention(translator, "3 mars 2021", path="attention.png")  # doctest: +SKIP
    """
    weights, source_ids, target_ids = translator.attention(sentence, translation)
    if weights.ndim == 3:  # (heads, tgt_len, src_len)
        weights = weights.mean(0) if head is None else weights[head]
    source_labels = _token_labels(translator.source_tokenizer, source_ids)
    target_labels = _token_labels(translator.target_tokenizer, target_ids) + ["[END]"]
    return plot_attention_matrix(weights, source_labels, target_labels, path=path, title=sentence)


def plot_history(history, path=None):
    """Loss (and BLEU, when logged) per epoch from a Keras `History` or its dict.

    Args:
        history: a `keras.callbacks.History` (what `fit` returns) or a dict of
            per-epoch lists, e.g. `{"loss": [...], "val_loss": [...], "val_bleu": [...]}`.
        path: where to save the figure as PNG (optional).

    Returns:
        The matplotlib `Figure`: the losses, and the BLEU scores beside them when logged.

    Example:
    >>> fig = plot_history({"loss": [2.0, 1.0], "val_loss": [2.1, 1.2]}, path="history.png")
    """
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
