"""Matplotlib figures: attention heatmaps."""

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
